"""One-time links an admin gives a user to set a new password (like the setup link).

The admin never sees or chooses the password: the link opens a form where the user sets
it. Each link is a 256-bit token; only its SHA-256 is stored, with its expiry, one live
link per user (a new one replaces the old). Using it deletes it in the same transaction
that stores the new password, so two tabs cannot both use it. A wrong, used, expired or
replaced token, and one of a disabled or deleted user, are alike (disabling, enabling,
a role change and any password change end the user's links: users.py): `user_for` answers
None and the view answers the plain 404 of any unknown page.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3

from .db import transaction
from .users import write_password_hash

LIFETIME_HOURS = 72
LIFETIME = LIFETIME_HOURS * 3600  # seconds
TOKEN_BYTES = 32
PATH = "/password-link/"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(conn: sqlite3.Connection, user_id: int, now: int) -> str:
    """A new token for the user (any earlier one stops working)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction(conn):
        conn.execute(
            "DELETE FROM password_links WHERE user_id = ? OR expires_at <= ?", (user_id, now)
        )
        conn.execute(
            "INSERT INTO password_links (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
            (_digest(token), user_id, now + LIFETIME),
        )
    return token


_LIVE = (
    "SELECT l.user_id FROM password_links l JOIN users u ON u.id = l.user_id"
    " WHERE l.token_hash = ? AND l.expires_at > ? AND u.disabled = 0"
)


def user_for(conn: sqlite3.Connection, token: str, now: int) -> int | None:
    """The id of the user a live token belongs to, or None."""
    row = conn.execute(_LIVE, (_digest(token), now)).fetchone()
    return int(row[0]) if row else None


def use(conn: sqlite3.Connection, token: str, password_hash: str, now: int) -> int | None:
    """Store the new password of the token's user, end the user's sessions and delete the
    token (users.write_password_hash), in one transaction; the user's id, or None when
    the token is not live (then nothing changed)."""
    with transaction(conn):
        row = conn.execute(_LIVE, (_digest(token), now)).fetchone()
        if row is None:
            return None
        user_id = int(row[0])
        write_password_hash(conn, user_id, password_hash, now)
    return user_id

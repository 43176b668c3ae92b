"""Second factors as a whole: who has which, the policy that requires one, logins half
done, removal (blogctl's recovery path), and the security log.

A login with a password is *pending* until the second factor is given: the browser
holds a random token in a `__Host-` cookie, the server its SHA-256 with the user and
where to go next, in memory for PENDING_LIFETIME seconds. No session exists until the
second step succeeds, so a pending login reaches nothing a login protects.

The policy (an admin setting, stored in site_settings) says whose accounts need a
second factor: nobody's, admins', or everyone's. A user it covers who has none can log
in, but every page behind login_required sends them to enrol first (auth.py).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from . import passkeys, recovery_codes, tokens, totp, users
from .db import transaction
from .throttle import Attempt

security_log = logging.getLogger("blog.security")

Policy = Literal["optional", "admins", "everyone"]
POLICIES: tuple[Policy, ...] = ("optional", "admins", "everyone")
POLICY_KEY = "second_factor_policy"
PENDING_COOKIE = "__Host-blog_pending_login"
PENDING_LIFETIME = 300.0  # seconds to give the second factor after the password
MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class Factors:
    """Which second factors a user has switched on."""

    totp: bool
    passkeys: int
    recovery_codes: int

    @property
    def any(self) -> bool:
        return self.totp or self.passkeys > 0


def factors_of(conn: sqlite3.Connection, user_id: int) -> Factors:
    """The user's confirmed second factors (an unconfirmed TOTP secret does not count)."""
    state = totp.state_of(conn, user_id)
    return Factors(
        totp=state is not None and state.confirmed,
        passkeys=len(passkeys.list_for(conn, user_id)),
        recovery_codes=recovery_codes.remaining(conn, user_id),
    )


def policy(conn: sqlite3.Connection) -> Policy:
    """The policy in force ("optional" until an admin sets another)."""
    row = conn.execute("SELECT value FROM site_settings WHERE key = ?", (POLICY_KEY,)).fetchone()
    value = row[0] if row else "optional"
    return next((p for p in POLICIES if p == value), "optional")


def set_policy(conn: sqlite3.Connection, value: str) -> Policy:
    """Store the policy; ValueError for a value not in POLICIES."""
    chosen = next((p for p in POLICIES if p == value), None)
    if chosen is None:
        raise ValueError(f"the second-factor policy must be one of {', '.join(POLICIES)}")
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO site_settings (key, value) VALUES (?, ?)", (POLICY_KEY, chosen)
        )
    return chosen


def required_for(conn: sqlite3.Connection, is_admin: bool) -> bool:
    """Whether the policy requires a second factor of a user with this role."""
    current = policy(conn)
    return current == "everyone" or (current == "admins" and is_admin)


def must_enrol(conn: sqlite3.Connection, user_id: int, is_admin: bool) -> bool:
    """Whether the policy covers this user and they have no second factor yet."""
    return required_for(conn, is_admin) and not factors_of(conn, user_id).any


def remove_all(conn: sqlite3.Connection, user_id: int) -> Factors:
    """Remove every second factor of the user (TOTP, passkeys, recovery codes) and end
    their sessions; what they had. The recovery path for a lost device."""
    had = factors_of(conn, user_id)
    totp.remove(conn, user_id)
    passkeys.remove_all(conn, user_id)
    recovery_codes.remove(conn, user_id)
    with transaction(conn):
        conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
    return had


@dataclass(slots=True)
class PendingLogin:
    """A login whose password was right, waiting for its second factor."""

    user_id: int
    name: str
    next_url: str
    expires_at: float
    # An editor's text carried through the login (rescue.py), kept until it succeeds.
    pending_text: dict[str, str] | None = field(default=None)
    # The password's throttle charge, given back only when the login completes.
    password_attempt: Attempt | None = field(default=None)
    # The password hash the login began with: a changed password (here or by blogctl
    # in another process) ends the login (still_valid).
    password_hash: str = ""


class PendingLogins:
    """Logins between password and second factor, in memory. `clock`: monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._live: OrderedDict[str, PendingLogin] = OrderedDict()

    def begin(
        self,
        user_id: int,
        name: str,
        next_url: str,
        pending_text: dict[str, str] | None,
        password_attempt: Attempt | None = None,
        password_hash: str = "",
    ) -> str:
        """A new pending login; the token for the browser's cookie. `password_hash` is
        the user's stored hash at the time (users.password_hash_of)."""
        while len(self._live) >= MAX_PENDING:
            self._live.popitem(last=False)
        token = tokens.new()
        expires = self.clock() + PENDING_LIFETIME
        self._live[str(tokens.digest(token))] = PendingLogin(
            user_id, name, next_url, expires, pending_text, password_attempt, password_hash
        )
        return token

    def get(self, token: str) -> PendingLogin | None:
        """The live pending login of this cookie value, or None."""
        key = tokens.digest(token)
        if key is None:
            return None
        entry = self._live.get(key)
        if entry is not None and self.clock() >= entry.expires_at:
            del self._live[key]
            return None
        return entry

    def finish(self, token: str) -> None:
        """The second factor was given (or the login abandoned): the token stops working."""
        key = tokens.digest(token)
        if key is not None:
            self._live.pop(key, None)

    def end_for(self, user_id: int) -> int:
        """End every pending login of the user (their password or factors changed); how
        many there were."""
        ended = [key for key, entry in self._live.items() if entry.user_id == user_id]
        for key in ended:
            del self._live[key]
        return len(ended)


def still_valid(conn: sqlite3.Connection, entry: PendingLogin) -> bool:
    """Whether the password a pending login began with is still the user's."""
    return users.password_hash_of(conn, entry.user_id) == entry.password_hash


def end_other_logins(
    conn: sqlite3.Connection, pending: PendingLogins, user_id: int, keep: str | None
) -> int:
    """After a change of the password or of second factors: end every session of the
    user but the one whose id hash is `keep`, and every pending login, so a stolen
    cookie or a half-done login from before the change stops working. Returns how many
    sessions ended."""
    pending.end_for(user_id)
    with transaction(conn):
        cursor = conn.execute(
            "DELETE FROM sessions WHERE user_id = ? AND id_hash IS NOT ?", (user_id, keep)
        )
    return cursor.rowcount


def log_event(event: str, user: str, client: object, **details: object) -> None:
    """One line in the blog's log for a login, enrolment or removal: the event, the
    account, the client address (the forwarded one, forwarded.py) and details.

    A value with a space, a quote or a character that is not printable (a typed user
    name may hold a newline) is written as a JSON string, so one event stays one line
    that no one can forge another into."""
    extra = "".join(f" {key}={_field(value)}" for key, value in details.items())
    security_log.info("%s user=%s client=%s%s", event, _field(user), _field(client or "-"), extra)


def _field(value: object) -> str:
    text = str(value)
    if text and text.isprintable() and not any(c in text for c in ' "='):
        return text
    return json.dumps(text)

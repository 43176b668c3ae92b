"""Server-side sessions (OWASP ASVS 3): random ids, idle and absolute timeouts.

The cookie carries 256 random bits; the database keeps only their SHA-256, so a
copy of the database cannot be replayed as a login. Logout deletes the row.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from aiohttp import web

from . import tokens
from .db import transaction

# __Host-: only set by this exact origin over HTTPS, Path=/, no Domain (ASVS 3.4.4).
COOKIE_NAME = "__Host-blog_session"


@dataclass(frozen=True, slots=True)
class Session:
    id_hash: str
    user_id: int
    csrf_token: str
    created_at: int
    last_seen: int


def create_session(conn: sqlite3.Connection, user_id: int, now: int) -> tuple[str, Session]:
    """A brand-new session: called at every login, so ids never survive a privilege change."""
    raw_id = tokens.new()
    id_hash = tokens.digest(raw_id)
    assert id_hash is not None  # a new token is well formed
    session = Session(id_hash, user_id, tokens.new(), now, now)
    with transaction(conn):
        conn.execute(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen)"
            " VALUES (?, ?, ?, ?, ?)",
            (session.id_hash, user_id, session.csrf_token, now, now),
        )
    return raw_id, session


def load_session(
    conn: sqlite3.Connection, raw_id: str, now: int, idle: int, absolute: int
) -> Session | None:
    """The live session for this cookie value (None for any value that is no token of
    ours, tokens.py); expired ones are deleted on sight."""
    id_hash = tokens.digest(raw_id)
    if id_hash is None:
        return None
    row = conn.execute(
        "SELECT s.* FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id_hash = ? AND u.disabled = 0",
        (id_hash,),
    ).fetchone()
    if row is None:
        return None
    session = Session(**{k: row[k] for k in Session.__slots__})
    if now - session.last_seen > idle or now - session.created_at > absolute:
        delete_session(conn, session.id_hash)
        return None
    if now - session.last_seen >= touch_interval(idle):
        with transaction(conn):
            conn.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, row[0]))
    return session


def touch_interval(idle: int) -> int:
    """Seconds between writes of a session's last_seen: at most once a minute (a write per
    page view would be wasted fsyncs), and often enough that a session in use never
    reaches a short idle timeout (a quarter of it)."""
    return max(1, min(60, idle // 4))


def revoke_cookie(conn: sqlite3.Connection, raw_id: str) -> bool:
    """End the session this cookie value names, if any (it was seen in clear); True if one
    ended."""
    id_hash = tokens.digest(raw_id)
    if id_hash is None:
        return False
    with transaction(conn):
        return conn.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,)).rowcount > 0


def delete_session(conn: sqlite3.Connection, id_hash: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))


def purge_expired(conn: sqlite3.Connection, now: int, idle: int, absolute: int) -> int:
    with transaction(conn):
        cursor = conn.execute(
            "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
            (now - idle, now - absolute),
        )
    return cursor.rowcount


def set_cookie(response: web.StreamResponse, raw_id: str) -> None:
    response.set_cookie(COOKIE_NAME, raw_id, path="/", secure=True, httponly=True, samesite="Lax")


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="Lax")

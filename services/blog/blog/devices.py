"""Known browsers: a signed cookie given at a successful login, so the owner keeps access.

OWASP's "Slow Down Online Guessing Attacks with Device Cookies": a browser that
logged in to an account before sends `__Host-blog_device`, an HMAC-SHA-256-signed
`ACCOUNT:EXPIRES:ID`. Its login attempts for that account are throttled by their own
budget (throttle.py) instead of the account's and the address's, which an attacker
may have used up. The cookie grants nothing else: the password is still checked.

The signing key is 256 random bits kept in the database (table site_keys), so known
browsers stay known across restarts; deleting the row forgets every browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3

from aiohttp import web

from .db import transaction

COOKIE_NAME = "__Host-blog_device"
LIFETIME = 180 * 24 * 3600  # seconds; a login renews it
KEY_NAME = "known_browser"


def load_key(conn: sqlite3.Connection) -> bytes:
    """The signing key, made on first use (INSERT OR IGNORE: two starts agree on one)."""
    with transaction(conn):
        conn.execute(
            "INSERT OR IGNORE INTO site_keys (name, value) VALUES (?, ?)",
            (KEY_NAME, secrets.token_bytes(32)),
        )
    row = conn.execute("SELECT value FROM site_keys WHERE name = ?", (KEY_NAME,)).fetchone()
    return bytes(row[0])


def _mac(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def issue(key: bytes, account: str, now: int) -> str:
    """A new cookie value for `account`, valid LIFETIME seconds from `now` (Unix time)."""
    payload = f"{account.lower()}:{now + LIFETIME}:{secrets.token_urlsafe(16)}"
    return f"{payload}:{_mac(key, payload)}"


def verify(key: bytes, value: str, account: str, now: int) -> str | None:
    """The browser's id when `value` is a valid, unexpired cookie for `account`; else None."""
    if not value.isascii():
        return None  # no cookie of ours (and bytes that are not UTF-8 cannot be hashed)
    payload, _, mac = value.rpartition(":")
    parts = payload.split(":")
    if len(parts) != 3 or not hmac.compare_digest(_mac(key, payload), mac):
        return None
    name, expires, browser_id = parts
    if name != account.lower() or not expires.isdigit() or int(expires) < now:
        return None
    return browser_id


def set_cookie(response: web.StreamResponse, value: str) -> None:
    response.set_cookie(
        COOKIE_NAME, value, path="/", max_age=LIFETIME, secure=True, httponly=True, samesite="Lax"
    )

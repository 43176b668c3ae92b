"""One-time codes (TOTP, RFC 6238): enrolment, the QR code, and codes accepted once.

pyotp computes the codes (HOTP of RFC 4226 over 30-second steps); it does not stop a
code from being used twice, so this module does: the step of the last accepted code
is stored, and only a code of a later step passes. A code is accepted for its own
step and one step either side (clock drift, RFC 6238 section 5.2), so a replayed
code stays refused through that whole 90-second window and after.

The secret is kept in the database as base32 text: the server must be able to compute
codes, so it cannot be hashed. A copy of the database is a copy of the secrets (as it
is of everything else the blog holds); backups are to be kept accordingly.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyotp
import segno

from .db import transaction

DIGITS = 6
PERIOD = 30  # seconds per step
DRIFT_STEPS = 1  # steps accepted either side of the current one
CODE_CHARACTERS = frozenset("0123456789")

Digest = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class TotpState:
    """A user's TOTP secret (base32) and whether a code from it was confirmed."""

    secret: str
    confirmed: bool


def new_secret() -> str:
    """A fresh 160-bit secret as base32 (RFC 4226 section 4 asks for at least 128 bits)."""
    return pyotp.random_base32(32)


def code_at(secret: str, now: float, digits: int = DIGITS, digest: Digest = hashlib.sha1) -> str:
    """The code of the step that `now` (Unix seconds) falls in."""
    return pyotp.TOTP(secret, digits=digits, digest=digest, interval=PERIOD).at(int(now))


def matching_step(
    secret: str, code: str, now: float, digits: int = DIGITS, digest: Digest = hashlib.sha1
) -> int | None:
    """The time step (Unix seconds // PERIOD) whose code `code` is, within DRIFT_STEPS of
    now's; None when it matches none or is not `digits` digits."""
    code = normalize(code)
    if len(code) != digits or not set(code) <= CODE_CHARACTERS:
        return None
    totp = pyotp.TOTP(secret, digits=digits, digest=digest, interval=PERIOD)
    current = int(now) // PERIOD
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def normalize(code: str) -> str:
    """A typed code without the spaces and dashes people and apps put in it."""
    return code.replace(" ", "").replace("-", "").strip()


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// URI authenticator apps read from the QR code (Google's Key Uri Format)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an inline <svg> element (no JavaScript, no image request)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff", border=2)


def state_of(conn: sqlite3.Connection, user_id: int) -> TotpState | None:
    """The user's TOTP secret, confirmed or still being enrolled; None when there is none."""
    row = conn.execute(
        "SELECT secret, confirmed FROM totp_secrets WHERE user_id = ?", (user_id,)
    ).fetchone()
    return TotpState(row["secret"], bool(row["confirmed"])) if row else None


def begin_enrolment(conn: sqlite3.Connection, user_id: int, now: int) -> str:
    """A new unconfirmed secret for the user, replacing an unconfirmed one; an already
    confirmed secret is kept (remove it first). Returns the secret in use."""
    with transaction(conn):
        conn.execute(
            "INSERT INTO totp_secrets (user_id, secret, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret,"
            " created_at = excluded.created_at, last_step = -1 WHERE confirmed = 0",
            (user_id, new_secret(), now),
        )
    state = state_of(conn, user_id)
    assert state is not None
    return state.secret


def use_code(
    conn: sqlite3.Connection, user_id: int, code: str, now: float, *, confirming: bool = False
) -> bool:
    """Whether `code` is a valid, unused code of the user's secret at `now` (Unix seconds).

    An accepted code's step is stored in the same statement that checks it is later than
    the last one, so neither a replay nor two concurrent uses of one code can pass.
    With `confirming`, the code of an unconfirmed secret is checked and confirms it;
    otherwise only a confirmed secret counts.
    """
    state = state_of(conn, user_id)
    if state is None or state.confirmed == confirming:
        return False
    step = matching_step(state.secret, code, now)
    if step is None:
        return False
    with transaction(conn):
        cursor = conn.execute(
            "UPDATE totp_secrets SET last_step = ?, confirmed = 1"
            " WHERE user_id = ? AND secret = ? AND last_step < ?",
            (step, user_id, state.secret, step),
        )
    return cursor.rowcount == 1


def remove(conn: sqlite3.Connection, user_id: int) -> bool:
    """Forget the user's TOTP secret; whether there was one."""
    with transaction(conn):
        cursor = conn.execute("DELETE FROM totp_secrets WHERE user_id = ?", (user_id,))
    return cursor.rowcount > 0

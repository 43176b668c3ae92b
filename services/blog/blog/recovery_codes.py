"""Recovery codes: ten single-use codes that stand in for a lost second factor.

Each code is 80 random bits written as four groups of four base32 characters
(`abcd-efgh-ijkl-mnop`). The database keeps only their SHA-256: a code has as much
entropy as a key, so a slow password hash would add nothing (the login throttle
bounds online guessing). A code is spent by the statement that checks it is unspent.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import sqlite3

from .db import transaction

COUNT = 10
CODE_BYTES = 10  # 80 bits: 16 base32 characters
GROUP = 4


def _digest(code: str) -> str:
    return hashlib.sha256(normalize(code).encode()).hexdigest()


def normalize(code: str) -> str:
    """The code as stored: lower case, without the dashes and spaces around its groups."""
    return "".join(code.split()).replace("-", "").lower()


def _new_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode().lower()
    return "-".join(raw[i : i + GROUP] for i in range(0, len(raw), GROUP))


def issue(conn: sqlite3.Connection, user_id: int) -> list[str]:
    """COUNT new codes for the user, replacing every earlier one; shown once, never stored."""
    codes = [_new_code() for _ in range(COUNT)]
    with transaction(conn):
        conn.execute("DELETE FROM recovery_codes WHERE user_id = ?", (user_id,))
        conn.executemany(
            "INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)",
            [(user_id, _digest(code)) for code in codes],
        )
    return codes


def use(conn: sqlite3.Connection, user_id: int, code: str, now: int) -> bool:
    """Spend the code if it is one of the user's unspent ones; whether it was."""
    if not 0 < len(code) <= 64:
        return False
    with transaction(conn):
        cursor = conn.execute(
            "UPDATE recovery_codes SET used_at = ?"
            " WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
            (now, user_id, _digest(code)),
        )
    return cursor.rowcount == 1


def remaining(conn: sqlite3.Connection, user_id: int) -> int:
    """How many unspent codes the user has."""
    row = conn.execute(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", (user_id,)
    ).fetchone()
    return int(row[0])


def remove(conn: sqlite3.Connection, user_id: int) -> int:
    """Forget every code of the user; how many there were."""
    with transaction(conn):
        cursor = conn.execute("DELETE FROM recovery_codes WHERE user_id = ?", (user_id,))
    return cursor.rowcount

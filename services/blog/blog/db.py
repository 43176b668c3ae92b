"""The SQLite connection: durability pragmas, transactions and schema migrations.

Durability: WAL journal with synchronous=FULL, so every COMMIT has fsynced the WAL
before we answer the request. A SIGKILL (or a power cut) after the answer cannot
lose the write. NORMAL would survive SIGKILL too (the OS still holds the pages)
but not a power cut, and a blog's write rate makes FULL's extra fsync free.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .migrations import MIGRATIONS, Migration


def connect(path: Path | str) -> sqlite3.Connection:
    """Open the database with the pragmas every connection needs."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def schema_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Apply every migration newer than the database, each in its own transaction.

    The version is read again inside each write transaction, so a `blogctl` run
    starting while the server migrates waits and then skips what is done.
    """
    current = schema_version(conn)
    for migration in migrations:
        if migration.version <= current:
            continue
        with transaction(conn):
            if schema_version(conn) >= migration.version:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at)"
                " VALUES (?, ?, strftime('%s','now'))",
                (migration.version, migration.name),
            )
        current = migration.version
    return schema_version(conn)


def open_database(path: Path) -> sqlite3.Connection:
    """Create the data directory if needed, connect and migrate."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    migrate(conn)
    return conn


MAX_INTEGER = 2**63 - 1  # SQLite's largest INTEGER; a larger Python int cannot be bound


def as_rowid(text: str) -> int | None:
    """A number from a URL or a form as a row id (or revision), or None when it cannot be
    one: not ASCII digits, or past SQLite's INTEGER (binding it would raise)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if number <= MAX_INTEGER else None


def is_healthy(conn: sqlite3.Connection) -> bool:
    try:
        return conn.execute("SELECT 1").fetchone()[0] == 1
    except sqlite3.Error:
        return False

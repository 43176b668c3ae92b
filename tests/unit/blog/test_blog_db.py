"""Durability pragmas and migrations, including upgrading an old database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from blog import db as blogdb
from blog.migrations import MIGRATIONS, Migration


def test_open_database_uses_wal_and_full_sync(tmp_path: Path) -> None:
    conn = blogdb.open_database(tmp_path / "d" / "blog.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert blogdb.schema_version(conn) == MIGRATIONS[-1].version


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    conn = blogdb.open_database(tmp_path / "blog.sqlite3")
    before = conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
    blogdb.migrate(conn)
    after = conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
    assert before == after == len(MIGRATIONS)


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    conn = blogdb.connect(tmp_path / "blog.sqlite3")
    broken = (
        *MIGRATIONS,
        Migration(999, "broken", ("CREATE TABLE half (x)", "THIS IS NOT SQL")),
    )
    try:
        blogdb.migrate(conn, broken)
    except sqlite3.OperationalError:
        pass
    else:
        raise AssertionError("broken migration did not raise")
    assert blogdb.schema_version(conn) == MIGRATIONS[-1].version
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half" not in tables

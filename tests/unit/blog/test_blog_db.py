"""Durability pragmas and migrations, including upgrading an old database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
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


def test_second_process_skips_migrations_done_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "blog.sqlite3"
    blogdb.migrate(blogdb.connect(path))  # the server migrated...
    real = blogdb.schema_version
    stale_reads = [0]  # ...after blogctl had read version 0

    def stale_then_real(conn: sqlite3.Connection) -> int:
        return stale_reads.pop() if stale_reads else real(conn)

    monkeypatch.setattr(blogdb, "schema_version", stale_then_real)
    assert blogdb.migrate(blogdb.connect(path)) == MIGRATIONS[-1].version
    assert real(blogdb.connect(path)) == MIGRATIONS[-1].version

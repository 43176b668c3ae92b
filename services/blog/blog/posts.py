"""Posts and stories in SQLite: the queries the views and the archive use.

Visibility is computed at read time: a post is public when it is published and its
published_at is not in the future, so scheduling needs no background job.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from .db import transaction
from .markup import render_markdown, slugify

VISIBLE = "status = 'published' AND published_at <= ?"


@dataclass(frozen=True, slots=True)
class Post:
    id: int
    slug: str
    title: str
    body_md: str
    body_html: str
    status: str
    published_at: int | None
    created_at: int
    updated_at: int

    def is_visible(self, now: int) -> bool:
        return (
            self.status == "published"
            and self.published_at is not None
            and (self.published_at <= now)
        )


def _post(row: sqlite3.Row) -> Post:
    return Post(**{name: row[name] for name in Post.__slots__})


def _columns() -> str:
    return ", ".join(f"posts.{name}" for name in Post.__slots__)


def now_seconds() -> int:
    return int(time.time())


def list_visible(conn: sqlite3.Connection, now: int, limit: int, offset: int = 0) -> list[Post]:
    rows = conn.execute(
        f"SELECT {_columns()} FROM posts WHERE {VISIBLE}"  # noqa: S608 - fixed column list
        " ORDER BY published_at DESC, id DESC LIMIT ? OFFSET ?",
        (now, limit, offset),
    ).fetchall()
    return [_post(row) for row in rows]


def count_visible(conn: sqlite3.Connection, now: int) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM posts WHERE {VISIBLE}", (now,)).fetchone()[0])  # noqa: S608


def get_by_slug(conn: sqlite3.Connection, slug: str) -> Post | None:
    row = conn.execute(f"SELECT {_columns()} FROM posts WHERE slug = ?", (slug,)).fetchone()  # noqa: S608
    return _post(row) if row else None


def unique_slug(conn: sqlite3.Connection, wanted: str, exclude_id: int | None = None) -> str:
    base = slugify(wanted)
    slug, n = base, 2
    while True:
        row = conn.execute("SELECT id FROM posts WHERE slug = ?", (slug,)).fetchone()
        if row is None or row[0] == exclude_id:
            return slug
        slug, n = f"{base}-{n}", n + 1


def create_post(
    conn: sqlite3.Connection,
    *,
    title: str,
    body_md: str,
    status: str = "draft",
    published_at: int | None = None,
    slug: str | None = None,
    now: int | None = None,
) -> Post:
    now = now_seconds() if now is None else now
    if status == "published" and published_at is None:
        published_at = now
    with transaction(conn):
        final_slug = unique_slug(conn, slug or title)
        cursor = conn.execute(
            "INSERT INTO posts (slug, title, body_md, body_html, status, published_at,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (final_slug, title, body_md, render_markdown(body_md), status, published_at, now, now),
        )
    post = get_by_id(conn, int(cursor.lastrowid or 0))
    assert post is not None
    return post


def get_by_id(conn: sqlite3.Connection, post_id: int) -> Post | None:
    row = conn.execute(f"SELECT {_columns()} FROM posts WHERE id = ?", (post_id,)).fetchone()  # noqa: S608
    return _post(row) if row else None

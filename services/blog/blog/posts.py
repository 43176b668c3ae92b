"""Posts and stories in SQLite: the queries the views, feeds and archive use.

Visibility is computed at read time: an entry is public when it is published and
its published_at is not in the future, so scheduling needs no background job.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .db import transaction
from .markup import render_markdown, slugify

Kind = Literal["post", "story"]
Status = Literal["draft", "published"]
KINDS: tuple[Kind, ...] = ("post", "story")


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
    author_id: int | None
    kind: str
    category_id: int | None

    def is_visible(self, now: int) -> bool:
        return (
            self.status == "published"
            and self.published_at is not None
            and self.published_at <= now
        )

    def state(self, now: int) -> str:
        if self.status == "draft":
            return "draft"
        return "published" if self.is_visible(now) else "scheduled"

    @property
    def path(self) -> str:
        return f"/stories/{self.slug}" if self.kind == "story" else f"/posts/{self.slug}"


@dataclass(frozen=True, slots=True)
class Term:
    """A category or a tag."""

    id: int
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class Listing:
    """Which visible entries to list; None means any."""

    kind: str | None = "post"
    category_id: int | None = None
    tag_id: int | None = None


COLUMNS = ", ".join(f"posts.{name}" for name in Post.__slots__)


def _post(row: sqlite3.Row) -> Post:
    return Post(**{name: row[name] for name in Post.__slots__})


def now_seconds() -> int:
    return int(time.time())


def _visible_where(listing: Listing, now: int) -> tuple[str, list[object]]:
    clauses = ["posts.status = 'published'", "posts.published_at <= ?"]
    params: list[object] = [now]
    if listing.kind is not None:
        clauses.append("posts.kind = ?")
        params.append(listing.kind)
    if listing.category_id is not None:
        clauses.append("posts.category_id = ?")
        params.append(listing.category_id)
    if listing.tag_id is not None:
        clauses.append("posts.id IN (SELECT post_id FROM post_tags WHERE tag_id = ?)")
        params.append(listing.tag_id)
    return " AND ".join(clauses), params


def list_visible(
    conn: sqlite3.Connection, now: int, limit: int, offset: int = 0, listing: Listing = Listing()
) -> list[Post]:
    where, params = _visible_where(listing, now)
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM posts WHERE {where}"  # noqa: S608 - clauses are fixed strings
        " ORDER BY posts.published_at DESC, posts.id DESC LIMIT ? OFFSET ?",
        (*params, limit, offset),
    ).fetchall()
    return [_post(row) for row in rows]


def count_visible(conn: sqlite3.Connection, now: int, listing: Listing = Listing()) -> int:
    where, params = _visible_where(listing, now)
    sql = f"SELECT COUNT(*) FROM posts WHERE {where}"  # noqa: S608 - clauses are fixed strings
    return int(conn.execute(sql, params).fetchone()[0])


def last_change(conn: sqlite3.Connection, now: int, listing: Listing = Listing(kind=None)) -> int:
    """Newest moment anything in this listing changed, appeared or may have left it.

    Used as feeds' Last-Modified: erring late only costs a reader one full download.
    """
    where, params = _visible_where(listing, now)
    sql = f"SELECT MAX(MAX(updated_at, published_at)) FROM posts WHERE {where}"  # noqa: S608
    newest = int(conn.execute(sql, params).fetchone()[0] or 0)
    row = conn.execute("SELECT value FROM site_state WHERE key = 'entries_removed_at'").fetchone()
    return max(newest, min(int(row[0]), now) if row else 0)


def get_by_slug(conn: sqlite3.Connection, slug: str, kind: str | None = None) -> Post | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM posts WHERE slug = ?", (slug,)).fetchone()  # noqa: S608
    if row is None or (kind is not None and row["kind"] != kind):
        return None
    return _post(row)


def get_by_id(conn: sqlite3.Connection, post_id: int) -> Post | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM posts WHERE id = ?", (post_id,)).fetchone()  # noqa: S608
    return _post(row) if row else None


def list_for_dashboard(
    conn: sqlite3.Connection, author_id: int | None, everyone: bool
) -> list[Post]:
    """Every entry an admin may touch, or only the author's own."""
    if everyone:
        rows = conn.execute(f"SELECT {COLUMNS} FROM posts ORDER BY updated_at DESC")  # noqa: S608
    else:
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM posts WHERE author_id IS ? ORDER BY updated_at DESC",  # noqa: S608
            (author_id,),
        )
    return [_post(row) for row in rows]


def unique_slug(conn: sqlite3.Connection, wanted: str, exclude_id: int | None = None) -> str:
    base = slugify(wanted)
    slug, n = base, 2
    while True:
        row = conn.execute("SELECT id FROM posts WHERE slug = ?", (slug,)).fetchone()
        if row is None or row[0] == exclude_id:
            return slug
        slug, n = f"{base}-{n}", n + 1


@dataclass(frozen=True, slots=True)
class Draft:
    """What an author submits: everything needed to create or update an entry."""

    title: str
    body_md: str
    kind: str = "post"
    status: str = "draft"
    published_at: int | None = None
    slug: str = ""
    category: str = ""
    tags: Sequence[str] = ()


def save_post(
    conn: sqlite3.Connection,
    draft: Draft,
    *,
    author_id: int | None,
    post_id: int | None = None,
    now: int | None = None,
    created_at: int | None = None,
    body_html: str | None = None,
) -> Post:
    """Create (post_id None) or update an entry with its category and tags, atomically.

    `body_html` is draft.body_md already rendered (the server renders in a worker
    process, rendering.py); None renders it here (blogctl, imports). Raises
    markup.MarkupError for a body over the bounds.
    """
    now = now_seconds() if now is None else now
    published_at = draft.published_at
    if draft.status == "published" and published_at is None:
        published_at = now
    html = render_markdown(draft.body_md) if body_html is None else body_html
    with transaction(conn):
        slug = unique_slug(conn, draft.slug or draft.title, exclude_id=post_id)
        category_id = _term_id(conn, "categories", draft.category) if draft.category else None
        values = (slug, draft.title, draft.body_md, html, draft.status, published_at)
        values += (draft.kind, category_id)
        if post_id is None:
            cursor = conn.execute(
                "INSERT INTO posts (slug, title, body_md, body_html, status, published_at,"
                " kind, category_id, author_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, author_id, created_at or now, now),
            )
            post_id = int(cursor.lastrowid or 0)
        else:
            conn.execute(
                "UPDATE posts SET slug = ?, title = ?, body_md = ?, body_html = ?, status = ?,"
                " published_at = ?, kind = ?, category_id = ?, updated_at = ? WHERE id = ?",
                (*values, now, post_id),
            )
        _set_tags(conn, post_id, draft.tags)
    post = get_by_id(conn, post_id)
    assert post is not None
    return post


def create_post(
    conn: sqlite3.Connection,
    *,
    title: str,
    body_md: str,
    status: str = "draft",
    published_at: int | None = None,
    slug: str | None = None,
    kind: str = "post",
    category: str = "",
    tags: Sequence[str] = (),
    author_id: int | None = None,
    now: int | None = None,
) -> Post:
    draft = Draft(title, body_md, kind, status, published_at, slug or "", category, tags)
    return save_post(conn, draft, author_id=author_id, now=now)


def delete_post(conn: sqlite3.Connection, post_id: int) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM posts WHERE id = ?", (post_id,))


# --- categories and tags -------------------------------------------------------------

TERM_TABLES = ("categories", "tags")


def _term_id(conn: sqlite3.Connection, table: str, name: str) -> int:
    assert table in TERM_TABLES
    name = name.strip()
    row = conn.execute(f"SELECT id FROM {table} WHERE name = ?", (name,)).fetchone()  # noqa: S608
    if row:
        return int(row[0])
    slug, n = slugify(name, fallback=table[:-1]), 2
    base = slug
    while conn.execute(f"SELECT 1 FROM {table} WHERE slug = ?", (slug,)).fetchone():  # noqa: S608
        slug, n = f"{base}-{n}", n + 1
    cursor = conn.execute(f"INSERT INTO {table} (slug, name) VALUES (?, ?)", (slug, name))  # noqa: S608
    return int(cursor.lastrowid or 0)


def _set_tags(conn: sqlite3.Connection, post_id: int, names: Sequence[str]) -> None:
    conn.execute("DELETE FROM post_tags WHERE post_id = ?", (post_id,))
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        conn.execute(
            "INSERT OR IGNORE INTO post_tags (post_id, tag_id) VALUES (?, ?)",
            (post_id, _term_id(conn, "tags", name)),
        )


def parse_tags(text: str) -> list[str]:
    return [part.strip()[:64] for part in text.split(",") if part.strip()][:20]


def term_by_slug(conn: sqlite3.Connection, table: str, slug: str) -> Term | None:
    assert table in TERM_TABLES
    row = conn.execute(f"SELECT id, slug, name FROM {table} WHERE slug = ?", (slug,)).fetchone()  # noqa: S608
    return Term(*row) if row else None


def category_of(conn: sqlite3.Connection, post: Post) -> Term | None:
    if post.category_id is None:
        return None
    row = conn.execute(
        "SELECT id, slug, name FROM categories WHERE id = ?", (post.category_id,)
    ).fetchone()
    return Term(*row) if row else None


def tags_of(conn: sqlite3.Connection, post_id: int) -> list[Term]:
    rows = conn.execute(
        "SELECT t.id, t.slug, t.name FROM tags t JOIN post_tags pt ON pt.tag_id = t.id"
        " WHERE pt.post_id = ? ORDER BY t.name",
        (post_id,),
    )
    return [Term(*row) for row in rows]


def terms_in_use(conn: sqlite3.Connection, table: str, now: int) -> list[tuple[Term, int]]:
    """Categories or tags with their count of visible entries, for the index pages."""
    if table == "categories":
        sql = (
            "SELECT c.id, c.slug, c.name, COUNT(p.id) FROM categories c"
            " JOIN posts p ON p.category_id = c.id"
        )
    else:
        sql = (
            "SELECT t.id, t.slug, t.name, COUNT(p.id) FROM tags t"
            " JOIN post_tags pt ON pt.tag_id = t.id JOIN posts p ON p.id = pt.post_id"
        )
    sql += " WHERE p.status = 'published' AND p.published_at <= ? GROUP BY 1 ORDER BY 3"
    return [(Term(r[0], r[1], r[2]), r[3]) for r in conn.execute(sql, (now,))]


# --- search --------------------------------------------------------------------------


def fts_query(text: str) -> str:
    """User words to an FTS5 query: each word quoted, so no syntax reaches FTS5."""
    words = [w.replace('"', "") for w in text.split()][:12]
    return " ".join(f'"{w}"' for w in words if w)


def search(conn: sqlite3.Connection, text: str, now: int, limit: int = 50) -> list[Post]:
    query = fts_query(text)
    if not query:
        return []
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM posts_fts JOIN posts ON posts.id = posts_fts.rowid"  # noqa: S608
        " WHERE posts_fts MATCH ? AND posts.status = 'published' AND posts.published_at <= ?"
        " ORDER BY bm25(posts_fts) LIMIT ?",
        (query, now, limit),
    ).fetchall()
    return [_post(row) for row in rows]

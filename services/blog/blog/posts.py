"""Posts and stories in SQLite: the queries the views, feeds and archive use.

An entry is in one of four states (`Entry.state`): draft, scheduled (published with a
future time), published, or in the trash (`deleted_at` set; emptied after TRASH_DAYS).
Visibility is computed at read time: an entry is public when it is published, its
published_at is not in the future and it is not in the trash, so scheduling needs no
background job.

Every save increments the entry's `revision` and keeps a copy in post_revisions (the
newest MAX_REVISIONS). A save based on an older revision than the stored one is not
applied (EditConflict): two tabs or devices never overwrite each other silently.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Literal, TypeVar

from .db import transaction
from .markup import one_line, render_markdown, slugify

Kind = Literal["post", "story"]
Status = Literal["draft", "published"]
State = Literal["draft", "scheduled", "published", "trash"]
KINDS: tuple[Kind, ...] = ("post", "story")
STATES: tuple[State, ...] = ("draft", "scheduled", "published", "trash")
TRASH_DAYS = 30  # an entry in the trash is deleted for good this long after it went there
MAX_REVISIONS = 50  # revisions kept per entry, newest first


# Who may see an entry, in SQL and in Python: one rule, used by every page, feed,
# search and term page. Published, its publication time has come (scheduling needs no
# background job), and not in the trash. The parameter is the current Unix time.
VISIBLE_SQL = "posts.status = 'published' AND posts.published_at <= ? AND posts.deleted_at IS NULL"


@dataclass(frozen=True, slots=True)
class Entry:
    """What a list of entries shows: no text. See Post for the whole row."""

    id: int
    slug: str
    title: str
    status: str
    published_at: int | None
    created_at: int
    updated_at: int
    author_id: int | None
    kind: str
    category_id: int | None
    revision: int
    deleted_at: int | None

    def is_visible(self, now: int) -> bool:
        """VISIBLE_SQL in Python (a test keeps the two in step)."""
        return (
            self.status == "published"
            and self.published_at is not None
            and self.published_at <= now
            and self.deleted_at is None
        )

    def state(self, now: int) -> State:
        """draft, scheduled, published or trash: what the editor and the dashboard show."""
        if self.deleted_at is not None:
            return "trash"
        if self.status == "draft":
            return "draft"
        return "published" if self.is_visible(now) else "scheduled"

    def purged_at(self) -> int | None:
        """When an entry in the trash is deleted for good (Unix seconds)."""
        return None if self.deleted_at is None else self.deleted_at + TRASH_DAYS * 86400

    @property
    def path(self) -> str:
        return f"/stories/{self.slug}" if self.kind == "story" else f"/posts/{self.slug}"


@dataclass(frozen=True, slots=True)
class Article(Entry):
    """An entry with its rendered text: what pages and feeds that show text list."""

    body_html: str


@dataclass(frozen=True, slots=True)
class Post(Article):
    """The whole row, Markdown source included: for editing and export."""

    body_md: str


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
    published_from: int | None = None  # [from, before): a month of the archive
    published_before: int | None = None


Shape = TypeVar("Shape", bound=Entry)


def _columns(shape: type[Entry]) -> str:
    """The SELECT list of a shape: a query reads only what its callers show."""
    return ", ".join(f"posts.{field.name}" for field in fields(shape))


def _rows(shape: type[Shape], rows: Iterable[sqlite3.Row]) -> list[Shape]:
    return [shape(**{key: row[key] for key in row.keys()}) for row in rows]


def now_seconds() -> int:
    return int(time.time())


def _visible_where(listing: Listing, now: int) -> tuple[str, list[object]]:
    clauses = [VISIBLE_SQL]
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
    if listing.published_from is not None and listing.published_before is not None:
        clauses.append("posts.published_at >= ? AND posts.published_at < ?")
        params += [listing.published_from, listing.published_before]
    return " AND ".join(clauses), params


def list_visible(
    conn: sqlite3.Connection,
    now: int,
    limit: int,
    offset: int = 0,
    listing: Listing = Listing(),
    shape: type[Shape] = Article,  # type: ignore[assignment]
) -> list[Shape]:
    """Visible entries, newest first, in `shape` (Article with text, Entry without)."""
    where, params = _visible_where(listing, now)
    rows = conn.execute(
        f"SELECT {_columns(shape)} FROM posts WHERE {where}"  # noqa: S608 - fixed strings
        " ORDER BY posts.published_at DESC, posts.id DESC LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    return _rows(shape, rows)


def count_visible(conn: sqlite3.Connection, now: int, listing: Listing = Listing()) -> int:
    where, params = _visible_where(listing, now)
    sql = f"SELECT COUNT(*) FROM posts WHERE {where}"  # noqa: S608 - clauses are fixed strings
    return int(conn.execute(sql, params).fetchone()[0])


def last_change(conn: sqlite3.Connection, now: int, listing: Listing = Listing(kind=None)) -> int:
    """Newest moment anything in this listing changed, appeared or may have left it, or
    the site settings changed.

    Used as feeds' Last-Modified: erring late only costs a reader one full download.
    """
    where, params = _visible_where(listing, now)
    sql = f"SELECT MAX(MAX(updated_at, published_at)) FROM posts WHERE {where}"  # noqa: S608
    newest = int(conn.execute(sql, params).fetchone()[0] or 0)
    # Entries that left it, and settings or author names that every entry shows.
    row = conn.execute(
        "SELECT MAX(value) FROM site_state"
        " WHERE key IN ('entries_removed_at', 'settings_changed_at', 'entries_imported_at')"
    ).fetchone()
    return max(newest, min(int(row[0]), now) if row[0] is not None else 0)


MAX_TITLE = 200


def clean_title(text: str) -> str:
    """An entry's title as stored: one line (markup.one_line); the editor refuses it
    empty or over MAX_TITLE, an import makes it "Untitled" or cuts it."""
    return one_line(text)


def mark_shown_change(conn: sqlite3.Connection, now: int) -> None:
    """Record that something every page or feed shows changed (a site setting, an
    author's name), inside the caller's transaction: last_change counts it, so feeds'
    and the sitemap's Last-Modified move."""
    conn.execute(
        "INSERT OR REPLACE INTO site_state (key, value) VALUES ('settings_changed_at', ?)", (now,)
    )


def mark_import(conn: sqlite3.Connection, now: int) -> None:
    """Record that entries came in with their old dates (an import keeps the export's
    published and updated times), so last_change, and with it feeds' and the sitemap's
    Last-Modified, moves past the import. `now` is when the import ended; the second
    after it is recorded (last_change never answers a time in the future), so a reader
    given a Last-Modified while the import ran, in its last second included, is sent the
    new entries instead of 304."""
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO site_state (key, value) VALUES ('entries_imported_at', ?)",
            (now + 1,),
        )


def get_by_slug(conn: sqlite3.Connection, slug: str, kind: str | None = None) -> Post | None:
    sql = f"SELECT {_columns(Post)} FROM posts WHERE slug = ?"  # noqa: S608
    found = _rows(Post, conn.execute(sql, (slug,)))
    if not found or (kind is not None and found[0].kind != kind):
        return None
    return found[0]


def get_by_id(conn: sqlite3.Connection, post_id: int) -> Post | None:
    sql = f"SELECT {_columns(Post)} FROM posts WHERE id = ?"  # noqa: S608
    found = _rows(Post, conn.execute(sql, (post_id,)))
    return found[0] if found else None


def all_posts(conn: sqlite3.Connection) -> Iterator[Post]:
    """Every entry, whole, one row at a time (export): never all of them in memory."""
    sql = f"SELECT {_columns(Post)} FROM posts ORDER BY posts.id"  # noqa: S608
    for row in conn.execute(sql):
        yield _rows(Post, [row])[0]


DASHBOARD_PAGE = 50


def list_for_dashboard(
    conn: sqlite3.Connection, author_id: int | None, everyone: bool, page: int = 1
) -> tuple[list[Entry], int]:
    """One page (DASHBOARD_PAGE, most recently changed first) of the entries an admin may
    touch, or only the author's own; and how many there are in all.

    Reads no text and sorts along an index (migration 6): wide rows sorted in a
    temporary table once filled the container's /tmp and broke the dashboard.
    """
    where, params = _editable_by(author_id, everyone)
    where += " AND posts.deleted_at IS NULL"
    rows = conn.execute(
        f"SELECT {_columns(Entry)} FROM posts WHERE {where}"  # noqa: S608 - fixed strings
        " ORDER BY posts.updated_at DESC, posts.id DESC LIMIT ? OFFSET ?",
        (*params, DASHBOARD_PAGE, (page - 1) * DASHBOARD_PAGE),
    )
    total = conn.execute(f"SELECT COUNT(*) FROM posts WHERE {where}", params).fetchone()[0]  # noqa: S608
    return _rows(Entry, rows), int(total)


def _editable_by(author_id: int | None, everyone: bool) -> tuple[str, list[object]]:
    """The WHERE clause for entries a principal may edit (Principal.may_edit in SQL)."""
    return ("1", []) if everyone else ("posts.author_id IS ?", [author_id])


TRASH_LISTED = 200


def list_trash(conn: sqlite3.Connection, author_id: int | None, everyone: bool) -> list[Entry]:
    """Entries in the trash that the principal may edit, most recently trashed first."""
    where, params = _editable_by(author_id, everyone)
    rows = conn.execute(
        f"SELECT {_columns(Entry)} FROM posts WHERE {where} AND posts.deleted_at IS NOT NULL"  # noqa: S608
        " ORDER BY posts.deleted_at DESC, posts.id DESC LIMIT ?",
        (*params, TRASH_LISTED),
    )
    return _rows(Entry, rows)


def count_trash(conn: sqlite3.Connection, author_id: int | None, everyone: bool) -> int:
    where, params = _editable_by(author_id, everyone)
    sql = f"SELECT COUNT(*) FROM posts WHERE {where} AND posts.deleted_at IS NOT NULL"  # noqa: S608
    return int(conn.execute(sql, params).fetchone()[0])


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

    def same_text_as(self, other: Draft) -> bool:
        """Whether saving self over `other` would change nothing an author wrote (line
        ends aside: a browser sends CRLF). An empty slug or publication time means
        "as it is", so it matches any."""
        return (
            (self.title, self.kind, self.status, self.category, list(self.tags))
            == (other.title, other.kind, other.status, other.category, list(other.tags))
            and _lines(self.body_md) == _lines(other.body_md)
            and self.published_at in (None, other.published_at)
            and (not self.slug or slugify(self.slug) == other.slug)
        )


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")


class EditConflict(Exception):
    """The entry changed since the revision the author's form was based on; nothing was
    written. `current` is the entry as it is now."""

    def __init__(self, current: Post) -> None:
        super().__init__(f"entry {current.id} is at revision {current.revision}")
        self.current = current


def stored_draft(conn: sqlite3.Connection, post: Post) -> Draft:
    """The entry as the editor shows it: category and tags by name."""
    category = category_of(conn, post)
    return Draft(
        title=post.title,
        body_md=post.body_md,
        kind=post.kind,
        status=post.status,
        published_at=post.published_at,
        slug=post.slug,
        category=category.name if category else "",
        tags=[t.name for t in tags_of(conn, post.id)],
    )


def save_post(
    conn: sqlite3.Connection,
    draft: Draft,
    *,
    author_id: int | None,
    post_id: int | None = None,
    now: int | None = None,
    created_at: int | None = None,
    body_html: str | None = None,
    base_revision: int | None = None,
    saved_by: int | None = None,
) -> Post:
    """Create (post_id None) or update an entry with its category and tags, atomically,
    and keep the result as a new revision.

    `body_html` is draft.body_md already rendered (the server renders in a worker
    process, rendering.py); None renders it here (blogctl, imports). `base_revision`
    is the revision the author's form was based on (If-Match semantics, RFC 9110
    13.1.1, carried in a form field): when the entry has moved on since, nothing is
    written and EditConflict is raised, unless the stored text equals the draft (a
    form sent twice). Raises markup.MarkupError for a body over the bounds.
    """
    now = now_seconds() if now is None else now
    published_at = draft.published_at
    if draft.status == "published" and published_at is None:
        published_at = now
    html = render_markdown(draft.body_md) if body_html is None else body_html
    with transaction(conn):
        if post_id is not None and base_revision is not None:
            current = get_by_id(conn, post_id)
            if current is not None and current.revision != base_revision:
                if draft.same_text_as(stored_draft(conn, current)):
                    return current
                raise EditConflict(current)
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
            _remember_former_slug(conn, post_id, slug)
            conn.execute(
                "UPDATE posts SET slug = ?, title = ?, body_md = ?, body_html = ?, status = ?,"
                " published_at = ?, kind = ?, category_id = ?, updated_at = ?,"
                " revision = revision + 1 WHERE id = ?",
                (*values, now, post_id),
            )
        _set_tags(conn, post_id, draft.tags)
        _keep_revision(conn, post_id, now, saved_by)
    post = get_by_id(conn, post_id)
    assert post is not None
    return post


def _remember_former_slug(conn: sqlite3.Connection, post_id: int, new_slug: str) -> None:
    """Before an entry's slug changes, keep the old one so its URL answers 301 (inside
    the caller's transaction). The new slug stops being anyone's former one."""
    row = conn.execute("SELECT slug FROM posts WHERE id = ?", (post_id,)).fetchone()
    if row is not None and row[0] != new_slug:
        conn.execute(
            "INSERT OR REPLACE INTO former_slugs (slug, post_id) VALUES (?, ?)", (row[0], post_id)
        )
    conn.execute("DELETE FROM former_slugs WHERE slug = ?", (new_slug,))


def renamed_to(conn: sqlite3.Connection, slug: str) -> Post | None:
    """The entry that had this slug before a rename (no entry has it now), or None."""
    row = conn.execute("SELECT post_id FROM former_slugs WHERE slug = ?", (slug,)).fetchone()
    return get_by_id(conn, row[0]) if row else None


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
    return save_post(conn, draft, author_id=author_id, now=now, saved_by=author_id)


def move_to_trash(
    conn: sqlite3.Connection, post_id: int, saved_by: int | None, now: int | None = None
) -> bool:
    """Move an entry to the trash as a draft (so a restore never makes it public
    unasked), as a new revision; False when it was in the trash already. It is
    deleted for good TRASH_DAYS later (empty_trash)."""
    return _set_trashed(conn, post_id, saved_by, now, into_trash=True)


def restore_from_trash(
    conn: sqlite3.Connection, post_id: int, saved_by: int | None, now: int | None = None
) -> bool:
    """Take an entry out of the trash, as the draft it went there as, as a new revision;
    False when it was not in the trash."""
    return _set_trashed(conn, post_id, saved_by, now, into_trash=False)


def _set_trashed(
    conn: sqlite3.Connection, post_id: int, saved_by: int | None, now: int | None, into_trash: bool
) -> bool:
    now = now_seconds() if now is None else now
    with transaction(conn):
        cursor = conn.execute(
            "UPDATE posts SET deleted_at = ?, status = 'draft', updated_at = ?,"
            " revision = revision + 1 WHERE id = ? AND (deleted_at IS NULL) = ?",
            (now if into_trash else None, now, post_id, into_trash),
        )
        if cursor.rowcount:
            _keep_revision(conn, post_id, now, saved_by)
    return bool(cursor.rowcount)


def delete_for_good(conn: sqlite3.Connection, post_id: int) -> bool:
    """Delete an entry in the trash with its revisions; False when it is not in the trash
    (only the trash deletes for good)."""
    with transaction(conn):
        cursor = conn.execute(
            "DELETE FROM posts WHERE id = ? AND deleted_at IS NOT NULL", (post_id,)
        )
    return bool(cursor.rowcount)


def empty_trash(conn: sqlite3.Connection, now: int) -> int:
    """Delete for good what has been in the trash for TRASH_DAYS; how many went."""
    with transaction(conn):
        cursor = conn.execute(
            "DELETE FROM posts WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
            (now - TRASH_DAYS * 86400,),
        )
    return cursor.rowcount


# --- revisions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Revision:
    """One saved state of an entry, as the editor shows it (category and tags by name)."""

    post_id: int
    revision: int
    saved_at: int
    saved_by: str
    draft: Draft


def _keep_revision(conn: sqlite3.Connection, post_id: int, now: int, saved_by: int | None) -> None:
    """Copy the entry as it now is into post_revisions; drop the oldest past MAX_REVISIONS.
    Runs inside the caller's transaction."""
    conn.execute(
        "INSERT OR REPLACE INTO post_revisions (post_id, revision, title, body_md, kind, status,"
        " published_at, slug, category, tags, saved_at, saved_by)"
        " SELECT p.id, p.revision, p.title, p.body_md, p.kind, p.status, p.published_at, p.slug,"
        " COALESCE((SELECT name FROM categories WHERE id = p.category_id), ''),"
        " COALESCE((SELECT group_concat(name, ', ') FROM (SELECT t.name FROM post_tags pt"
        " JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = p.id ORDER BY t.name)), ''),"
        " ?, ? FROM posts p WHERE p.id = ?",
        (now, saved_by, post_id),
    )
    conn.execute(
        "DELETE FROM post_revisions WHERE post_id = ? AND revision <= "
        " (SELECT MAX(revision) FROM post_revisions WHERE post_id = ?) - ?",
        (post_id, post_id, MAX_REVISIONS),
    )


_REVISION_SQL = (
    "SELECT r.post_id, r.revision, r.saved_at, COALESCE(u.name, ''), r.title, {body}, r.kind,"
    " r.status, r.published_at, r.slug, r.category, r.tags FROM post_revisions r"
    " LEFT JOIN users u ON u.id = r.saved_by WHERE r.post_id = ?"
)


def _revision(row: sqlite3.Row) -> Revision:
    draft = Draft(
        title=row[4],
        body_md=row[5],
        kind=row[6],
        status=row[7],
        published_at=row[8],
        slug=row[9],
        category=row[10],
        tags=parse_tags(row[11]),
    )
    return Revision(row[0], row[1], row[2], row[3], draft)


def list_revisions(conn: sqlite3.Connection, post_id: int) -> list[Revision]:
    """The kept revisions of an entry, newest first (at most MAX_REVISIONS), without their
    text (body_md is empty: a list never reads 50 copies of a long text)."""
    sql = _REVISION_SQL.format(body="''") + " ORDER BY r.revision DESC"
    return [_revision(row) for row in conn.execute(sql, (post_id,))]


def count_revisions(conn: sqlite3.Connection, post_id: int) -> int:
    sql = "SELECT COUNT(*) FROM post_revisions WHERE post_id = ?"
    return int(conn.execute(sql, (post_id,)).fetchone()[0])


def get_revision(conn: sqlite3.Connection, post_id: int, revision: int) -> Revision | None:
    """One kept revision, whole."""
    sql = _REVISION_SQL.format(body="r.body_md") + " AND r.revision = ?"
    row = conn.execute(sql, (post_id, revision)).fetchone()
    return _revision(row) if row else None


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


# A term (category or tag) is visible while a visible entry uses it: a term only drafts
# use would reveal what is being written.
_TERMS_IN_USE = {
    "categories": "SELECT c.id, c.slug, c.name, COUNT(posts.id) FROM categories c"
    " JOIN posts ON posts.category_id = c.id",
    "tags": "SELECT t.id, t.slug, t.name, COUNT(posts.id) FROM tags t"
    " JOIN post_tags pt ON pt.tag_id = t.id JOIN posts ON posts.id = pt.post_id",
}
MAX_TERMS_LISTED = 500


def visible_term(conn: sqlite3.Connection, table: str, slug: str, now: int) -> Term | None:
    """The category or tag with this slug, if a visible entry uses it."""
    sql = _TERMS_IN_USE[table] + f" WHERE {VISIBLE_SQL} AND {table[0]}.slug = ? GROUP BY 1"
    row = conn.execute(sql, (now, slug)).fetchone()
    return Term(row[0], row[1], row[2]) if row else None


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
    """Visible categories or tags (at most MAX_TERMS_LISTED, by name) with their count of
    visible entries, for the index page."""
    sql = _TERMS_IN_USE[table] + f" WHERE {VISIBLE_SQL} GROUP BY 1 ORDER BY 3 LIMIT ?"
    return [(Term(r[0], r[1], r[2]), r[3]) for r in conn.execute(sql, (now, MAX_TERMS_LISTED))]


# --- search --------------------------------------------------------------------------


# What FTS5's unicode61 tokenizer keeps of a word: letters, digits and private-use
# characters. Everything else (quotes, NUL, controls, symbols) only separates words.
_NOT_TOKEN = re.compile(r"[^\w]|_", re.UNICODE)


def fts_query(text: str) -> str:
    """User words to an FTS5 query: only token characters, each word quoted, so no
    syntax and no character FTS5 chokes on (a NUL ended the quoted string) reaches it."""
    words = _NOT_TOKEN.sub(" ", text).split()[:12]
    return " ".join(f'"{w}"' for w in words)


def search(conn: sqlite3.Connection, text: str, now: int, limit: int = 50) -> list[Entry]:
    """Visible entries matching the words of `text`, best first."""
    return [entry for entry, _ in search_hits(conn, text, now, limit)]


# FTS5's snippet() marks each matched word with these (control characters: escaped text
# never holds them once discovery.highlight has turned them into <mark>).
HIT_START, HIT_END = "\x02", "\x03"
SNIPPET_WORDS = 24


def search_hits(
    conn: sqlite3.Connection, text: str, now: int, limit: int = 50
) -> list[tuple[Entry, str]]:
    """Like search, each entry with a snippet of its text (Markdown source, up to
    SNIPPET_WORDS words) whose matched words stand between HIT_START and HIT_END."""
    query = fts_query(text)
    if not query:
        return []
    snippet = f"snippet(posts_fts, -1, '{HIT_START}', '{HIT_END}', '…', {SNIPPET_WORDS})"
    rows = conn.execute(
        f"SELECT {_columns(Entry)}, {snippet} AS snippet FROM posts_fts"  # noqa: S608
        f" JOIN posts ON posts.id = posts_fts.rowid"
        f" WHERE posts_fts MATCH ? AND {VISIBLE_SQL} ORDER BY bm25(posts_fts) LIMIT ?",
        (query, now, limit),
    )
    names = [field.name for field in fields(Entry)]
    return [(Entry(**{name: row[name] for name in names}), row["snippet"]) for row in rows]

"""Listing queries read only what their page shows, walk an index, and are bounded."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from aiohttp.test_utils import TestClient
from blog import posts
from blog_testkit import add_user, login, save_entry

NOW = posts.now_seconds()
BIG = "x" * (4 * 1024 * 1024)  # the 4 MB posts (an older version accepted them)


@contextmanager
def statements(db: sqlite3.Connection) -> Iterator[list[str]]:
    """Every SQL statement the connection runs inside the block, parameters filled in."""
    seen: list[str] = []
    db.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        db.set_trace_callback(None)


def big_rows(db: sqlite3.Connection, author_id: int | None, count: int = 5) -> None:
    """Entries written straight to the table, as a version without a size limit stored them."""
    for n in range(count):
        db.execute(
            "INSERT INTO posts (slug, title, body_md, body_html, status, published_at,"
            " created_at, updated_at, author_id)"
            " VALUES (?, ?, ?, ?, 'published', ?, ?, ?, ?)",
            (f"big-{n}", f"Big {n}", BIG, BIG, NOW - 100, NOW - 100, NOW - n, author_id),
        )


# (page, columns its queries must not read)
PAGES = [
    ("/dashboard", ("body_md", "body_html")),
    ("/stories/", ("body_md", "body_html")),
    ("/search?q=big", ("body_md", "body_html")),
    ("/", ("body_md",)),
    ("/feed.atom", ("body_md",)),
    ("/feed.rss", ("body_md",)),
]


@pytest.mark.parametrize(("path", "unread"), PAGES)
async def test_pages_read_only_the_columns_they_show(
    client: TestClient, db: sqlite3.Connection, path: str, unread: tuple[str, ...]
) -> None:
    admin = add_user(client, "alice")
    big_rows(db, admin.id)
    await login(client, "alice")
    with statements(db) as seen:
        response = await client.get(path)
        await response.read()
    assert response.status == 200
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "posts" in s]
    assert selects, "the page ran no query on posts: the check would prove nothing"
    for sql in selects:
        for column in unread:
            assert column not in sql, sql[:300]


@pytest.mark.parametrize("everyone", [True, False])
def test_listing_queries_sort_along_an_index(
    client: TestClient, db: sqlite3.Connection, everyone: bool
) -> None:
    """No temporary B-tree: sorting wide rows in /tmp is what broke the dashboard."""
    calls = [
        lambda: posts.list_for_dashboard(db, 1, everyone=everyone),
        lambda: posts.list_visible(db, NOW, 10),
        lambda: posts.list_visible(db, NOW, 10, listing=posts.Listing(kind="story")),
    ]
    for call in calls:
        with statements(db) as seen:
            call()
        for sql in (s for s in seen if "ORDER BY" in s):
            plan = " ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql))
            assert "TEMP B-TREE" not in plan, (sql, plan)


async def test_the_dashboard_is_paged(admin_client: TestClient, db: sqlite3.Connection) -> None:
    user_id = db.execute("SELECT id FROM users").fetchone()[0]
    for n in range(posts.DASHBOARD_PAGE + 3):
        posts.create_post(db, title=f"Entry {n:03d}", body_md="x", author_id=user_id, now=NOW + n)
    first = await (await admin_client.get("/dashboard")).text()
    second = await (await admin_client.get("/dashboard?page=2")).text()
    assert len(re.findall(r"Entry \d{3}", first)) == posts.DASHBOARD_PAGE
    assert "Entry 052" in first and "Entry 002" not in first and 'rel="next"' in first
    assert re.findall(r"Entry \d{3}", second) == ["Entry 002", "Entry 001", "Entry 000"]
    assert (await admin_client.get("/dashboard?page=0")).status == 400


async def test_a_post_over_the_size_limit_is_refused_and_nothing_is_stored(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    """The size limit (markup.MAX_SOURCE_BYTES) is what keeps 4 MB posts out now."""
    response = await save_entry(admin_client, "/dashboard/posts/new", body_md=BIG)
    assert response.status == 413
    assert db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0

"""Who may see what: one rule for entries, terms and uploads, used by every route."""

from __future__ import annotations

import sqlite3

import pytest
from aiohttp.test_utils import TestClient
from blog import media, posts
from blog_testkit import add_user, login, tiny_png

NOW = posts.now_seconds()

# Entry states that only their author may see, and the one everyone may:
# (status, published_at, in the trash).
HIDDEN = [("draft", None, False), ("published", NOW + 3600, False), ("published", NOW - 60, True)]
SHOWN = ("published", NOW - 60, False)


def entry(db: sqlite3.Connection, state: tuple[str, int | None, bool], word: str) -> posts.Post:
    status, published_at, trashed = state
    post = posts.create_post(
        db,
        title=f"Title {word}",
        body_md=f"Body {word}",
        status=status,
        published_at=published_at,
        category=f"Cat {word}",
        tags=[f"Tag {word}"],
    )
    if trashed:  # a published entry moved to the trash
        db.execute("UPDATE posts SET deleted_at = ? WHERE id = ?", (NOW - 1, post.id))
    return post


# Every public route that names an entry, a term or a search result.
ROUTES = [
    "/posts/title-{w}",
    "/category/cat-{w}",
    "/category/cat-{w}/feed.atom",
    "/category/cat-{w}/feed.rss",
    "/tag/tag-{w}",
]
LISTINGS = ["/", "/feed.atom", "/feed.rss", "/categories", "/search?q={w}"]


def names_in(page: str, word: str) -> list[str]:
    """Which of the entry's title, category and tag a page shows (search echoes the word)."""
    return [name for name in ("title", "cat", "tag") if f"{name} {word}" in page.lower()]


@pytest.mark.parametrize("state", HIDDEN, ids=["draft", "scheduled", "trash"])
async def test_what_only_drafts_use_is_not_found_anywhere(
    client: TestClient, db: sqlite3.Connection, state: tuple[str, int | None, bool]
) -> None:
    entry(db, state, "secretword")
    for route in ROUTES:
        response = await client.get(route.format(w="secretword"))
        assert response.status == 404, route
        assert names_in(await response.text(), "secretword") == [], route
    for route in LISTINGS:
        response = await client.get(route.format(w="secretword"))
        assert response.status == 200, route
        assert names_in(await response.text(), "secretword") == [], route


async def test_control_a_published_entry_shows_on_every_route(
    client: TestClient, db: sqlite3.Connection
) -> None:
    entry(db, SHOWN, "openword")
    for route in ROUTES + LISTINGS:
        response = await client.get(route.format(w="openword"))
        assert response.status == 200, route
        assert names_in(await response.text(), "openword") != [], route


@pytest.mark.parametrize(
    ("status", "published_at", "deleted_at"),
    [
        ("published", NOW - 1, None),
        ("published", NOW, None),
        ("published", NOW + 1, None),
        ("draft", NOW - 1, None),
        ("published", None, None),
        ("draft", None, None),
        ("published", NOW - 1, NOW - 1),
        ("published", NOW - 1, NOW + 1),
        ("draft", None, NOW),
    ],
)
def test_sql_and_python_forms_of_the_rule_agree(
    client: TestClient,
    db: sqlite3.Connection,
    status: str,
    published_at: int | None,
    deleted_at: int | None,
) -> None:
    db.execute(
        "INSERT INTO posts (slug, title, status, published_at, deleted_at, created_at, updated_at)"
        " VALUES ('s', 't', ?, ?, ?, 0, 0)",
        (status, published_at, deleted_at),
    )
    in_sql = db.execute(f"SELECT COUNT(*) FROM posts WHERE {posts.VISIBLE_SQL}", (NOW,)).fetchone()
    stored = posts.get_by_slug(db, "s")
    assert stored is not None
    assert stored.is_visible(NOW) is bool(in_sql[0])


async def test_an_author_lists_only_their_own_uploads(
    client: TestClient, db: sqlite3.Connection, tmp_path
) -> None:
    alice = add_user(client, "alice", "admin")
    bob = add_user(client, "bob", "author")
    for user, name in ((alice, "a" * 32 + ".png"), (bob, "b" * 32 + ".png")):
        about = media.Described(f"by {user.name}", user.id)
        media.save_media(db, tmp_path, tiny_png(), "png", about, name=name)
    await login(client, "bob")
    listing = await (await client.get("/dashboard/media")).text()
    assert "b" * 32 in listing and "a" * 32 not in listing
    await login(client, "alice")
    listing = await (await client.get("/dashboard/media")).text()
    assert "b" * 32 in listing and "a" * 32 in listing  # admins see everyone's

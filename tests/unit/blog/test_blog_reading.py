"""Front page, permalinks and pagination."""

from __future__ import annotations

import sqlite3

import pytest
from aiohttp.test_utils import TestClient
from blog import keys, posts, templating
from blog.conditional import PUBLIC_CACHE_CONTROL, PUBLIC_MAX_AGE

NOW = posts.now_seconds()


async def test_front_page_lists_published_posts_newest_first(
    client: TestClient, db: sqlite3.Connection
) -> None:
    posts.create_post(db, title="Oldest", body_md="one", status="published", published_at=NOW - 300)
    posts.create_post(db, title="Newest", body_md="two", status="published", published_at=NOW - 100)
    posts.create_post(
        db, title="Middle", body_md="three", status="published", published_at=NOW - 200
    )
    posts.create_post(db, title="A draft", body_md="secret", status="draft")
    posts.create_post(
        db, title="Future", body_md="later", status="published", published_at=NOW + 3600
    )

    response = await client.get("/")
    body = await response.text()

    assert response.status == 200
    assert response.content_type == "text/html"
    assert body.index("Newest") < body.index("Middle") < body.index("Oldest")
    assert "A draft" not in body
    assert "Future" not in body


async def test_front_page_paginates(make_client, settings) -> None:
    client = await make_client(posts_per_page=2)
    db = client.server.app[keys.DB]
    for n in range(5):
        posts.create_post(
            db, title=f"Post {n}", body_md="x", status="published", published_at=NOW - 1000 + n
        )
    first = await (await client.get("/")).text()
    third = await (await client.get("/?page=3")).text()
    assert "Post 4" in first and "Post 3" in first and "Post 2" not in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert "Post 0" in third and 'rel="next"' not in third and 'rel="prev"' in third
    assert (await client.get("/?page=4")).status == 404
    assert (await client.get("/?page=zero")).status == 400


@pytest.mark.parametrize(
    ("status", "offset", "expected"),
    [
        ("published", -10, 200),
        ("published", 3600, 404),  # scheduled: not yet public
        ("draft", None, 404),
    ],
)
async def test_permalink_visibility(
    client: TestClient, db: sqlite3.Connection, status: str, offset: int | None, expected: int
) -> None:
    published_at = None if offset is None else NOW + offset
    post = posts.create_post(
        db, title="Hello <World>", body_md="*hi*", status=status, published_at=published_at
    )
    response = await client.get(f"/posts/{post.slug}")
    assert response.status == expected
    if expected == 200:
        body = await response.text()
        assert "Hello &lt;World&gt;" in body  # titles are escaped
        assert "<em>hi</em>" in body


async def test_unknown_permalink_is_404(client: TestClient) -> None:
    assert (await client.get("/posts/nope")).status == 404


async def test_slugs_are_unique(db: sqlite3.Connection) -> None:
    first = posts.create_post(db, title="Same title", body_md="")
    second = posts.create_post(db, title="Same title", body_md="")
    assert first.slug == "same-title"
    assert second.slug == "same-title-2"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("giraffe", ["Zoo day"]),
        ("GIRAFFE neck", ["Zoo day"]),
        ("kangaroo", []),  # only in a draft
        ("banana", []),  # only in a scheduled post
        ('"unbalanced AND OR (', []),  # FTS5 syntax from a user is harmless
        ("", []),
    ],
)
async def test_search(
    client: TestClient, db: sqlite3.Connection, query: str, expected: list[str]
) -> None:
    posts.create_post(db, title="Zoo day", body_md="A giraffe has a long neck.", status="published")
    posts.create_post(db, title="Other", body_md="Nothing to see.", status="published")
    posts.create_post(db, title="Hidden", body_md="kangaroo", status="draft")
    posts.create_post(
        db, title="Soon", body_md="banana", status="published", published_at=NOW + 999
    )
    response = await client.get("/search", params={"q": query})
    assert response.status == 200
    body = await response.text()
    for title in ("Zoo day", "Other", "Hidden", "Soon"):
        assert (f">{title}</a>" in body) is (title in expected), title


async def test_search_finds_edited_text_only(client: TestClient, db: sqlite3.Connection) -> None:
    post = posts.create_post(db, title="T", body_md="oldword", status="published")
    posts.save_post(
        db, posts.Draft("T", "newword", status="published"), author_id=None, post_id=post.id
    )
    # Published just now (real time): search as of a moment later, not of module import.
    later = posts.now_seconds() + 10
    assert [p.id for p in posts.search(db, "newword", later)] == [post.id]
    assert posts.search(db, "oldword", later) == []
    posts.move_to_trash(db, post.id, None)
    assert posts.search(db, "newword", later) == []
    posts.restore_from_trash(db, post.id, None)
    assert posts.delete_for_good(db, post.id) is False  # only from the trash
    posts.move_to_trash(db, post.id, None)
    assert posts.delete_for_good(db, post.id) is True
    assert posts.search(db, "newword", later) == []


async def test_templates_can_be_overridden_from_the_data_dir(make_client, settings) -> None:
    override = settings.templates_dir / "post.html"
    override.parent.mkdir(parents=True)
    override.write_text(
        '{% extends "base.html" %}{% block content %}CUSTOM {{ post.title }}{% endblock %}'
    )
    client = await make_client()
    db = client.server.app[keys.DB]
    posts.create_post(db, title="<b>Mine</b>", body_md="x", status="published")
    body = await (await client.get("/posts/b-mine-b")).text()
    assert "CUSTOM &lt;b&gt;Mine&lt;/b&gt;" in body  # overrides stay autoescaped
    # Templates not overridden still come from the package.
    assert "Nothing published yet" not in await (await client.get("/")).text()


# Public pages answer If-None-Match with 304 while unchanged: (path, kind of entry to add).
REVALIDATED = [("/", "post"), ("/stories/", "story"), ("/search?q=banana", "post")]


@pytest.mark.parametrize(("path", "kind"), REVALIDATED)
async def test_public_pages_are_revalidated_with_etags(
    client: TestClient, db: sqlite3.Connection, path: str, kind: str
) -> None:
    first = await client.get(path)
    etag = first.headers["ETag"]
    assert first.status == 200 and first.headers["Cache-Control"] == PUBLIC_CACHE_CONTROL
    assert first.headers["Vary"] == "Cookie"  # never a reader's copy for a logged-in browser
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status == 304 and await again.read() == b""
    assert again.headers["ETag"] == etag
    posts.create_post(db, title="New", body_md="banana", status="published", kind=kind)
    changed = await client.get(path, headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert "New" in await changed.text()


async def test_an_authors_pages_are_never_answered_from_a_cache(admin_client: TestClient) -> None:
    first = await admin_client.get("/")
    assert first.status == 200 and "ETag" not in first.headers
    assert first.headers["Cache-Control"] == "no-store"


def _no_render(*args: object, **kwargs: object) -> None:
    raise AssertionError("rendered although the client's copy is current")


@pytest.mark.parametrize("path", ["/", "/stories/", "/search?q=banana", "/posts/banana"])
async def test_a_current_copy_gets_304_without_a_render(
    client: TestClient, db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    posts.create_post(db, title="Banana", body_md="banana", status="published", published_at=NOW)
    first = await client.get(path)
    assert first.status == 200
    monkeypatch.setattr(templating, "render", _no_render)
    again = await client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304
    assert again.headers["Cache-Control"] == PUBLIC_CACHE_CONTROL


async def _etag(client: TestClient, path: str = "/") -> str:
    response = await client.get(path)
    assert response.status == 200
    return response.headers["ETag"]


async def test_the_etag_moves_with_every_change_even_within_one_second(
    client: TestClient, db: sqlite3.Connection
) -> None:
    post = posts.create_post(db, title="A", body_md="x", status="published", published_at=NOW)
    first = await _etag(client)
    db.execute("UPDATE posts SET title = 'B' WHERE id = ?", (post.id,))  # same second
    second = await _etag(client)
    assert first != second and "B" in await (await client.get("/")).text()
    assert await _etag(client) == second  # and stays while nothing changes
    assert await _etag(client, "/?page=1") != second  # one ETag per URL


async def test_the_etag_moves_with_a_write_by_another_process(
    client: TestClient, settings, db: sqlite3.Connection
) -> None:
    posts.create_post(db, title="A", body_md="x", status="published", published_at=NOW)
    first = await _etag(client)
    other = sqlite3.connect(settings.db_path)  # as blogctl would
    with other:
        other.execute("UPDATE posts SET title = 'Imported'")
    other.close()
    assert await _etag(client) != first
    assert "Imported" in await (await client.get("/")).text()


async def test_the_etag_moves_when_a_scheduled_post_comes_out(
    client: TestClient, db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = posts.now_seconds()  # not NOW: the suite may have run for a minute since import
    posts.create_post(db, title="Later", body_md="x", status="published", published_at=now + 60)
    first = await _etag(client)
    monkeypatch.setattr(posts, "now_seconds", lambda: now + 61)  # no write, only time
    assert await _etag(client) != first
    assert "Later" in await (await client.get("/")).text()


def test_public_lifetimes_are_short() -> None:
    assert PUBLIC_MAX_AGE <= 10
    assert f"max-age={PUBLIC_MAX_AGE}" in PUBLIC_CACHE_CONTROL and "public" in PUBLIC_CACHE_CONTROL

"""Atom and RSS feeds validated by feedparser, and conditional GETs answered with 304."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import feedparser
import pytest
from aiohttp.test_utils import TestClient
from blog import keys, posts
from blog.config import Settings
from blog.views import feeds as feed_views

NOW = posts.now_seconds()
PUBLIC_URL = "https://blog.example"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Feeds link to the configured public URL: these tests configure one."""
    return Settings(data_dir=tmp_path / "data", public_url=PUBLIC_URL)


@pytest.fixture
def entries(db: sqlite3.Connection) -> None:
    posts.create_post(
        db,
        title="Old & <older>",
        body_md="first *one*",
        status="published",
        published_at=NOW - 200,
        category="Rail",
    )
    posts.create_post(db, title="New", body_md="second", status="published", published_at=NOW - 100)
    posts.create_post(db, title="Draft", body_md="no", status="draft")
    posts.create_post(db, title="Future", body_md="no", status="published", published_at=NOW + 999)
    posts.create_post(
        db,
        title="Rail story",
        body_md="s",
        kind="story",
        status="published",
        published_at=NOW - 50,
        category="Rail",
    )


@pytest.mark.parametrize(
    ("path", "version", "content_type"),
    [
        ("/feed.atom", "atom10", "application/atom+xml"),
        ("/feed.rss", "rss20", "application/rss+xml"),
    ],
)
async def test_site_feed_is_valid(
    client: TestClient, entries: None, path: str, version: str, content_type: str
) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == content_type
    parsed = feedparser.parse(await response.read())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == version
    assert [e.title for e in parsed.entries] == ["New", "Old & <older>"]
    old = parsed.entries[1]
    assert old.link == "https://blog.example/posts/old-older"
    assert "<em>one</em>" in old.summary
    assert old.tags[0].term == "Rail"


async def test_category_feed(client: TestClient, entries: None) -> None:
    for path in ("/category/rail/feed.atom", "/category/rail/feed.rss"):
        parsed = feedparser.parse(await (await client.get(path)).read())
        assert parsed.bozo == 0
        assert sorted(e.title for e in parsed.entries) == ["Old & <older>", "Rail story"]
    assert (await client.get("/category/none/feed.atom")).status == 404


@pytest.mark.parametrize("path", ["/feed.atom", "/feed.rss", "/category/rail/feed.rss"])
async def test_conditional_get(
    client: TestClient, entries: None, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = posts.now_seconds() + 2  # a Last-Modified of the current second is weak
    monkeypatch.setattr(posts, "now_seconds", lambda: later)
    first = await client.get(path)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert (await client.get(path, headers={"If-None-Match": etag})).status == 304
    strong = etag.removeprefix("W/")  # If-None-Match compares weakly (RFC 9110 13.1.2)
    assert (await client.get(path, headers={"If-None-Match": strong})).status == 304
    assert (await client.get(path, headers={"If-Modified-Since": modified})).status == 304
    assert (await client.get(path, headers={"If-None-Match": '"other"'})).status == 200
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert (await client.get(path, headers={"If-Modified-Since": old})).status == 200
    # ETag wins over a stale date (RFC 9110 13.1.3).
    both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
    assert (await client.get(path, headers=both)).status == 200


async def test_feed_changes_when_a_post_changes(
    client: TestClient, db: sqlite3.Connection, entries: None
) -> None:
    first = await client.get("/feed.atom")
    posts.create_post(db, title="Newest", body_md="x", status="published", published_at=NOW)
    second = await client.get("/feed.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status == 200
    assert second.headers["ETag"] != first.headers["ETag"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "evil.example"},
        {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example:8080"},
    ],
)
@pytest.mark.parametrize("path", ["/feed.atom", "/feed.rss", "/category/rail/feed.atom"])
async def test_links_come_from_the_public_url_never_the_request(
    make_client, headers: dict[str, str], path: str
) -> None:
    """Feeds are cached publicly: a Host header must not choose where their links go."""
    client = await make_client(trusted_proxies=("127.0.0.1",))
    db = client.server.app[keys.DB]
    posts.create_post(db, title="P", body_md="x", status="published", category="Rail")
    body = await (await client.get(path, headers=headers)).read()
    assert b"evil.example" not in body
    assert feedparser.parse(body).entries[0].link == "https://blog.example/posts/p"


async def test_without_a_public_url_links_name_this_machine(make_client) -> None:
    client = await make_client(public_url="")
    posts.create_post(client.server.app[keys.DB], title="P", body_md="x", status="published")
    body = await (await client.get("/feed.atom", headers={"Host": "evil.example"})).read()
    assert feedparser.parse(body).entries[0].link == "https://localhost/posts/p"


def trash_and_delete(db: sqlite3.Connection, post_id: int) -> None:
    posts.move_to_trash(db, post_id, None)
    posts.delete_for_good(db, post_id)


@pytest.mark.parametrize(
    "remove",
    [
        lambda db, post_id: posts.move_to_trash(db, post_id, None),
        trash_and_delete,
        lambda db, post_id: db.execute("UPDATE posts SET deleted_at = 1 WHERE id = ?", (post_id,)),
    ],
    ids=["trash", "delete for good", "deleted_at alone"],
)
async def test_removing_a_post_moves_last_modified(
    client: TestClient, db: sqlite3.Connection, entries: None, remove
) -> None:
    first = await client.get("/feed.rss")
    old = posts.get_by_slug(db, "old-older")
    assert old is not None
    # Pretend the feed was fetched long ago, then the oldest entry is deleted now.
    stale = "Mon, 01 Jan 2001 00:00:00 GMT"
    db.execute("UPDATE posts SET updated_at = 978307200, published_at = 978307200")
    db.execute("DELETE FROM site_state")
    assert (await client.get("/feed.rss", headers={"If-Modified-Since": stale})).status == 304
    remove(db, old.id)
    response = await client.get("/feed.rss", headers={"If-Modified-Since": stale})
    assert response.status == 200
    assert "Old &amp; &lt;older&gt;" not in await response.text()
    assert first.headers["ETag"] != response.headers["ETag"]


async def test_a_current_feed_gets_304_without_being_built(
    client: TestClient, entries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await client.get("/feed.atom")

    def no_build(*args: object) -> bytes:
        raise AssertionError("built although the client's copy is current")

    monkeypatch.setitem(feed_views.FORMATS, "atom", (no_build, "application/atom+xml"))
    again = await client.get("/feed.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304


@pytest.mark.parametrize("path", ["/feed.atom", "/sitemap.xml"])
async def test_a_last_modified_of_the_current_second_is_no_ground_for_304(
    client: TestClient, db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Another change may come within the same second (an import's, attack3 finding 05):
    RFC 9110 8.8.2.2 calls such a date weak, so If-Modified-Since gets the answer."""
    clock = 1_900_000_000
    monkeypatch.setattr(posts, "now_seconds", lambda: clock)
    posts.create_post(db, title="Now", body_md="x", status="published", published_at=clock)
    modified = (await client.get(path)).headers["Last-Modified"]
    assert (await client.get(path, headers={"If-Modified-Since": modified})).status == 200
    clock += 1
    assert (await client.get(path, headers={"If-Modified-Since": modified})).status == 304

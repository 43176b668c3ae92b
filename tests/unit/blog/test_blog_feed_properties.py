"""Every feed is well-formed XML for any text an author can store (property tests)."""

from __future__ import annotations

import sqlite3
from xml.etree import ElementTree as ET

import feedparser
import pytest
from aiohttp.test_utils import TestClient
from blog import db as database
from blog import feeds, posts
from blog.markup import MAX_SOURCE_BYTES
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

NOW = 2_000_000_000
# Every code point a form can deliver: all of Unicode but lone surrogates, which UTF-8
# cannot carry (a body holding their bytes is refused with 400 before anything is stored).
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
NAME = ANY_TEXT.filter(lambda s: s.strip())
FEEDS = [(feeds.atom, "atom10"), (feeds.rss, "rss20")]


def fresh_db() -> sqlite3.Connection:
    conn = database.connect(":memory:")
    database.migrate(conn)
    return conn


def build(title: str, body: str, category: str, tags: list[str], site_title: str) -> list[bytes]:
    conn = fresh_db()
    draft = posts.Draft(title, body, "post", "published", NOW - 10, "", category, tags)
    posts.save_post(conn, draft, author_id=None, now=NOW - 10)
    entries = posts.list_visible(conn, NOW, feeds.FEED_SIZE)
    info = feeds.FeedInfo(site_title, "https://blog.example", "/", "/feed.atom", NOW)
    return [build_feed(conn, info, entries) for build_feed, _ in FEEDS]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=ANY_TEXT,
    body=ANY_TEXT,
    category=NAME,
    tags=st.lists(NAME, max_size=3),
    site_title=ANY_TEXT,
)
@example(title="\x1d", body="", category="c", tags=[], site_title="t")  # the title
@example(
    title="\x00\ufffe\uffff\x0b",
    body="<b>\x1f</b>",
    category="\x01",
    tags=["\x02"],
    site_title="\x0c",
)
def test_feeds_parse_for_any_text(
    title: str, body: str, category: str, tags: list[str], site_title: str
) -> None:
    for document, (_, version) in zip(
        build(title, body, category, tags, site_title), FEEDS, strict=True
    ):
        ET.fromstring(document)  # raises on anything that is not well-formed XML
        parsed = feedparser.parse(document)
        assert parsed.bozo == 0, (parsed.get("bozo_exception"), document[:500])
        assert parsed.version == version
        assert len(parsed.entries) == 1


@pytest.mark.parametrize("character", ["\x1d", "\x00", "\x0b", "\ufffe", "\uffff"])
async def test_a_title_xml_cannot_carry_does_not_break_the_served_feeds(
    client: TestClient, db: sqlite3.Connection, character: str
) -> None:
    posts.create_post(db, title=f"bad{character}title", body_md="x", status="published")
    for path in ("/feed.atom", "/feed.rss"):
        document = await (await client.get(path)).read()
        assert feedparser.parse(document).bozo == 0
        assert feedparser.parse(document).entries[0].title == "badtitle"


@pytest.mark.parametrize("path", ["/feed.atom", "/feed.rss"])
async def test_a_feed_carries_text_up_to_its_budget_then_titles_and_links(
    client: TestClient, db: sqlite3.Connection, path: str
) -> None:
    """Twenty posts at the size limit made a 21 MB feed, built on the loop at every fetch."""
    body = "word " * (MAX_SOURCE_BYTES // 5 - 1)
    for n in range(feeds.FEED_SIZE):
        posts.create_post(db, title=f"Big {n}", body_md=body, status="published")
    document = await (await client.get(path)).read()
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0 and len(parsed.entries) == feeds.FEED_SIZE
    assert len(document) < feeds.FEED_TEXT_BUDGET * 1.5
    with_text = [e for e in parsed.entries if e.get("summary") or e.get("content")]
    assert 0 < len(with_text) < feeds.FEED_SIZE
    assert all(e.link.endswith(f"/posts/big-{n}") for n, e in enumerate(reversed(parsed.entries)))

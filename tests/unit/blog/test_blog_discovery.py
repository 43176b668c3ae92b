"""Reading and discovery: excerpts with "Read more", the month archive in the site's
time zone, and search snippets highlighted and escaped."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient
from blog import discovery, keys, posts
from blog.markup import MORE, render_markdown

NOW = posts.now_seconds()


def publish(db: sqlite3.Connection, title: str, body: str, at: int | None = None) -> posts.Post:
    return posts.create_post(
        db, title=title, body_md=body, status="published", published_at=at or NOW - 60
    )


async def test_the_marker_ends_the_excerpt_and_the_post_shows_everything(
    client: TestClient, db: sqlite3.Connection
) -> None:
    publish(db, "Marked", "Opening words.\n\nStill the excerpt.\n\n<!--more-->\n\nThe rest here.")
    listing = await (await client.get("/")).text()
    assert "Still the excerpt." in listing and "The rest here." not in listing
    assert '<a href="/posts/marked">Read more' in listing
    page = await (await client.get("/posts/marked")).text()
    assert "Still the excerpt." in page and "The rest here." in page


async def test_without_a_marker_the_first_paragraph_is_the_excerpt(
    client: TestClient, db: sqlite3.Connection
) -> None:
    publish(db, "Plain", "First paragraph.\n\nSecond paragraph.")
    publish(db, "Short", "Only one paragraph.")
    listing = await (await client.get("/")).text()
    assert "First paragraph." in listing and "Second paragraph." not in listing
    assert listing.count("Read more") == 1  # nothing more to read of "Short"


@pytest.mark.parametrize(
    ("source", "marked"),
    [
        ("a\n\n<!--more-->\n\nb", True),
        ("a\n\n  <!-- more -->  \n\nb", True),
        ("```\n<!--more-->\n```\n\nb", False),  # inside code: shown as code
        ("a <!--more--> b", False),  # not a line of its own
        ("a\n\n<!--more--><script>x</script>\n\nb", False),
    ],
)
def test_the_marker_is_a_line_of_its_own_outside_code(source: str, marked: bool) -> None:
    html = render_markdown(source)
    assert (MORE in html) is marked
    assert "<script>" not in html


def test_an_author_written_comment_never_passes_as_the_marker() -> None:
    assert "<!--" not in render_markdown("a <!-- hidden --> b\n\n<!-- other -->")


async def test_the_archive_groups_posts_by_month_in_the_site_zone(make_client) -> None:
    client = await make_client(timezone="Europe/Paris")
    db = client.server.app[keys.DB]
    # 23:30 UTC on 31 January is 00:30 on 1 February in Paris.
    late = int(datetime(2026, 1, 31, 23, 30, tzinfo=UTC).timestamp())
    publish(db, "Midnight", "x", at=late)
    publish(db, "Earlier", "x", at=late - 40 * 86400)
    index = await (await client.get("/archive")).text()
    assert '<a href="/archive/2026/02">February 2026</a>' in index
    assert '<a href="/archive/2025/12">December 2025</a>' in index
    assert index.index("February 2026") < index.index("December 2025")
    february = await client.get("/archive/2026/02")
    assert february.status == 200 and "Midnight" in await february.text()
    assert (await client.get("/archive/2026/01")).status == 404
    assert (await client.get("/archive/2026/13")).status == 404


async def test_search_results_show_the_matched_words_highlighted_and_escaped(
    client: TestClient, db: sqlite3.Connection
) -> None:
    publish(db, "Zoo", "We saw a <script>alert(1)</script> giraffe eating \x02 leaves.")
    body = await (await client.get("/search?q=giraffe")).text()
    assert "<mark>giraffe</mark>" in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    assert "\x02" not in body and "\x03" not in body


def test_highlight_escapes_everything_but_its_own_marks() -> None:
    assert str(discovery.highlight("a \x02<b>\x03 \x02c")) == "a <mark>&lt;b&gt;</mark> c"

"""Sharing and search engines: Open Graph and Twitter cards, descriptions and canonical
URLs on every page type, page titles, sitemap.xml (checked against the Sitemaps
protocol's XML schema), robots.txt, the favicon, feeds with absolute links, site
settings, and renamed URL names."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from aiohttp.test_utils import TestClient
from blog import keys, media, posts, sharing, sitesettings
from blog.config import Settings
from blog.timefmt import iso8601
from blog_testkit import add_user, login, post_form, tiny_png
from lxml import etree

NOW = posts.now_seconds()
PUBLIC_URL = "https://blog.example"
DASH = "\N{EN DASH}"  # between the parts of a page title
OG_REQUIRED = ("og:title", "og:type", "og:image", "og:url")  # https://ogp.me/#metadata

# The schema sitemaps.org publishes for the protocol, version 0.9
# (https://www.sitemaps.org/schemas/sitemap/0.9/sitemap.xsd), annotations left out.
SITEMAP_XSD = b"""<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    targetNamespace="http://www.sitemaps.org/schemas/sitemap/0.9"
    xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" elementFormDefault="qualified">
  <xsd:element name="urlset">
    <xsd:complexType>
      <xsd:sequence>
        <xsd:any namespace="##other" processContents="strict" minOccurs="0" maxOccurs="unbounded"/>
        <xsd:element ref="url" maxOccurs="unbounded"/>
      </xsd:sequence>
    </xsd:complexType>
  </xsd:element>
  <xsd:element name="url">
    <xsd:complexType>
      <xsd:sequence>
        <xsd:element name="loc" type="tLoc"/>
        <xsd:element name="lastmod" type="tLastmod" minOccurs="0"/>
        <xsd:element name="changefreq" type="tChangeFreq" minOccurs="0"/>
        <xsd:element name="priority" type="tPriority" minOccurs="0"/>
        <xsd:any namespace="##other" processContents="strict" minOccurs="0" maxOccurs="unbounded"/>
      </xsd:sequence>
    </xsd:complexType>
  </xsd:element>
  <xsd:simpleType name="tLoc">
    <xsd:restriction base="xsd:anyURI">
      <xsd:minLength value="12"/>
      <xsd:maxLength value="2048"/>
    </xsd:restriction>
  </xsd:simpleType>
  <xsd:simpleType name="tLastmod">
    <xsd:union>
      <xsd:simpleType><xsd:restriction base="xsd:date"/></xsd:simpleType>
      <xsd:simpleType><xsd:restriction base="xsd:dateTime"/></xsd:simpleType>
    </xsd:union>
  </xsd:simpleType>
  <xsd:simpleType name="tChangeFreq">
    <xsd:restriction base="xsd:string">
      <xsd:enumeration value="always"/>
      <xsd:enumeration value="hourly"/>
      <xsd:enumeration value="daily"/>
      <xsd:enumeration value="weekly"/>
      <xsd:enumeration value="monthly"/>
      <xsd:enumeration value="yearly"/>
      <xsd:enumeration value="never"/>
    </xsd:restriction>
  </xsd:simpleType>
  <xsd:simpleType name="tPriority">
    <xsd:restriction base="xsd:decimal">
      <xsd:minInclusive value="0.0"/>
      <xsd:maxInclusive value="1.0"/>
    </xsd:restriction>
  </xsd:simpleType>
</xsd:schema>
"""
SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", public_url=PUBLIC_URL, title="My blog")


class _Head(HTMLParser):
    """The <title>, <meta> (by name or property) and <link rel> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("property" in a or "name" in a):
            self.meta[a.get("property") or a["name"]] = a.get("content", "")
        elif tag == "link" and "rel" in a:
            self.links.setdefault(a["rel"], a.get("href", ""))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


async def head_of(client: TestClient, path: str) -> _Head:
    response = await client.get(path)
    assert response.status == 200, path
    head = _Head()
    head.feed(await response.text())
    return head


@pytest.fixture
def site(db: sqlite3.Connection) -> dict[str, posts.Post]:
    return make_site(db)


def make_site(db: sqlite3.Connection) -> dict[str, posts.Post]:
    """One of each: posts (one with an image), a story, a draft, a scheduled post, one in
    the trash; categories and tags."""
    made = {
        "pasta": posts.create_post(
            db, title="Pasta & <sauce>", status="published", published_at=NOW - 300,
            body_md="Boil **water**, then salt it.\n\nMore.\n\n![A pot](/media/pot.png)",
            category="Cooking", tags=["kitchen"],
        ),
        "bread": posts.create_post(
            db, title="Bread", body_md="Flour.", status="published", published_at=NOW - 200,
            category="Cooking",
        ),
        "about": posts.create_post(
            db, title="About", body_md="Me.", status="published", published_at=NOW - 100,
            kind="story",
        ),
        "draft": posts.create_post(db, title="Secret draft", body_md="no", category="Hidden"),
        "later": posts.create_post(
            db, title="Later", body_md="no", status="published", published_at=NOW + 3600,
            tags=["unreleased"],
        ),
        "gone": posts.create_post(
            db, title="Gone", body_md="no", status="published", published_at=NOW - 50
        ),
    }  # fmt: skip
    posts.move_to_trash(db, made["gone"].id, None)
    return made


PAGE_TYPES = [
    "/",
    "/posts/pasta-sauce",
    "/stories/about",
    "/stories/",
    "/category/cooking",
    "/category/cooking?page=2",
    "/tag/kitchen",
    "/categories",
    "/search?q=flour",
]


@pytest.mark.parametrize("path", PAGE_TYPES)
async def test_every_page_type_carries_open_graph_and_a_canonical_url(
    site_fixture_client: TestClient, path: str
) -> None:
    head = await head_of(site_fixture_client, path)
    for prop in OG_REQUIRED:
        assert head.meta.get(prop), f"{path}: no {prop}"
    for prop in ("og:url", "og:image"):
        parts = urlsplit(head.meta[prop])
        assert (parts.scheme, parts.netloc) == ("https", "blog.example"), (path, prop)
    assert head.links["canonical"] == head.meta["og:url"]
    assert head.meta["description"] and head.meta["og:description"] == head.meta["description"]
    assert head.meta["twitter:card"] == "summary_large_image"
    assert head.meta["twitter:image"] == head.meta["og:image"]
    assert head.links["icon"] == "/favicon.ico"


@pytest.fixture
async def site_fixture_client(make_client) -> TestClient:
    """A client with posts_per_page=1 (so listings have later pages) and the `site` data."""
    client = await make_client(posts_per_page=1)
    make_site(client.server.app[keys.DB])
    return client


async def test_a_post_is_an_article_with_its_own_image_and_summary(
    client: TestClient, site: dict[str, posts.Post]
) -> None:
    head = await head_of(client, "/posts/pasta-sauce?utm_source=x")
    assert head.meta["og:type"] == "article"
    assert head.meta["og:title"] == "Pasta & <sauce>"
    assert head.meta["og:description"] == "Boil water, then salt it."  # the first paragraph
    assert head.meta["og:image"] == f"{PUBLIC_URL}/media/pot.png"
    assert head.meta["og:url"] == f"{PUBLIC_URL}/posts/pasta-sauce"  # tracking left out
    assert head.meta["article:published_time"].startswith("20")
    assert head.title == f"Pasta & <sauce> {DASH} My blog"


async def test_pages_without_an_image_share_the_default_one(
    client: TestClient, site: dict[str, posts.Post]
) -> None:
    head = await head_of(client, "/posts/bread")
    assert urlsplit(head.meta["og:image"]).path == "/static/share.png"
    image = await client.get(urlsplit(head.meta["og:image"]).path)
    assert image.status == 200 and image.content_type == "image/png"


async def test_listing_titles_are_distinct(site_fixture_client: TestClient) -> None:
    titles = {
        path: (await head_of(site_fixture_client, path)).title
        for path in (
            "/",
            "/?page=2",
            "/category/cooking",
            "/category/cooking?page=2",
            "/tag/kitchen",
        )
    }
    assert titles == {
        "/": "My blog",
        "/?page=2": f"page 2 {DASH} My blog",
        "/category/cooking": f"Cooking {DASH} My blog",
        "/category/cooking?page=2": f"Cooking {DASH} page 2 {DASH} My blog",
        "/tag/kitchen": f"kitchen {DASH} My blog",
    }


async def test_later_pages_are_numbered(site_fixture_client: TestClient) -> None:
    body = await (await site_fixture_client.get("/?page=2")).text()
    assert '<span aria-current="page">2</span>' in body
    assert '<a href="?page=1">1</a>' in body and '<a href="?page=3">3</a>' not in body


async def test_the_sitemap_is_valid_and_lists_only_what_readers_may_see(
    client: TestClient, site: dict[str, posts.Post]
) -> None:
    response = await client.get("/sitemap.xml")
    assert response.status == 200 and response.content_type == "application/xml"
    document = etree.fromstring(await response.read())
    schema = etree.XMLSchema(etree.fromstring(SITEMAP_XSD))
    assert schema.validate(document), schema.error_log
    locs = {loc.text: url for url in document.iterfind("s:url", SITEMAP_NS) for loc in url[:1]}
    expected = {
        f"{PUBLIC_URL}{path}"
        for path in (
            "/", "/posts/pasta-sauce", "/posts/bread", "/stories/about", "/stories/",
            "/category/cooking", "/tag/kitchen",
        )
    }  # fmt: skip
    assert set(locs) == expected  # no draft, scheduled, trashed entry, or their terms
    bread = site["bread"]
    lastmod = locs[f"{PUBLIC_URL}/posts/bread"].findtext("s:lastmod", namespaces=SITEMAP_NS)
    assert lastmod == iso8601(max(bread.updated_at, bread.published_at or 0))
    again = await client.get("/sitemap.xml", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304


async def test_a_scheduled_post_enters_the_sitemap_when_it_comes_out(
    client: TestClient, site: dict[str, posts.Post], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert b"/posts/later" not in await (await client.get("/sitemap.xml")).read()
    monkeypatch.setattr(posts, "now_seconds", lambda: NOW + 3601)
    body = await (await client.get("/sitemap.xml")).read()
    assert b"/posts/later" in body and b"/tag/unreleased" in body


async def test_robots_txt_names_the_sitemap_and_keeps_crawlers_out_of_the_dashboard(
    client: TestClient,
) -> None:
    response = await client.get("/robots.txt")
    assert response.status == 200 and response.content_type == "text/plain"
    lines = (await response.text()).splitlines()
    assert f"Sitemap: {PUBLIC_URL}/sitemap.xml" in lines
    assert "User-agent: *" in lines and "Disallow: /dashboard" in lines
    assert "Disallow: /" not in lines  # the public pages stay crawlable


async def test_the_favicon_is_the_packaged_one_until_another_is_chosen(
    admin_client: TestClient, db: sqlite3.Connection, settings: Settings
) -> None:
    default = await admin_client.get("/favicon.ico")
    assert default.status == 200 and default.content_type == "image/png"
    packaged = await default.read()
    chosen = media.save_media(db, settings.media_dir, tiny_png(), "png", media.Described(alt="Dot"))
    saved = await save_settings(admin_client, favicon=chosen.name)
    assert saved.status == 303
    response = await admin_client.get("/favicon.ico")
    assert await response.read() == tiny_png() != packaged


async def save_settings(client: TestClient, **changes: str):
    values = {
        "title": "My blog", "description": "", "timezone": "UTC", "language": "en",
        "posts_per_page": "10", "share_image": "", "favicon": "", **changes,
    }  # fmt: skip
    return await post_form(client, "/dashboard/settings", "/dashboard/settings", **values)


async def test_settings_are_stored_and_override_the_environment(
    admin_client: TestClient,
    db: sqlite3.Connection,
    site: dict[str, posts.Post],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = await admin_client.get("/feed.atom")
    later = posts.now_seconds() + 60
    monkeypatch.setattr(posts, "now_seconds", lambda: later)  # a later second
    response = await save_settings(
        admin_client, title="Kitchen notes", description="Recipes that work.", language="fr"
    )
    assert response.status == 303
    assert db.execute("SELECT value FROM site_settings WHERE key = 'title'").fetchone()[0] == (
        "Kitchen notes"
    )
    admin_client.session.cookie_jar.clear()  # as a reader
    head = await head_of(admin_client, "/")
    assert head.title == "Kitchen notes" and head.meta["description"] == "Recipes that work."
    page = await (await admin_client.get("/")).text()
    assert '<html lang="fr">' in page
    feed = feedparser.parse(await (await admin_client.get("/feed.atom")).read())
    assert feed.feed.title == "Kitchen notes" and feed.feed.subtitle == "Recipes that work."
    # A reader holding the feed from before the change does not get a 304.
    old_date = before.headers["Last-Modified"]
    moved = await admin_client.get("/feed.atom", headers={"If-Modified-Since": old_date})
    assert moved.status == 200


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "The title must be"),
        ("title", "\x01\x02", "The title must be"),  # only control characters
        ("title", " \x7f\t", "The title must be"),
        ("timezone", "Mars/Olympus", "time zone"),
        ("timezone", "../../etc/passwd", "time zone"),
        ("language", "<script>", "language"),
        ("posts_per_page", "0", "Posts per page"),
        ("posts_per_page", "ten", "Posts per page"),
        ("favicon", "0123456789abcdef0123456789abcdef.png", "favicon"),
    ],
)
async def test_a_bad_setting_is_refused_and_the_form_keeps_what_was_typed(
    admin_client: TestClient, db: sqlite3.Connection, field: str, value: str, message: str
) -> None:
    response = await save_settings(admin_client, description="Kept text", **{field: value})
    body = await response.text()
    assert response.status == 400 and message in body and "Kept text" in body
    assert db.execute("SELECT COUNT(*) FROM site_settings").fetchone()[0] == 0


async def test_only_admins_open_the_settings(client: TestClient) -> None:
    add_user(client, "bob", "author")
    await login(client, "bob")
    assert (await client.get("/dashboard/settings")).status == 403


def test_the_environment_gives_only_the_initial_defaults(db: sqlite3.Connection) -> None:
    env_settings = Settings(title="From env", timezone="Europe/Paris")
    assert sitesettings.load(db, env_settings).title == "From env"
    site = sitesettings.checked(
        {**sitesettings.as_form(sitesettings.load(db, env_settings)), "title": "From page"}, db
    )
    sitesettings.save(db, site, NOW)
    assert sitesettings.load(db, env_settings).title == "From page"
    assert sitesettings.load(db, env_settings).timezone == "Europe/Paris"


async def test_feeds_carry_absolute_links_and_images_and_the_authors_name(
    client: TestClient, db: sqlite3.Connection
) -> None:
    author = add_user(client, "cook", "author")
    db.execute("UPDATE users SET display_name = 'Ada Cook' WHERE id = ?", (author.id,))
    posts.create_post(
        db, title="Linked", status="published", published_at=NOW - 10, author_id=author.id,
        body_md="See [the other](/posts/bread) and ![a pot](/media/pot.png) and [x](https://e.org/).",
    )  # fmt: skip
    atom = feedparser.parse(await (await client.get("/feed.atom")).read())
    content = atom.entries[0].content[0].value
    assert f'href="{PUBLIC_URL}/posts/bread"' in content
    assert f'src="{PUBLIC_URL}/media/pot.png"' in content
    assert 'href="https://e.org/"' in content
    assert atom.entries[0].author == "Ada Cook"
    rss = await (await client.get("/feed.rss")).text()
    assert f'src="{PUBLIC_URL}/media/pot.png"' in feedparser.parse(rss).entries[0].description
    assert "<dc:creator>Ada Cook</dc:creator>" in rss


async def test_a_renamed_post_keeps_its_old_url_with_a_301(
    client: TestClient, db: sqlite3.Connection
) -> None:
    post = posts.create_post(db, title="First name", body_md="x", status="published",
                             published_at=NOW - 10)  # fmt: skip
    draft = posts.stored_draft(db, post)
    posts.save_post(db, replace(draft, slug="second-name"), author_id=None, post_id=post.id)
    response = await client.get("/posts/first-name", allow_redirects=False)
    assert response.status == 301 and response.headers["Location"] == "/posts/second-name"
    assert (await client.get("/posts/second-name")).status == 200
    # A new entry that takes the old name wins over the redirect.
    posts.create_post(db, title="First name", body_md="y", status="published",
                      published_at=NOW - 5)  # fmt: skip
    assert (await client.get("/posts/first-name", allow_redirects=False)).status == 200
    # The old name of an entry that is not public answers like any unknown name.
    hidden = posts.create_post(db, title="Hidden", body_md="x", slug="hidden-old")
    posts.save_post(
        db, replace(posts.stored_draft(db, hidden), slug="hidden-new"), author_id=None,
        post_id=hidden.id,
    )  # fmt: skip
    assert (await client.get("/posts/hidden-old", allow_redirects=False)).status == 404


async def test_the_edit_link_shows_only_to_whoever_may_edit(
    client: TestClient, db: sqlite3.Connection
) -> None:
    alice = add_user(client, "alice", "author")
    add_user(client, "bob", "author")
    post = posts.create_post(db, title="Hers", body_md="x", status="published",
                             published_at=NOW - 10, author_id=alice.id)  # fmt: skip
    edit = f'href="/dashboard/posts/{post.id}">Edit</a>'
    assert edit not in await (await client.get("/posts/hers")).text()
    await login(client, "bob")
    assert edit not in await (await client.get("/posts/hers")).text()
    client.session.cookie_jar.clear()
    await login(client, "alice")
    assert edit in await (await client.get("/posts/hers")).text()


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("x.png", f"{PUBLIC_URL}/posts/x.png"),
        ("/media/pot.png", f"{PUBLIC_URL}/media/pot.png"),
        ("//cdn.example/a.png", "https://cdn.example/a.png"),
        ("HTTPS://cdn.example/a.png", "https://cdn.example/a.png"),
        ("http://cdn.example/a.png", "http://cdn.example/a.png"),
    ],
)
async def test_og_image_is_the_src_resolved_against_the_posts_url(
    client: TestClient, db: sqlite3.Connection, src: str, expected: str
) -> None:
    """As a browser resolves it (attack3 finding 06: `//host/x` and `HTTPS://` were glued
    to the origin)."""
    posts.create_post(
        db, title="Pic", body_md=f"![a]({src})", status="published", published_at=NOW - 60
    )
    head = await head_of(client, "/posts/pic")
    assert head.meta["og:image"] == head.meta["twitter:image"] == expected


def test_an_image_url_is_only_http_or_https() -> None:
    base = f"{PUBLIC_URL}/posts/pic"
    assert sharing.image_url("data:image/png;base64,AAAA", base) is None
    assert sharing.image_url("ftp://host/a.png", base) is None
    assert sharing.image_url(" x.png ", base) == f"{PUBLIC_URL}/posts/x.png"


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("/?page=01", f"{PUBLIC_URL}/"),
        ("/?page=1", f"{PUBLIC_URL}/"),
        ("/?page=02", f"{PUBLIC_URL}/?page=2"),
        ("/?page=0002&utm_source=x", f"{PUBLIC_URL}/?page=2"),
        ("/category/cooking?page=002", f"{PUBLIC_URL}/category/cooking?page=2"),
    ],
)
async def test_the_canonical_url_carries_the_plain_page_number(
    site_fixture_client: TestClient, path: str, canonical: str
) -> None:
    head = await head_of(site_fixture_client, path)
    assert head.links["canonical"] == head.meta["og:url"] == canonical


async def test_control_characters_are_left_out_of_the_title_and_description(
    admin_client: TestClient,
) -> None:
    saved = await save_settings(admin_client, title="My\x01 blog\x1b", description="A\x00 b")
    assert saved.status == 303
    head = await head_of(admin_client, "/")
    assert head.title == "My blog" and head.meta["og:site_name"] == "My blog"
    assert "<title>My blog</title>" in await (await admin_client.get("/feed.atom")).text()

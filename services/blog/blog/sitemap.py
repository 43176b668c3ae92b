"""sitemap.xml (the Sitemaps protocol 0.9, https://www.sitemaps.org/protocol.html) and
robots.txt: what search engines are told.

The sitemap lists only what a reader may see, by the one visibility rule
(posts.VISIBLE_SQL through posts.list_visible and posts.terms_in_use): the front page,
every visible post and story with its last change, the story list, and the category
and tag pages in use. One file holds at most MAX_URLS (the protocol's 50,000).
"""

from __future__ import annotations

import sqlite3
from xml.etree import ElementTree as ET

from . import posts
from .feeds import xml_element
from .timefmt import iso8601

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
MAX_URLS = 50_000
# Never to be crawled: the dashboard, the forms that log in or set a password, and search
# (endless result pages).
PRIVATE_PATHS = ("/dashboard", "/login", "/setup/", "/password-link/", "/search")


def sitemap(conn: sqlite3.Connection, origin: str, now: int) -> bytes:
    """The sitemap XML: absolute URLs on `origin`, lastmod in UTC (RFC 3339)."""
    ET.register_namespace("", SITEMAP_NS)
    q = f"{{{SITEMAP_NS}}}"
    root = ET.Element(f"{q}urlset")

    def add(path: str, lastmod: int | None = None) -> None:
        url = xml_element(root, f"{q}url")
        xml_element(url, f"{q}loc", origin + path)
        if lastmod:
            xml_element(url, f"{q}lastmod", iso8601(lastmod))

    add("/", posts.last_change(conn, now, posts.Listing(kind="post")))
    terms = [
        (prefix, term)
        for table, prefix in (("categories", "/category/"), ("tags", "/tag/"))
        for term, _count in posts.terms_in_use(conn, table, now)
    ]
    room = MAX_URLS - 2 - len(terms)
    entries = posts.list_visible(conn, now, room, 0, posts.Listing(kind=None), shape=posts.Entry)
    if any(entry.kind == "story" for entry in entries):
        add("/stories/")
    for entry in entries:
        add(entry.path, max(entry.updated_at, entry.published_at or 0))
    for prefix, term in terms:
        add(prefix + term.slug)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def robots_txt(origin: str) -> str:
    """robots.txt (RFC 9309): everything public may be crawled; the sitemap is named."""
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in PRIVATE_PATHS)]
    return "\n".join([*lines, "", f"Sitemap: {origin}/sitemap.xml", ""])

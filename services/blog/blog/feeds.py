"""Atom (RFC 4287) and RSS 2.0 documents built with ElementTree (escaping is its job).

Every text and attribute value passes through `xml_text`, which removes what XML 1.0
cannot carry at all (escaped or not): one title holding U+001D made every feed
unparseable for every subscriber. Any XML the blog writes later uses `_sub` too.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from . import posts
from .timefmt import iso8601, rfc822

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_SIZE = 20


@dataclass(frozen=True, slots=True)
class FeedInfo:
    title: str
    base_url: str  # scheme://host as the reader sees it
    html_path: str  # the page this feed mirrors
    self_path: str
    updated: int


# The complement of XML 1.0's Char production (section 2.2): C0 controls other than
# tab, LF and CR; surrogates; U+FFFE and U+FFFF.
NOT_XML_CHAR = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """`value` without the characters XML 1.0 cannot represent."""
    return NOT_XML_CHAR.sub("", value)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """A child element; its text and attribute values are made representable in XML."""
    element = ET.SubElement(parent, tag, {key: xml_text(v) for key, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def _category_names(conn: sqlite3.Connection, entries: Sequence[posts.Post]) -> dict[int, str]:
    names: dict[int, str] = {}
    for entry in entries:
        category = posts.category_of(conn, entry)
        if category is not None:
            names[entry.id] = category.name
    return names


def atom(conn: sqlite3.Connection, info: FeedInfo, entries: Sequence[posts.Post]) -> bytes:
    ET.register_namespace("", ATOM_NS)
    q = f"{{{ATOM_NS}}}"
    feed = ET.Element(f"{q}feed")
    _sub(feed, f"{q}id", info.base_url + info.self_path)
    _sub(feed, f"{q}title", info.title)
    _sub(feed, f"{q}updated", iso8601(info.updated))
    _sub(
        feed,
        f"{q}link",
        rel="self",
        type="application/atom+xml",
        href=info.base_url + info.self_path,
    )
    _sub(feed, f"{q}link", rel="alternate", type="text/html", href=info.base_url + info.html_path)
    author = _sub(feed, f"{q}author")
    _sub(author, f"{q}name", info.title)
    categories = _category_names(conn, entries)
    for post in entries:
        url = info.base_url + post.path
        entry = _sub(feed, f"{q}entry")
        _sub(entry, f"{q}id", url)
        _sub(entry, f"{q}title", post.title)
        _sub(entry, f"{q}published", iso8601(post.published_at))
        _sub(entry, f"{q}updated", iso8601(max(post.updated_at, post.published_at or 0)))
        _sub(entry, f"{q}link", rel="alternate", type="text/html", href=url)
        if post.id in categories:
            _sub(entry, f"{q}category", term=categories[post.id])
        _sub(entry, f"{q}content", post.body_html, type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def rss(conn: sqlite3.Connection, info: FeedInfo, entries: Sequence[posts.Post]) -> bytes:
    root = ET.Element("rss", version="2.0")
    channel = _sub(root, "channel")
    _sub(channel, "title", info.title)
    _sub(channel, "link", info.base_url + info.html_path)
    _sub(channel, "description", info.title)
    _sub(channel, "lastBuildDate", rfc822(info.updated))
    categories = _category_names(conn, entries)
    for post in entries:
        url = info.base_url + post.path
        item = _sub(channel, "item")
        _sub(item, "title", post.title)
        _sub(item, "link", url)
        _sub(item, "guid", url, isPermaLink="true")
        _sub(item, "pubDate", rfc822(post.published_at or post.created_at))
        if post.id in categories:
            _sub(item, "category", categories[post.id])
        _sub(item, "description", post.body_html)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)

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
# Text carried in one feed, in characters of HTML: every fetch (a 304 too, for its
# ETag) builds the feed on the event loop, and 20 posts at the size limit made 21 MB
# and 125 ms of it. Past the budget, entries carry title and link only.
FEED_TEXT_BUDGET = 1024 * 1024


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


def _texts(entries: Sequence[posts.Article]) -> list[str | None]:
    """Each entry's HTML while the feed's FEED_TEXT_BUDGET lasts; None after."""
    budget, texts = FEED_TEXT_BUDGET, []
    for post in entries:
        budget -= len(post.body_html)
        texts.append(post.body_html if budget >= 0 else None)
    return texts


def _category_names(conn: sqlite3.Connection, entries: Sequence[posts.Article]) -> dict[int, str]:
    names: dict[int, str] = {}
    for entry in entries:
        category = posts.category_of(conn, entry)
        if category is not None:
            names[entry.id] = category.name
    return names


def atom(conn: sqlite3.Connection, info: FeedInfo, entries: Sequence[posts.Article]) -> bytes:
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
    for post, text in zip(entries, _texts(entries), strict=True):
        url = info.base_url + post.path
        entry = _sub(feed, f"{q}entry")
        _sub(entry, f"{q}id", url)
        _sub(entry, f"{q}title", post.title)
        _sub(entry, f"{q}published", iso8601(post.published_at))
        _sub(entry, f"{q}updated", iso8601(max(post.updated_at, post.published_at or 0)))
        _sub(entry, f"{q}link", rel="alternate", type="text/html", href=url)
        if post.id in categories:
            _sub(entry, f"{q}category", term=categories[post.id])
        if text is not None:
            _sub(entry, f"{q}content", text, type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def rss(conn: sqlite3.Connection, info: FeedInfo, entries: Sequence[posts.Article]) -> bytes:
    root = ET.Element("rss", version="2.0")
    channel = _sub(root, "channel")
    _sub(channel, "title", info.title)
    _sub(channel, "link", info.base_url + info.html_path)
    _sub(channel, "description", info.title)
    _sub(channel, "lastBuildDate", rfc822(info.updated))
    categories = _category_names(conn, entries)
    for post, text in zip(entries, _texts(entries), strict=True):
        url = info.base_url + post.path
        item = _sub(channel, "item")
        _sub(item, "title", post.title)
        _sub(item, "link", url)
        _sub(item, "guid", url, isPermaLink="true")
        _sub(item, "pubDate", rfc822(post.published_at or post.created_at))
        if post.id in categories:
            _sub(item, "category", categories[post.id])
        if text is not None:
            _sub(item, "description", text)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)

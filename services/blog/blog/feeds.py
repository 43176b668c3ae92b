"""Atom (RFC 4287) and RSS 2.0 documents built with ElementTree (escaping is its job).

Every text and attribute value passes through `xml_text`, which removes what XML 1.0
cannot carry at all (escaped or not): one title holding U+001D made every feed
unparseable for every subscriber. Any XML the blog writes later uses `xml_element` too.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from xml.etree import ElementTree as ET

from . import posts, users
from .timefmt import iso8601, rfc822

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"  # dc:creator: RSS 2.0's <author> wants an email
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
    description: str = ""
    zone: tzinfo = UTC  # the site's time zone: dates carry its exact offset


# The complement of XML 1.0's Char production (section 2.2): C0 controls other than
# tab, LF and CR; surrogates; U+FFFE and U+FFFF.
NOT_XML_CHAR = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """`value` without the characters XML 1.0 cannot represent."""
    return NOT_XML_CHAR.sub("", value)


def xml_element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """A child element; its text and attribute values are made representable in XML."""
    element = ET.SubElement(parent, tag, {key: xml_text(v) for key, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


# A link or image on this site, as sanitized HTML writes it (markup.sanitize: attribute
# values in double quotes): a path from the root, not a scheme-relative //host.
_SITE_PATH = re.compile(r'(<(?:a|img)\s[^>]*?\b(?:href|src)=")/(?!/)')


def absolute_links(html: str, origin: str) -> str:
    """`html` with every root-relative href and src made absolute on `origin`: a feed
    reader resolves links against the feed or not at all (images would break)."""
    return _SITE_PATH.sub(lambda found: f"{found.group(1)}{origin}/", html)


def _texts(entries: Sequence[posts.Article], origin: str) -> list[str | None]:
    """Each entry's HTML (links absolute) while FEED_TEXT_BUDGET lasts; None after."""
    budget, texts = FEED_TEXT_BUDGET, []
    for post in entries:
        budget -= len(post.body_html)
        texts.append(absolute_links(post.body_html, origin) if budget >= 0 else None)
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
    xml_element(feed, f"{q}id", info.base_url + info.self_path)
    xml_element(feed, f"{q}title", info.title)
    if info.description:
        xml_element(feed, f"{q}subtitle", info.description)
    xml_element(feed, f"{q}updated", iso8601(info.updated, info.zone))
    xml_element(
        feed,
        f"{q}link",
        rel="self",
        type="application/atom+xml",
        href=info.base_url + info.self_path,
    )
    xml_element(
        feed, f"{q}link", rel="alternate", type="text/html", href=info.base_url + info.html_path
    )
    author = xml_element(feed, f"{q}author")
    xml_element(author, f"{q}name", info.title)
    categories = _category_names(conn, entries)
    authors = users.public_names(conn, (post.author_id for post in entries))
    for post, text in zip(entries, _texts(entries, info.base_url), strict=True):
        url = info.base_url + post.path
        entry = xml_element(feed, f"{q}entry")
        xml_element(entry, f"{q}id", url)
        xml_element(entry, f"{q}title", post.title)
        xml_element(entry, f"{q}published", iso8601(post.published_at, info.zone))
        changed = max(post.updated_at, post.published_at or 0)
        xml_element(entry, f"{q}updated", iso8601(changed, info.zone))
        xml_element(entry, f"{q}link", rel="alternate", type="text/html", href=url)
        if post.author_id in authors:
            xml_element(xml_element(entry, f"{q}author"), f"{q}name", authors[post.author_id])
        if post.id in categories:
            xml_element(entry, f"{q}category", term=categories[post.id])
        if text is not None:
            xml_element(entry, f"{q}content", text, type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def rss(conn: sqlite3.Connection, info: FeedInfo, entries: Sequence[posts.Article]) -> bytes:
    ET.register_namespace("dc", DC_NS)
    root = ET.Element("rss", version="2.0")
    channel = xml_element(root, "channel")
    xml_element(channel, "title", info.title)
    xml_element(channel, "link", info.base_url + info.html_path)
    xml_element(channel, "description", info.description or info.title)
    xml_element(channel, "lastBuildDate", rfc822(info.updated, info.zone))
    categories = _category_names(conn, entries)
    authors = users.public_names(conn, (post.author_id for post in entries))
    for post, text in zip(entries, _texts(entries, info.base_url), strict=True):
        url = info.base_url + post.path
        item = xml_element(channel, "item")
        xml_element(item, "title", post.title)
        xml_element(item, "link", url)
        xml_element(item, "guid", url, isPermaLink="true")
        xml_element(item, "pubDate", rfc822(post.published_at or post.created_at, info.zone))
        if post.author_id in authors:
            xml_element(item, f"{{{DC_NS}}}creator", authors[post.author_id])
        if post.id in categories:
            xml_element(item, "category", categories[post.id])
        if text is not None:
            xml_element(item, "description", text)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)

"""Markdown to safe HTML: markdown-it-py renders, nh3 (ammonia) sanitizes.

The sanitizer is the security boundary, not the renderer: raw HTML in Markdown is
allowed through the renderer and then cleaned by an allow-list, so no post can run
script in a reader's browser whatever its source says.
"""

from __future__ import annotations

import re
import unicodedata

import nh3
from markdown_it import MarkdownIt

_renderer = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(
    ["table", "strikethrough"]
)

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "code": {"class"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def sanitize(html: str) -> str:
    """Keep only allow-listed tags, attributes and URL schemes."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Markdown source to sanitized HTML, ready to be marked safe in templates."""
    return sanitize(_renderer.render(source))


def plain_text(html: str) -> str:
    """Visible text of sanitized HTML, for summaries and search snippets."""
    text = nh3.clean(html, tags=set())
    return re.sub(r"\s+", " ", text).strip()


def slugify(text: str, fallback: str = "post") -> str:
    """ASCII, lowercase, hyphen-separated; never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].strip("-") or fallback

"""What a page tells link previews and search engines: its title, description, canonical
URL, image and type (Open Graph, https://ogp.org; Twitter cards), and the page title.

Every page gets a Card (templating.render makes one when the handler gave none), so
every page carries og:title, og:type, og:image and og:url, the four the Open Graph
protocol requires. Every URL in a card is absolute, on the configured public origin
(Settings.link_origin), never the request's Host.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

from aiohttp import web

from . import keys, posts
from .markup import plain_text
from .sitesettings import SiteSettings
from .views.static import static_url

DESCRIPTION_CHARS = 200
TITLE_SEPARATOR = " \N{EN DASH} "
# Query parameters that make a different page; others (tracking, typos) are not canonical.
CANONICAL_QUERY = ("q", "page")
_FIRST_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.DOTALL)
_FIRST_IMAGE = re.compile(r'<img [^>]*?src="([^"]+)"')
DEFAULT_IMAGE = "share.png"  # packaged in static/, used when no other image applies


@dataclass(frozen=True, slots=True)
class Card:
    """One page's sharing data; `url` and `image` absolute, `published` Unix seconds."""

    title: str
    description: str
    url: str
    image: str
    type: str = "website"  # "article" for an entry
    published: int | None = None
    modified: int | None = None
    author: str = ""


def page_title(parts: Sequence[str], site: SiteSettings) -> str:
    """The <title>: the page's own parts, then the site , joined by en dashes."""
    return TITLE_SEPARATOR.join([*(p for p in parts if p), site.title])


def listing_parts(name: str, page: int) -> list[str]:
    """Title parts of a listing: its name and, past the first, the page number."""
    return [name, f"page {page}" if page > 1 else ""]


def absolute(request: web.Request, path: str) -> str:
    """`path` on the public origin; absolute URLs are returned as they are."""
    if path.startswith(("https://", "http://")):
        return path
    return request.app[keys.SETTINGS].link_origin + path


def canonical_url(request: web.Request) -> str:
    """The page's one URL: public origin, path, and only the query that selects content
    (the page number as a plain number, none for page 1: that is the bare path)."""
    query = [(name, request.query[name]) for name in CANONICAL_QUERY if request.query.get(name)]
    query = [(name, value) for name, value in query if name != "page"]
    page = request.query.get("page", "")
    if page.isascii() and page.isdigit() and int(page) > 1:  # 02 is page 2: one URL for it
        query.append(("page", str(int(page))))
    return absolute(request, request.path + (f"?{urlencode(query)}" if query else ""))


def site_image(request: web.Request, site: SiteSettings) -> str:
    """The default sharing image: the one chosen in the settings, else the packaged one."""
    if site.share_image:
        return absolute(request, f"/media/{site.share_image}")
    return absolute(request, static_url(DEFAULT_IMAGE))


def summary(body_html: str, limit: int = DESCRIPTION_CHARS) -> str:
    """Plain text of the first paragraph (or of the whole text when there is none),
    cut at a word before `limit` characters with an ellipsis."""
    found = _FIRST_PARAGRAPH.search(body_html)
    text = html.unescape(plain_text(found.group(1) if found else body_html))
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def first_image(body_html: str) -> str | None:
    """The src of the first image in sanitized HTML, or None."""
    found = _FIRST_IMAGE.search(body_html)
    return html.unescape(found.group(1)) if found else None


def image_url(src: str, base: str) -> str | None:
    """An image's `src` as an absolute http(s) URL, resolved against `base` (the page's
    own absolute URL) as a browser resolves it (RFC 3986 section 5; `//host/x`, `x.png`,
    `HTTPS://...`); None for any other scheme (data:, javascript:)."""
    resolved = urlsplit(urljoin(base, src.strip()))
    if resolved.scheme not in ("http", "https") or not resolved.netloc:
        return None
    return resolved.geturl()


def site_card(request: web.Request, site: SiteSettings, title: str = "") -> Card:
    """The card of a page that is not one entry: the site's description and image."""
    return Card(
        title=title or site.title,
        description=site.description or site.title,
        url=canonical_url(request),
        image=site_image(request, site),
    )


def entry_card(request: web.Request, site: SiteSettings, entry: posts.Article, author: str) -> Card:
    """The card of one entry: an article, with the first image of its text."""
    url = canonical_url(request)
    src = first_image(entry.body_html)
    image = image_url(src, url) if src else None
    return Card(
        title=entry.title,
        description=summary(entry.body_html) or site.description or site.title,
        url=url,
        image=image or site_image(request, site),
        type="article",
        published=entry.published_at,
        modified=max(entry.updated_at, entry.published_at or 0),
        author=author,
    )

"""Atom and RSS feeds, site-wide and per category, with 304 for unchanged feeds."""

from __future__ import annotations

from aiohttp import web

from .. import feeds, keys, posts
from ..conditional import not_modified, public_validators
from ..sitesettings import site_of

FORMATS = {
    "atom": (feeds.atom, "application/atom+xml"),
    "rss": (feeds.rss, "application/rss+xml"),
}


def _respond(
    request: web.Request, listing: posts.Listing, title: str, html_path: str
) -> web.Response:
    conn = request.app[keys.DB]
    now = posts.now_seconds()
    updated = posts.last_change(conn, now, listing)
    headers, current = public_validators(request, updated, now)
    if current:  # before the feed is built: that is the expensive part
        return not_modified(headers)
    entries = posts.list_visible(conn, now, feeds.FEED_SIZE, 0, listing)
    build, content_type = FORMATS[request.match_info["format"]]
    site = site_of(request)
    info = feeds.FeedInfo(
        title=title,
        base_url=request.app[keys.SETTINGS].link_origin,  # never the request's Host
        html_path=html_path,
        self_path=request.path,
        updated=updated,
        description=site.description,
        zone=site.zone,
    )
    body = build(conn, info, entries)
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)


async def site_feed(request: web.Request) -> web.Response:
    title = site_of(request).title
    return _respond(request, posts.Listing(kind="post"), title, "/")


async def category_feed(request: web.Request) -> web.Response:
    conn = request.app[keys.DB]
    term = posts.visible_term(conn, "categories", request.match_info["slug"], posts.now_seconds())
    if term is None:
        raise web.HTTPNotFound()
    title = f"{site_of(request).title}: {term.name}"
    listing = posts.Listing(kind=None, category_id=term.id)
    return _respond(request, listing, title, f"/category/{term.slug}")

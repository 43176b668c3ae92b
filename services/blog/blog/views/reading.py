"""Public reading pages: front page, post permalinks."""

from __future__ import annotations

from aiohttp import web

from .. import keys, posts
from ..templating import page


def _page_number(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise web.HTTPBadRequest(text="page must be a positive integer")
    return int(raw)


@page("index.html")
async def front_page(request: web.Request) -> dict[str, object]:
    conn = request.app[keys.DB]
    per_page = request.app[keys.SETTINGS].posts_per_page
    page = _page_number(request)
    now = posts.now_seconds()
    total = posts.count_visible(conn, now)
    items = posts.list_visible(conn, now, per_page, (page - 1) * per_page)
    if page > 1 and not items:
        raise web.HTTPNotFound()
    return {
        "posts": items,
        "page": page,
        "has_newer": page > 1,
        "has_older": page * per_page < total,
    }


@page("post.html")
async def post_page(request: web.Request) -> dict[str, object]:
    post = posts.get_by_slug(request.app[keys.DB], request.match_info["slug"])
    if post is None or not post.is_visible(posts.now_seconds()):
        raise web.HTTPNotFound()
    return {"post": post}

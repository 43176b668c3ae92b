"""Public reading pages: front page, permalinks, stories, categories, tags, search."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from .. import keys, posts
from ..templating import page, page_of


def _paged(request: web.Request, listing: posts.Listing) -> dict[str, object]:
    conn = request.app[keys.DB]
    per_page = request.app[keys.SETTINGS].posts_per_page
    page_number = page_of(request)
    now = posts.now_seconds()
    total = posts.count_visible(conn, now, listing)
    items = posts.list_visible(conn, now, per_page, (page_number - 1) * per_page, listing)
    if page_number > 1 and not items:
        raise web.HTTPNotFound()
    return {
        "posts": items,
        "page": page_number,
        "has_newer": page_number > 1,
        "has_older": page_number * per_page < total,
    }


@page("index.html")
async def front_page(request: web.Request) -> Mapping[str, object]:
    return {**_paged(request, posts.Listing(kind="post")), "heading": None}


def _visible_entry(request: web.Request, kind: str) -> Mapping[str, object]:
    conn = request.app[keys.DB]
    post = posts.get_by_slug(conn, request.match_info["slug"], kind)
    if post is None or not post.is_visible(posts.now_seconds()):
        raise web.HTTPNotFound()
    return {
        "post": post,
        "category": posts.category_of(conn, post),
        "tags": posts.tags_of(conn, post.id),
    }


@page("post.html")
async def post_page(request: web.Request) -> Mapping[str, object]:
    return _visible_entry(request, "post")


@page("post.html")
async def story_page(request: web.Request) -> Mapping[str, object]:
    return _visible_entry(request, "story")


@page("stories.html")
async def story_list(request: web.Request) -> Mapping[str, object]:
    conn = request.app[keys.DB]
    listing = posts.Listing(kind="story")
    stories = posts.list_visible(conn, posts.now_seconds(), 1000, 0, listing, shape=posts.Entry)
    return {"stories": stories}


async def to_story_list(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/stories/")


def _term_page(table: str, label: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    @page("index.html")
    async def handler(request: web.Request) -> Mapping[str, object]:
        conn = request.app[keys.DB]
        term = posts.visible_term(conn, table, request.match_info["slug"], posts.now_seconds())
        if term is None:
            raise web.HTTPNotFound()
        listing = (
            posts.Listing(kind=None, category_id=term.id)
            if table == "categories"
            else posts.Listing(kind=None, tag_id=term.id)
        )
        feed = f"/category/{term.slug}/feed.atom" if table == "categories" else None
        return {**_paged(request, listing), "heading": f"{label}: {term.name}", "feed": feed}

    return handler


category_page = _term_page("categories", "Category")
tag_page = _term_page("tags", "Tag")


@page("terms.html")
async def term_index(request: web.Request) -> Mapping[str, object]:
    conn = request.app[keys.DB]
    now = posts.now_seconds()
    return {
        "categories": posts.terms_in_use(conn, "categories", now),
        "tags": posts.terms_in_use(conn, "tags", now),
    }


@page("search.html")
async def search_page(request: web.Request) -> Mapping[str, object]:
    query = request.query.get("q", "").strip()[:200]
    results = posts.search(request.app[keys.DB], query, posts.now_seconds()) if query else []
    return {"query": query, "results": results}

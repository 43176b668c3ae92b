"""Public reading pages: front page, permalinks, stories, categories, tags, search."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from .. import discovery, keys, posts, sharing, users
from ..sitesettings import site_of
from ..templating import page, page_numbers, page_of


def _paged(request: web.Request, listing: posts.Listing) -> dict[str, object]:
    conn = request.app[keys.DB]
    per_page = site_of(request).posts_per_page
    page_number = page_of(request)
    now = posts.now_seconds()
    total = posts.count_visible(conn, now, listing)
    items = posts.list_visible(conn, now, per_page, (page_number - 1) * per_page, listing)
    if page_number > 1 and not items:
        raise web.HTTPNotFound()
    return {
        "posts": items,
        "authors": users.public_names(conn, (p.author_id for p in items)),
        "page": page_number,
        "page_numbers": page_numbers(page_number, max(1, -(-total // per_page))),
        "has_newer": page_number > 1,
        "has_older": page_number * per_page < total,
    }


@page("index.html")
async def front_page(request: web.Request) -> Mapping[str, object]:
    paged = _paged(request, posts.Listing(kind="post"))
    return {**paged, "heading": None, "title_parts": sharing.listing_parts("", page_of(request))}


def _visible_entry(request: web.Request, kind: str) -> Mapping[str, object]:
    conn = request.app[keys.DB]
    slug = request.match_info["slug"]
    post = posts.get_by_slug(conn, slug, kind)
    now = posts.now_seconds()
    if post is None:
        renamed = posts.renamed_to(conn, slug)
        if renamed is not None and renamed.is_visible(now):
            raise web.HTTPMovedPermanently(renamed.path)  # a visible entry's earlier URL name
    if post is None or not post.is_visible(now):
        raise web.HTTPNotFound()
    writer = users.get_user(conn, post.author_id) if post.author_id is not None else None
    author = writer.public_name if writer else ""
    return {
        "post": post,
        "author": author,
        "author_bio": writer.bio if writer else "",
        "category": posts.category_of(conn, post),
        "tags": posts.tags_of(conn, post.id),
        "title_parts": [post.title],
        "card": sharing.entry_card(request, site_of(request), post, author),
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
    return {"stories": stories, "title_parts": ["Stories"]}


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
        return {
            **_paged(request, listing),
            "heading": f"{label}: {term.name}",
            "feed": feed,
            "title_parts": sharing.listing_parts(term.name, page_of(request)),
        }

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
        "title_parts": ["Categories and tags"],
    }


@page("search.html")
async def search_page(request: web.Request) -> Mapping[str, object]:
    query = request.query.get("q", "").strip()[:200]
    hits = posts.search_hits(request.app[keys.DB], query, posts.now_seconds()) if query else []
    results = [(entry, discovery.highlight(snippet)) for entry, snippet in hits]
    parts = [f"Search: {query}" if query else "Search"]
    return {"query": query, "results": results, "title_parts": parts}


@page("archive.html")
async def archive_index(request: web.Request) -> Mapping[str, object]:
    site = site_of(request)
    months = discovery.months(request.app[keys.DB], posts.now_seconds(), site.zone)
    return {"months": months, "title_parts": ["Archive"]}


@page("index.html")
async def archive_month(request: web.Request) -> Mapping[str, object]:
    year, month = int(request.match_info["year"]), int(request.match_info["month"])
    if not (1 <= month <= 12 and 1970 <= year <= 9998):
        raise web.HTTPNotFound()
    start, end = discovery.month_bounds(year, month, site_of(request).zone)
    listing = posts.Listing(kind="post", published_from=start, published_before=end)
    paged = _paged(request, listing)
    if not paged["posts"]:
        raise web.HTTPNotFound()
    name = discovery.Month(year, month, 0).name
    return {
        **paged,
        "heading": name,
        "title_parts": sharing.listing_parts(name, page_of(request)),
    }

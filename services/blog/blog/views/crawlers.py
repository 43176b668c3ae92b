"""GET /sitemap.xml and /robots.txt (sitemap.py), with conditional GET like every public
page (conditional.py)."""

from __future__ import annotations

from aiohttp import web

from .. import keys, posts, sitemap
from ..conditional import not_modified, public_validators


async def sitemap_xml(request: web.Request) -> web.Response:
    conn = request.app[keys.DB]
    now = posts.now_seconds()
    headers, current = public_validators(request, posts.last_change(conn, now), now)
    if current:
        return not_modified(headers)
    body = sitemap.sitemap(conn, request.app[keys.SETTINGS].link_origin, now)
    return web.Response(body=body, content_type="application/xml", charset="utf-8", headers=headers)


async def robots_txt(request: web.Request) -> web.Response:
    headers, current = public_validators(request)
    if current:
        return not_modified(headers)
    text = sitemap.robots_txt(request.app[keys.SETTINGS].link_origin)
    return web.Response(text=text, content_type="text/plain", headers=headers)

"""URL map: every route of the blog in one place."""

from __future__ import annotations

from aiohttp import web

from .app_paths import STATIC_DIR
from .views import health, reading


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", reading.front_page, name="index")
    app.router.add_get("/posts/{slug}", reading.post_page, name="post")
    app.router.add_get("/healthz", health.healthz, name="healthz")
    app.router.add_static("/static/", STATIC_DIR, name="static", append_version=True)

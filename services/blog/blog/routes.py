"""URL map: every route of the blog in one place."""

from __future__ import annotations

from aiohttp import web

from .app_paths import STATIC_DIR
from .views import account, authoring, health, reading


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", reading.front_page, name="index")
    app.router.add_get("/posts/{slug}", reading.post_page, name="post")
    app.router.add_get("/healthz", health.healthz, name="healthz")
    app.router.add_get("/login", account.login_form, name="login")
    app.router.add_post("/login", account.login)
    app.router.add_post("/logout", account.logout, name="logout")
    app.router.add_get("/dashboard", authoring.dashboard, name="dashboard")
    app.router.add_get("/dashboard/posts/new", authoring.new_form)
    app.router.add_post("/dashboard/posts/new", authoring.create)
    app.router.add_get(r"/dashboard/posts/{post_id:\d+}", authoring.edit_form)
    app.router.add_post(r"/dashboard/posts/{post_id:\d+}", authoring.update)
    app.router.add_post(r"/dashboard/posts/{post_id:\d+}/delete", authoring.delete)
    app.router.add_static("/static/", STATIC_DIR, name="static", append_version=True)

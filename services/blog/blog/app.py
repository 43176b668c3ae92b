"""The application factory: settings in, a ready aiohttp application out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp_jinja2
import jinja2
from aiohttp import web

from . import keys, timefmt
from .app_paths import TEMPLATES_DIR
from .config import Settings
from .db import open_database
from .routes import setup_routes

log = logging.getLogger("blog")


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    conn = open_database(settings.db_path)
    app[keys.DB] = conn
    yield
    conn.close()


def setup_templates(app: web.Application, settings: Settings) -> None:
    # A file in BLOG_DATA_DIR/templates/ replaces the packaged one of the same name.
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader(str(settings.templates_dir)),
            jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        ]
    )
    env = aiohttp_jinja2.setup(
        app, loader=loader, autoescape=jinja2.select_autoescape(default=True)
    )
    env.globals["site_title"] = settings.title
    env.filters["isodate"] = timefmt.iso8601
    env.filters["humandate"] = timefmt.human


def init_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=settings.max_upload_bytes + 64 * 1024)
    app[keys.SETTINGS] = settings
    app.cleanup_ctx.append(database_ctx)
    setup_templates(app, settings)
    setup_routes(app)
    return app

"""The application factory: settings in, a ready aiohttp application out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from . import devices, errorlog, forms, keys, users
from .auth import principal_middleware
from .config import FALLBACK_ORIGIN, Settings
from .csrf import csrf_middleware
from .db import open_database
from .errorpages import error_pages_middleware
from .first_admin import SetupLink, announcement
from .forwarded import TrustedProxies, forwarded_middleware
from .headers import add_security_headers
from .housekeeping import housekeeping_ctx
from .passkeys import Challenges
from .rendering import RenderPool, image_pool
from .routes import setup_routes
from .second_factor import PendingLogins
from .templating import setup_templates
from .throttle import LoginThrottle

log = logging.getLogger("blog")


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    conn = open_database(settings.db_path)
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    app[keys.DB] = conn
    app[keys.DEVICE_KEY] = devices.load_key(conn)
    yield
    conn.close()


async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
    pools = (app[keys.RENDERER], app[keys.IMAGER])  # read at start: a test may put its own
    yield
    for pool in pools:
        await pool.close()


async def setup_link_ctx(app: web.Application) -> AsyncIterator[None]:
    """While there is no admin, log the one-time link that creates the first one."""
    settings = app[keys.SETTINGS]
    if settings.access_mode == "password" and not users.has_admin(app[keys.DB]):
        token = app[keys.SETUP_LINK].issue()
        log.warning("%s", announcement(settings.public_url, token))
    yield


def warn_about_access(settings: Settings) -> None:
    if settings.access_mode == "open":
        log.warning(
            "!!! BLOG_ACCESS_MODE=open: NO LOGIN. Anyone who can reach the blog (the blog"
            " at %s:%s, published by the proxy on %s) can write, delete and manage it.",
            settings.bind,
            settings.port,
            ", ".join(settings.published_on) or "no other address",
        )
    if settings.trust_local:
        log.warning(
            "BLOG_TRUST_LOCAL is on: loopback clients without forwarding headers act as admin "
            "without a password. Anyone with a shell on this host can write to the blog."
        )
    if not settings.public_url:
        log.warning(
            "BLOG_PUBLIC_URL is not set: feed links point at %s, which works on this machine "
            "only. Set it to the https:// address your readers open.",
            FALLBACK_ORIGIN,
        )
    if not settings.trusted_proxies and settings.bind not in ("127.0.0.1", "::1", "localhost"):
        log.warning(
            "BLOG_TRUSTED_PROXIES is empty: behind a reverse proxy every client shares the "
            "proxy's address, so login throttling by address would apply to all of them"
        )


def init_app(settings: Settings) -> web.Application:
    app = web.Application(
        # Bodies read whole (urlencoded forms); multipart forms are bounded in forms.py.
        client_max_size=forms.MAX_TEXT_BYTES,
        # Order matters: error pages wrap everything (a refusal by any later one is a page
        # too); the client's address comes before who they are; who they are before CSRF.
        middlewares=[
            error_pages_middleware,
            forwarded_middleware(TrustedProxies(settings.trusted_proxies)),
            principal_middleware,
            csrf_middleware,
        ],
    )
    app[keys.SETTINGS] = settings
    # Budgets of existing accounts are never forgotten (throttle.py): the throttle asks.
    app[keys.THROTTLE] = LoginThrottle(
        is_account=lambda name: users.find_user(app[keys.DB], name) is not None
    )
    app[keys.SETUP_LINK] = SetupLink()
    app[keys.PENDING_LOGINS] = PendingLogins()
    app[keys.CHALLENGES] = Challenges()
    app[keys.RENDERER] = RenderPool()
    app[keys.IMAGER] = image_pool()
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(workers_ctx)
    app.cleanup_ctx.append(setup_link_ctx)  # after the database is open
    app.cleanup_ctx.append(housekeeping_ctx)
    app.on_response_prepare.append(add_security_headers)
    setup_templates(app, settings)
    setup_routes(app)
    warn_about_access(settings)
    errorlog.install()
    return app

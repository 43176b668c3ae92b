"""Jinja2 setup and page rendering with the context every page needs.

Templates are autoescaped. A file in BLOG_DATA_DIR/templates/ replaces the
packaged template of the same name, so a user can restyle the blog without
touching the image.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, tzinfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from . import discovery, sharing, sitesettings, timefmt
from .app_paths import TEMPLATES_DIR
from .auth import principal_of
from .conditional import not_modified, public_validators
from .config import Settings
from .csrf import hidden_field, token_for
from .redirects import local_target
from .views.static import static_url


def setup_templates(app: web.Application, settings: Settings) -> None:
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader(str(settings.templates_dir)),
            jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        ]
    )
    env = aiohttp_jinja2.setup(
        app,
        loader=loader,
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    )
    env.globals["access_mode"] = settings.access_mode
    # Dates in the site's time zone (the `site` every page has; UTC without one).
    for name, convert in (
        ("isodate", timefmt.iso8601),
        ("humandate", timefmt.human),
        ("humantime", timefmt.human_time),
        ("inputdate", timefmt.local_input),
    ):
        env.filters[name] = _in_site_zone(convert)
    env.globals["static_url"] = static_url
    env.filters["excerpt"] = discovery.excerpt


def _in_site_zone(convert: Callable[[int | None, tzinfo], str]) -> Callable[..., str]:
    @jinja2.pass_context
    def in_zone(context: jinja2.runtime.Context, seconds: int | None) -> str:
        site = context.get("site")
        return convert(seconds, site.zone if isinstance(site, sitesettings.SiteSettings) else UTC)

    return in_zone


def render(
    template: str, request: web.Request, context: Mapping[str, object], status: int = 200
) -> web.Response:
    site = sitesettings.site_of(request)
    parts = context.get("title_parts", ())
    assert isinstance(parts, (list, tuple))
    full = {
        "request": request,
        "principal": principal_of(request),
        "csrf_field": lambda: hidden_field(request),
        "csrf_token": lambda: token_for(request),
        "site": site,
        "site_title": site.title,
        "page_title": sharing.page_title(parts, site),
        "card": sharing.site_card(request, site, parts[0] if parts else ""),
        **context,
    }
    return aiohttp_jinja2.render_template(template, request, full, status=status)


PageHandler = Callable[[web.Request], Awaitable[Mapping[str, object]]]


def page(
    template: str,
) -> Callable[[PageHandler], Callable[[web.Request], Awaitable[web.Response]]]:
    """Decorate a handler that returns a template context."""

    def decorator(handler: PageHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.Response:
            if principal_of(request) is not None:  # an author's pages are never stored
                return render(template, request, await handler(request))
            # A reader's: validators first, so that a current copy costs no render.
            headers, current = public_validators(request)
            if current:
                return not_modified(headers)
            response = render(template, request, await handler(request))
            if response.status == 200:
                response.headers.update(headers)
            return response

        return wrapper

    return decorator


def page_of(request: web.Request) -> int:
    """The `page` query parameter (1 when absent); 400 unless an integer 1..100,000."""
    raw = request.query.get("page", "1")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100_000:
        raise web.HTTPBadRequest(text="page must be a whole number from 1 to 100000")
    return int(raw)


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """The numbered links of a pager: the first, the last, and `around` either side of
    `page`; None where numbers are left out (shown as a gap)."""
    shown = {1, pages, *range(max(1, page - around), min(pages, page + around) + 1)}
    numbers: list[int | None] = []
    for number in sorted(shown):
        if numbers and number - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


def see_other(location: str) -> web.Response:
    """303 to a same-site path, returned (not raised) so cookies can be set on it.

    Raises ValueError for a target that redirects.local_target refuses: callers pass
    their own paths or a target that was checked already.
    """
    target = local_target(location)
    if target is None:
        raise ValueError(f"not a local redirect target: {location!r}")
    return web.Response(status=303, headers={"Location": target})

"""GET/POST /dashboard/settings: the site settings page, for admins (sitesettings.py).

A refused form is shown again with what the admin typed and the reason (400); nothing
is stored until every field is valid.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from .. import keys, media, posts, sitesettings
from ..auth import admin_required
from ..forms import read_form, text
from ..templating import page, render, see_other
from ..timefmt import zone_names

FIELDS = ("title", "description", "timezone", "language", "posts_per_page")
IMAGE_FIELDS = ("share_image", "favicon")


def _context(request: web.Request, values: Mapping[str, str]) -> dict[str, object]:
    return {
        "values": values,
        "zones": sorted(zone_names()),
        "images": media.list_media(request.app[keys.DB]),
        "title_parts": ["Settings"],
    }


@admin_required
@page("settings.html")
async def settings_form(request: web.Request) -> Mapping[str, object]:
    site = sitesettings.site_of(request)
    return {**_context(request, sitesettings.as_form(site)), "saved": "saved" in request.query}


@admin_required
async def save_settings(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    values = {name: text(form, name) for name in FIELDS + IMAGE_FIELDS}
    conn = request.app[keys.DB]
    try:
        site = sitesettings.checked(values, conn)
    except sitesettings.SettingsError as exc:
        context = {**_context(request, values), "error": str(exc)}
        return render("settings.html", request, context, status=400)
    sitesettings.save(conn, site, posts.now_seconds())
    return see_other("/dashboard/settings?saved=1")

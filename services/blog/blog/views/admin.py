"""Admin-only user management in the dashboard (blogctl does the same from a shell)."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from .. import keys, users
from ..auth import admin_required, current
from ..db import as_rowid
from ..templating import page, see_other


@admin_required
@page("users.html")
async def user_list(request: web.Request) -> Mapping[str, object]:
    return {"users": users.list_users(request.app[keys.DB])}


@admin_required
async def set_disabled(request: web.Request) -> web.StreamResponse:
    conn = request.app[keys.DB]
    user_id = as_rowid(request.match_info["user_id"])
    target = users.get_user(conn, user_id) if user_id is not None else None
    if target is None:
        raise web.HTTPNotFound()
    disable = request.match_info["verb"] == "disable"
    if disable and target.id == current(request).user_id:
        raise web.HTTPBadRequest(text="you cannot disable yourself")
    users.set_disabled(conn, target.name, disable)
    return see_other("/dashboard/users")

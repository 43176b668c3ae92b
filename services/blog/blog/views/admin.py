"""Admin-only user management in the dashboard (blogctl does the same from a shell)."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from .. import keys, second_factor, users
from ..auth import admin_required, current
from ..db import as_rowid
from ..forms import read_form, text
from ..forwarded import CLIENT
from ..templating import page, see_other


@admin_required
@page("users.html")
async def user_list(request: web.Request) -> Mapping[str, object]:
    conn = request.app[keys.DB]
    return {
        "users": users.list_users(conn),
        "policy": second_factor.policy(conn),
        "done": request.query.get("done", ""),
    }


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


@admin_required
async def set_policy(request: web.Request) -> web.StreamResponse:
    """Who must have a second factor: "optional", "admins" or "everyone" (second_factor.py)."""
    form = await read_form(request)
    try:
        chosen = second_factor.set_policy(request.app[keys.DB], text(form, "policy"))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{str(exc).capitalize()}.") from None
    second_factor.log_event(
        "policy", current(request).name, request[CLIENT].ip, second_factor=chosen
    )
    return see_other(str(request.app.router["users"].url_for().with_query(done="policy")))

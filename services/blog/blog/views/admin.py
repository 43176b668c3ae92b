"""Admin-only user management in the dashboard (blogctl does the same from a shell):
add authors and admins, change roles, disable and enable accounts, and give a user a
one-time link to set a password (password_links.py). No admin ever sees or sets
another person's password.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from aiohttp import web

from .. import keys, password_links, posts, second_factor, users
from ..auth import admin_required, current
from ..db import as_rowid
from ..forms import read_form, text
from ..forwarded import CLIENT
from ..passwords import hash_password, off_loop
from ..templating import render, see_other


def _users_page(
    request: web.Request,
    status: int = 200,
    *,
    error: str = "",
    link: tuple[users.User, str] | None = None,
    values: Mapping[str, str] | None = None,
) -> web.Response:
    """The user list; with `link`, the one-time link just made for that user (shown once)."""
    context = {
        "users": users.list_users(request.app[keys.DB]),
        "roles": users.ROLES,
        "error": error,
        "link_user": link[0] if link else None,
        "link": link[1] if link else "",
        "link_hours": password_links.LIFETIME_HOURS,
        "values": values or {"name": "", "display_name": "", "role": "author"},
        "policy": second_factor.policy(request.app[keys.DB]),
        "done": request.query.get("done", ""),
        "title_parts": ["Users"],
    }
    return render("users.html", request, context, status=status)


@admin_required
async def user_list(request: web.Request) -> web.StreamResponse:
    return _users_page(request)


def _target(request: web.Request) -> users.User:
    user_id = as_rowid(request.match_info["user_id"])
    target = users.get_user(request.app[keys.DB], user_id) if user_id is not None else None
    if target is None:
        raise web.HTTPNotFound()
    return target


def _link_for(request: web.Request, user: users.User) -> tuple[users.User, str]:
    token = password_links.issue(request.app[keys.DB], user.id, posts.now_seconds())
    origin = request.app[keys.SETTINGS].link_origin
    return user, f"{origin}{password_links.PATH}{token}"


@admin_required
async def add_user(request: web.Request) -> web.StreamResponse:
    """Create an account with no usable password and show its one-time link."""
    form = await read_form(request)
    values = {name: text(form, name).strip() for name in ("name", "display_name", "role")}
    try:
        users.validate_name(values["name"])
        if values["role"] not in users.ROLES:
            raise users.UserError("Choose a role: admin or author.")
        display_name, _ = users.clean_profile(values["display_name"], "")
        users.check_display_name(request.app[keys.DB], display_name, None)
    except users.UserError as exc:
        return _users_page(request, 400, error=str(exc), values=values)
    # Nobody knows this password: the account is usable once its owner sets one.
    unknown = await off_loop(hash_password, secrets.token_urlsafe(32))
    conn = request.app[keys.DB]
    try:
        user = users.insert_user(conn, values["name"], unknown, values["role"])  # type: ignore[arg-type]
    except users.UserError as exc:  # the name is taken
        return _users_page(request, 400, error=f"{exc}.", values=values)
    if display_name:
        users.set_profile(conn, user.id, display_name, "")
    return _users_page(request, link=_link_for(request, user))


@admin_required
async def give_password_link(request: web.Request) -> web.StreamResponse:
    return _users_page(request, link=_link_for(request, _target(request)))


@admin_required
async def set_role(request: web.Request) -> web.StreamResponse:
    target = _target(request)
    role = text(await read_form(request), "role")
    if target.id == current(request).user_id and role != target.role:
        return _users_page(request, 400, error="You cannot change your own role.")
    try:
        users.set_role(request.app[keys.DB], target.name, role)  # type: ignore[arg-type]
    except users.UserError as exc:
        return _users_page(request, 400, error=str(exc))
    return see_other("/dashboard/users")


@admin_required
async def set_disabled(request: web.Request) -> web.StreamResponse:
    target = _target(request)
    disable = request.match_info["verb"] == "disable"
    if disable and target.id == current(request).user_id:
        raise web.HTTPBadRequest(text="you cannot disable yourself")
    users.set_disabled(request.app[keys.DB], target.name, disable)
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

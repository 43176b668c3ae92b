"""A user's own profile (display name and bio), and the one-time password link an admin
gave them (password_links.py): GET shows the form, POST sets the password.

Every dead link (wrong, used, expired, replaced, or its user disabled), and any link
opened over plain HTTP, gets the plain 404 of any unknown page, so a guess learns
nothing. After setting the password the user logs in as usual (the login page decides
what else a login needs).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from .. import keys, password_links, posts, users
from ..auth import current, login_required
from ..forms import read_form, text
from ..forwarded import credentials_private
from ..passwords import PasswordPolicyError, check_policy, hash_password, off_loop
from ..templating import page, render, see_other
from .account import as_sentence


def _live_user(request: web.Request) -> users.User:
    """The user of the URL's live link; 404 otherwise, and over plain HTTP (a password
    travels only inside TLS: forwarded.credentials_private, the rule logins follow)."""
    if not credentials_private(request):
        raise web.HTTPNotFound()
    conn = request.app[keys.DB]
    user_id = password_links.user_for(conn, request.match_info["token"], posts.now_seconds())
    user = users.get_user(conn, user_id) if user_id is not None else None
    if user is None:
        raise web.HTTPNotFound()
    return user


def _link_form(request: web.Request, user: users.User, status: int = 200, error: str = ""):
    context = {"user": user, "error": error, "title_parts": ["Set your password"]}
    return render("password_link.html", request, context, status=status)


async def password_link_form(request: web.Request) -> web.StreamResponse:
    return _link_form(request, _live_user(request))


async def set_password_from_link(request: web.Request) -> web.StreamResponse:
    user = _live_user(request)
    form = await read_form(request)
    password = text(form, "password")
    if password != text(form, "confirm_password"):
        return _link_form(request, user, 400, "The passwords differ.")
    try:
        await off_loop(check_policy, password, user.name)  # loads the common-password list
    except PasswordPolicyError as exc:
        return _link_form(request, user, 400, as_sentence(exc))
    password_hash = await off_loop(hash_password, password)
    now = posts.now_seconds()
    if (
        password_links.use(request.app[keys.DB], request.match_info["token"], password_hash, now)
        is None
    ):
        raise web.HTTPNotFound()  # used meanwhile (another tab) or disabled
    context = {"user": user, "done": True, "title_parts": ["Set your password"]}
    return render("password_link.html", request, context)


@login_required
@page("profile.html")
async def profile_form(request: web.Request) -> Mapping[str, object]:
    user = _own_account(request)
    return {
        "values": {"display_name": user.display_name, "bio": user.bio},
        "saved": "saved" in request.query,
        "title_parts": ["Profile"],
    }


def _own_account(request: web.Request) -> users.User:
    user_id = current(request).user_id
    user = users.get_user(request.app[keys.DB], user_id) if user_id is not None else None
    if user is None:  # open mode and trusted local access have no account
        raise web.HTTPNotFound(text="Only a user account has a profile; log in with one.")
    return user


@login_required
async def save_profile(request: web.Request) -> web.StreamResponse:
    user = _own_account(request)
    form = await read_form(request)
    values = {"display_name": text(form, "display_name"), "bio": text(form, "bio")}
    try:
        users.set_profile(request.app[keys.DB], user.id, values["display_name"], values["bio"])
    except users.UserError as exc:
        context = {"values": values, "error": str(exc), "title_parts": ["Profile"]}
        return render("profile.html", request, context, status=400)
    return see_other("/dashboard/profile?saved=1")

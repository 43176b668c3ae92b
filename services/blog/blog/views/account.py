"""Log in, log out, change one's password."""

from __future__ import annotations

import asyncio

from aiohttp import web

from .. import keys, sessions, users
from ..auth import current, login_required, principal_of
from ..forwarded import CLIENT
from ..passwords import PasswordPolicyError, check_policy, hash_password
from ..posts import now_seconds
from ..templating import render, see_other
from ..users import authenticate

GENERIC_FAILURE = "Unknown user name or wrong password."


def safe_next(value: object) -> str:
    """Only same-site paths: an open redirect after login is a phishing aid."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/dashboard"


def _login_page(
    request: web.Request, status: int, error: str = "", name: str = "", next_url: str = ""
) -> web.Response:
    context = {"error": error, "username": name, "next": next_url or "/dashboard"}
    return render("login.html", request, context, status)


async def login_form(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    if principal is not None and principal.session is None:
        # Open mode or trusted local access: there is nothing to log in to.
        raise web.HTTPSeeOther("/dashboard")
    return _login_page(request, 200, next_url=safe_next(request.query.get("next")))


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))
    next_url = safe_next(form.get("next"))
    throttle = request.app[keys.THROTTLE]
    address = str(request[CLIENT].ip)
    wait = throttle.retry_after(address, name)
    if wait > 0:
        response = _login_page(
            request, 429, "Too many failed attempts. Try again shortly.", name, next_url
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    conn = request.app[keys.DB]
    user = await authenticate(conn, name, password) if name and password else None
    if user is None:
        throttle.failure(address, name)
        return _login_page(request, 401, GENERIC_FAILURE, name, next_url)
    throttle.success(address, name)
    return start_session(request, user.id, next_url)


def start_session(request: web.Request, user_id: int, next_url: str) -> web.Response:
    """Log the user in: a new session replaces the browser's old one; 303 to next_url."""
    conn = request.app[keys.DB]
    old = principal_of(request)
    if old is not None and old.session is not None:
        sessions.delete_session(conn, old.session.id_hash)
    settings = request.app[keys.SETTINGS]
    now = now_seconds()
    # Housekeeping at login keeps the table small without a background task.
    sessions.purge_expired(
        conn, now, settings.session_idle_seconds, settings.session_absolute_seconds
    )
    raw_id, _ = sessions.create_session(conn, user_id, now)
    response = see_other(next_url)
    sessions.set_cookie(response, raw_id)
    return response


def as_sentence(error: Exception) -> str:
    """A validation error's message as a sentence for a form."""
    return str(error).capitalize() + "."


async def logout(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    if principal is not None and principal.session is not None:
        sessions.delete_session(request.app[keys.DB], principal.session.id_hash)
    response = see_other("/")
    sessions.clear_cookie(response)
    return response


@login_required
async def password_form(request: web.Request) -> web.StreamResponse:
    return render("password.html", request, {"error": "", "done": request.query.get("done") == "1"})


@login_required
async def change_password(request: web.Request) -> web.StreamResponse:
    """ASVS 2.1.5/2.1.6: change with the current password; other sessions end."""
    principal = current(request)
    if principal.user_id is None or principal.session is None:
        raise web.HTTPBadRequest(text="open or local access has no password to change")
    form = await request.post()
    conn = request.app[keys.DB]
    new = str(form.get("new_password", ""))
    error = ""
    if await authenticate(conn, principal.name, str(form.get("current_password", ""))) is None:
        error = "The current password is wrong."
    elif new != str(form.get("confirm_password", "")):
        error = "The new passwords differ."
    else:
        try:
            await asyncio.to_thread(check_policy, new, principal.name)
        except PasswordPolicyError as exc:
            error = as_sentence(exc)
    if error:
        return render("password.html", request, {"error": error, "done": False}, status=400)
    new_hash = await asyncio.to_thread(hash_password, new)
    users.store_password_hash(conn, principal.user_id, new_hash)  # ends every session
    raw_id, _ = sessions.create_session(conn, principal.user_id, now_seconds())
    response = see_other("/dashboard/password?done=1")
    sessions.set_cookie(response, raw_id)
    return response

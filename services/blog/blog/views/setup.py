"""GET/POST /setup/{token}: create the first admin through the one-time setup link.

Every way a link can be dead (wrong, expired, used, an admin exists, not HTTPS,
open mode) gets the plain 404 a random token gets, so a guess learns nothing, and
counts as a failure for the client address in the login throttle.
"""

from __future__ import annotations

import logging
import math

from aiohttp import web

from .. import keys, users
from ..first_admin import LinkState
from ..forms import read_form, text
from ..forwarded import CLIENT
from ..passwords import PasswordPolicyError, hash_password, off_loop
from ..templating import render
from .account import as_sentence, remember_browser, start_session

log = logging.getLogger("blog")


def _is_live(request: web.Request, token: str) -> bool:
    link = request.app[keys.SETUP_LINK]
    state = link.check(token)
    if state is LinkState.UNKNOWN or request.app[keys.SETTINGS].access_mode != "password":
        return False
    # The hints below are for the owner's log only; the client sees the usual 404.
    if state is LinkState.EXPIRED:
        log.warning("The first-admin setup link has expired; restart the blog for a new one.")
        return False
    if not request.secure:
        # request.secure is the scheme the trusted proxy reported (forwarded.py).
        log.warning("The first-admin setup link was opened without HTTPS; open it over HTTPS.")
        return False
    if users.has_admin(request.app[keys.DB]):
        link.revoke()  # made meanwhile, e.g. with blogctl
        return False
    return True


def _require_live_link(request: web.Request) -> str:
    """The token of a live link; otherwise raise 429 when throttled, else 404.

    Every try is charged to the address's budget first (throttle.py); a live link
    gives the charge back.
    """
    token = request.match_info["token"]
    throttle = request.app[keys.THROTTLE]
    attempt = throttle.begin(request[CLIENT].ip, None)
    if not attempt.admitted:
        raise web.HTTPTooManyRequests(headers={"Retry-After": str(math.ceil(attempt.retry_after))})
    if not _is_live(request, token):
        raise web.HTTPNotFound()
    throttle.succeeded(attempt)
    return token


def _form(request: web.Request, status: int = 200, error: str = "", name: str = "") -> web.Response:
    return render("setup.html", request, {"error": error, "username": name}, status)


async def setup_form(request: web.Request) -> web.StreamResponse:
    _require_live_link(request)
    return _form(request)


async def _form_error(name: str, password: str, repeated: str) -> str:
    """The same rules as `blogctl user add`, as a sentence for the form; "" when fine."""
    if password != repeated:
        return "The passwords differ."
    try:
        # The first check loads the common-password list: not on the event loop.
        await off_loop(users.check_new_user, name, password, "admin")
    except (users.UserError, PasswordPolicyError) as exc:
        return as_sentence(exc)
    return ""


async def create_first_admin(request: web.Request) -> web.StreamResponse:
    token = _require_live_link(request)
    form = await read_form(request)
    name = text(form, "username").strip()
    password = text(form, "password")
    error = await _form_error(name, password, text(form, "confirm_password"))
    if error:
        return _form(request, 400, error, name)
    password_hash = await off_loop(hash_password, password)
    link = request.app[keys.SETUP_LINK]
    if link.check(token) is not LinkState.LIVE:  # a parallel request used it meanwhile
        raise web.HTTPNotFound()
    try:
        user = users.insert_user(
            request.app[keys.DB], name, password_hash, "admin", only_if_no_admin=True
        )
    except users.AdminExistsError:
        link.revoke()
        raise web.HTTPNotFound() from None
    except users.UserError as exc:  # the name belongs to an author
        return _form(request, 400, as_sentence(exc), name)
    link.revoke()
    log.warning("First admin %s created through the setup link; the link no longer works.", name)
    # The new admin is offered a second factor at once (the page says why).
    security = request.app.router["security"].url_for().with_query(welcome="1")
    response = start_session(request, user.id, str(security))
    remember_browser(request, response, user.name)
    return response

"""CSRF tokens on every state change (ASVS 4.2.2).

Logged in: the synchronizer token stored with the server-side session.
Not logged in (the login form, open mode, trusted local access): a double-submit
token in a `__Host-` cookie, which no sibling subdomain can plant.
Every non-GET/HEAD/OPTIONS request must echo the token in the `csrf_token` form
field or the X-CSRF-Token header, or it is refused with 403; an editor form sent from
the blog's own page gets its text back instead (rescue.py), and changes nothing.
"""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup, escape

from . import tokens
from .auth import principal_of
from .forms import read_form, text
from .rescue import rescue_for

COOKIE_NAME = "__Host-blog_csrf"
FIELD_NAME = "csrf_token"
HEADER_NAME = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NEW_COOKIE = web.RequestKey("csrf_new_cookie", str)
STALE_FORM = (
    "This form is out of date: it was opened before your last login or logout (here or in"
    " another tab), so nothing was saved. Go back, reload the page and send it again."
)


def token_for(request: web.Request) -> str:
    principal = principal_of(request)
    if principal is not None and principal.session is not None:
        return principal.session.csrf_token
    cookie = request.cookies.get(COOKIE_NAME, "")
    if tokens.well_formed(cookie):  # any other value is replaced, never echoed
        return cookie
    made = request.get(_NEW_COOKIE)
    if made:
        return made
    token = tokens.new()
    request[_NEW_COOKIE] = token
    return token


def hidden_field(request: web.Request) -> Markup:
    token = escape(token_for(request))
    return Markup(f'<input type="hidden" name="{FIELD_NAME}" value="{token}">')  # noqa: S704 - escaped


async def _submitted(request: web.Request) -> str:
    header = request.headers.get(HEADER_NAME)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return text(await read_form(request), FIELD_NAME)
    return ""


def _expected(request: web.Request) -> str:
    principal = principal_of(request)
    if principal is not None and principal.session is not None:
        return principal.session.csrf_token
    return request.cookies.get(COOKIE_NAME, "")


async def _valid(request: web.Request) -> bool:
    expected = _expected(request)
    submitted = await _submitted(request)
    return tokens.same(expected, submitted)


@web.middleware
async def csrf_middleware(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    # A request no route answers (404, 405) reaches no handler: nothing to protect.
    if request.method not in SAFE_METHODS and request.match_info.http_exception is None:
        if not await _valid(request):
            # An editor form from the author's own page keeps its text (rescue.py).
            rescue = rescue_for(request)
            if rescue is None:
                raise web.HTTPForbidden(text=STALE_FORM)
            handler = rescue
    response = await handler(request)
    new_token = request.get(_NEW_COOKIE)
    if new_token:
        response.set_cookie(
            COOKIE_NAME, new_token, path="/", secure=True, httponly=True, samesite="Lax"
        )
    return response

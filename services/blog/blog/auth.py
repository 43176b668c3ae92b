"""Who may do what: the principal of each request, access modes and role checks.

Reading is public in every mode. Changing anything needs a principal:
- `password` mode: a logged-in user (session cookie), or, with BLOG_TRUST_LOCAL,
  a loopback client that came with no forwarding headers (the ancestor's desktop use);
- `open` mode: everyone is an admin. Only for a network where every client is trusted.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from . import keys, second_factor, sessions
from .forwarded import CLIENT, credentials_private
from .posts import now_seconds
from .rescue import rescue_for
from .users import Role, get_user

log = logging.getLogger("blog.auth")


@dataclass(frozen=True, slots=True)
class Principal:
    # None for the unnamed admin of open mode and of trusted local access.
    user_id: int | None
    name: str
    role: Role
    session: sessions.Session | None = None
    # The second-factor policy covers this user and they have none yet (second_factor.py).
    must_enrol: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_edit(self, author_id: int | None) -> bool:
        return self.is_admin or (author_id is not None and author_id == self.user_id)


PRINCIPAL = web.RequestKey("principal", Principal | None)  # type: ignore[arg-type]
OPEN_PRINCIPAL = Principal(user_id=None, name="open access", role="admin")
LOCAL_PRINCIPAL = Principal(user_id=None, name="local access", role="admin")


def principal_of(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


def _from_session(request: web.Request) -> Principal | None:
    raw_id = request.cookies.get(sessions.COOKIE_NAME, "")
    if not raw_id:
        return None
    settings = request.app[keys.SETTINGS]
    conn = request.app[keys.DB]
    if not credentials_private(request):
        # The cookie crossed the network in clear: whoever saw it must not be able to use it.
        if sessions.revoke_cookie(conn, raw_id):
            log.warning(
                "A session cookie came over plain HTTP from %s; that session is ended."
                " Open the blog at its https:// address.",
                request[CLIENT].ip,
            )
        return None
    session = sessions.load_session(
        conn,
        raw_id,
        now_seconds(),
        settings.session_idle_seconds,
        settings.session_absolute_seconds,
    )
    if session is None:
        return None
    user = get_user(conn, session.user_id)
    if user is None or user.disabled:
        return None
    must_enrol = second_factor.must_enrol(conn, user.id, user.is_admin)
    return Principal(user.id, user.name, user.role, session, must_enrol)


@web.middleware
async def principal_middleware(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    settings = request.app[keys.SETTINGS]
    principal = _from_session(request)
    if principal is None and settings.access_mode == "open":
        principal = OPEN_PRINCIPAL
    if principal is None and settings.trust_local and request[CLIENT].direct_local:
        principal = LOCAL_PRINCIPAL
    request[PRINCIPAL] = principal
    return await handler(request)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


ENROL_FIRST = (
    "This blog requires a second factor for your account: set up a one-time code or a"
    " passkey on your account's security page first, then try again."
)


def _require_login(handler: Handler, *, enrolled: bool) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        if principal is None:
            if request.method in ("GET", "HEAD"):
                target = urlencode({"next": request.rel_url.path_qs}, safe="/")
                raise web.HTTPSeeOther(f"/login?{target}")
            raise web.HTTPUnauthorized(text="log in first")
        if enrolled and principal.must_enrol:
            if request.method in ("GET", "HEAD"):
                raise web.HTTPSeeOther(str(request.app.router["security"].url_for()))
            rescue = rescue_for(request)
            if rescue is not None:
                return await rescue(request)  # an editor's text is kept, not lost
            raise web.HTTPForbidden(text=ENROL_FIRST)
        return await handler(request)

    return wrapper


def login_required(handler: Handler) -> Handler:
    """Logged in, and enrolled in a second factor when the policy requires one: every
    authoring page. Otherwise GET goes to the login (or enrolment) page, others 401/403."""
    return _require_login(handler, enrolled=True)


def login_required_to_enrol(handler: Handler) -> Handler:
    """Logged in, enrolled or not: the pages that set up a second factor."""
    return _require_login(handler, enrolled=False)


def admin_required(handler: Handler) -> Handler:
    @functools.wraps(handler)
    @login_required
    async def wrapper(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        if principal is None or not principal.is_admin:
            raise web.HTTPForbidden(text="admins only")
        return await handler(request)

    return wrapper


def current(request: web.Request) -> Principal:
    """The principal of a handler behind login_required."""
    principal = principal_of(request)
    if principal is None:
        raise web.HTTPUnauthorized(text="log in first")
    return principal

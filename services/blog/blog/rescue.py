"""A form the blog cannot take still gives its text back to the author who sent it.

An editor form sent after its session ended (the idle or absolute lifetime, a logout
in another tab) or with a token of an earlier session fails the CSRF check. Instead
of a bare 403 that loses the text, a route marked `rescued_by` answers with a page
that changes nothing and holds the text: the editor again (when the browser is
logged in, with a fresh token), or the login form carrying the text in hidden
`pending.*` fields, which a successful login stores as the author's autosave and
opens in the editor. Nothing is stored before the login succeeds.

Only a same-origin submission is rescued (`Sec-Fetch-Site: same-origin`, or an `Origin`
equal to the blog's): a form on another site posting to the blog gets the plain 403,
so no one can put text into someone's editor from outside.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from . import autosave, keys

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PENDING_PREFIX = "pending."
# The editor's own hidden fields that travel with the text.
CARRIED = (*autosave.FIELDS, "editor_key", "base_revision")
_RESCUE = "csrf_rescue"


def rescued_by(rescue: Handler) -> Callable[[Handler], Handler]:
    """Mark a route handler: when its form fails the CSRF check, `rescue` answers instead
    (it must change nothing)."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, _RESCUE, rescue)
        return handler

    return mark


def own_origin(request: web.Request) -> str:
    """The blog's origin as the browser sees it: the configured public URL, else the
    scheme and host of the request (as the trusted proxy reported them)."""
    public = request.app[keys.SETTINGS].public_url
    return public or f"{request.scheme}://{request.host}"


def same_origin(request: web.Request) -> bool:
    """Whether the browser says this request came from one of the blog's own pages
    (Fetch Metadata; the Origin header for browsers without it)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin", "")
    return bool(origin) and origin != "null" and origin == own_origin(request)


def rescue_for(request: web.Request) -> Handler | None:
    """The rescue of the request's route, if it has one and the request may have it."""
    rescue = getattr(request.match_info.handler, _RESCUE, None)
    return rescue if rescue is not None and same_origin(request) else None


def pending_fields(form: Mapping[str, object]) -> dict[str, str]:
    """The carried fields of an editor form, for the login page's hidden inputs."""
    return {name: _text(form, name) for name in CARRIED}


def carried_back(form: Mapping[str, object]) -> dict[str, str] | None:
    """The `pending.*` fields a login form carried back, or None when it carried none."""
    if not any(str(name).startswith(PENDING_PREFIX) for name in form):
        return None
    return {name: _text(form, PENDING_PREFIX + name) for name in CARRIED}


def _text(form: Mapping[str, object], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""

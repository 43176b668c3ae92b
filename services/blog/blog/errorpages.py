"""Error answers as pages of the site: every 4xx and 5xx the blog raises, in one place.

A handler (or aiohttp itself: no route, a body over the size limit) raises an
HTTPException; this middleware, the outermost, turns it into the site's page with
its header, a sentence saying what happened and what to do, and links back. The
status and the exception's own headers (Retry-After, Allow) are kept. A client that
asks for JSON (the editor's script) gets `{"status": N, "error": "..."}` instead.
An exception that is not an HTTPException is a fault of the blog: it is logged with
its traceback and answered with a 500 page that says nothing internal.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from aiohttp import web
from yarl import URL

from . import keys
from .auth import principal_of
from .markup import MAX_SOURCE_BYTES
from .redirects import local_target
from .rendering import RenderBusy
from .templating import render

log = logging.getLogger("blog")

# What a reader is told when the code that raised had nothing more specific to say.
EXPLANATIONS = {
    400: "The request could not be understood. Go back and try again.",
    401: "Log in first.",
    403: "You may not open this page.",
    404: "There is no page at this address. It may have been unpublished, moved to the"
    " trash or renamed, or it never existed.",
    405: "This address does not accept that kind of request.",
    429: "Too many attempts. Wait a little and try again.",
    500: "Something went wrong in the blog. Nothing you sent was shown to anyone; try again"
    " in a moment.",
    503: "The blog is busy. Try again in a minute.",
}
TITLES = {
    400: "Bad request",
    401: "Log in first",
    403: "Not allowed",
    404: "Page not found",
    413: "Too large",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Busy",
}
AIOHTTP_TOO_LARGE = "Maximum request body size"
# Headers of the exception that would contradict the page that replaces its body.
BODY_HEADERS = frozenset({"Content-Type", "Content-Length", "Content-Encoding"})


def too_large_explanation(request: web.Request) -> str:
    """The 413 sentence: aiohttp's own ("Maximum request body size ... exceeded") names
    no unit and no way out."""
    megabytes = request.app[keys.SETTINGS].max_upload_bytes // (1024 * 1024)
    return (
        f"What you sent is larger than this blog accepts: images up to {megabytes} MiB,"
        f" text up to {MAX_SOURCE_BYTES // 1024} KiB. Nothing was saved. Go back: the"
        " editor keeps your text in this browser; choose a smaller image."
    )


def explanation(request: web.Request, error: web.HTTPException) -> str:
    default = f"{error.status}: {error.reason}"
    own = error.text if error.text and error.text != default else ""
    if error.status == 413 and (not own or own.startswith(AIOHTTP_TOO_LARGE)):
        return too_large_explanation(request)
    return own or EXPLANATIONS.get(error.status, "") or HTTPStatus(error.status).description


def way_back(request: web.Request) -> str | None:
    """The page the browser came from on this site (its Referer), as a local path."""
    referer = request.headers.get("Referer", "")
    if not referer:
        return None
    try:
        came_from = URL(referer)
        same_site = came_from.host_port_subcomponent == request.host
    except ValueError:  # UnicodeError too: a host IDNA cannot encode
        return None
    if not same_site:
        return None
    target = local_target(came_from.raw_path_qs)
    return None if target == request.path_qs else target


def wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_page(request: web.Request, error: web.HTTPException) -> web.Response:
    """The site's answer for `error`: its status and headers, the page (or JSON) as body."""
    message = explanation(request, error)
    if wants_json(request):
        response: web.Response = web.json_response(
            {"status": error.status, "error": message}, status=error.status
        )
    else:
        context = {
            "status": error.status,
            "title": TITLES.get(error.status, error.reason),
            "title_parts": [TITLES.get(error.status, error.reason)],
            "card": None,  # not a page to share or index; and it names no URL (see above)
            "message": message,
            "back": way_back(request),
            "logged_in": principal_of(request) is not None,
        }
        response = render("error.html", request, context, status=error.status)
    for name, value in error.headers.items():
        if name not in BODY_HEADERS:
            response.headers.add(name, value)
    return response


@web.middleware
async def error_pages_middleware(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_page(request, error)
    except RenderBusy as busy:  # every worker stayed busy (rendering.py)
        retry = {"Retry-After": str(busy.retry_after)}
        return error_page(request, web.HTTPServiceUnavailable(text=str(busy), headers=retry))
    except Exception:
        log.exception("unhandled error answering %s %s", request.method, request.path)
        return error_page(request, web.HTTPInternalServerError())

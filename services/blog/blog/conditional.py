"""Conditional GET (RFC 9110 section 13): ETag and Last-Modified, answered with 304."""

from __future__ import annotations

import hashlib
from email.utils import parsedate_to_datetime

from aiohttp import web

from .timefmt import rfc822


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    # Weak comparison, as If-None-Match asks for: W/"x" matches "x".
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return etag in candidates


def _not_modified_since(header: str, last_modified: int) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    return since.tzinfo is not None and last_modified <= int(since.timestamp())


def conditional_response(
    request: web.Request, body: bytes, content_type: str, last_modified: int
) -> web.Response:
    etag = etag_of(body)
    headers = {
        "ETag": etag,
        "Last-Modified": rfc822(last_modified),
        "Cache-Control": "public, max-age=300",
    }
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        not_modified = _etag_matches(if_none_match, etag)
    else:
        since = request.headers.get("If-Modified-Since")
        not_modified = since is not None and _not_modified_since(since, last_modified)
    if not_modified:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)


def revalidated(request: web.Request, response: web.Response) -> web.Response:
    """A public page with a strong ETag of its body, to be asked for again every time
    (``no-cache``): a reader's browser or the proxy gets a bodiless 304 while the page
    is unchanged, and a new post shows at once."""
    body = response.body
    if request.method not in ("GET", "HEAD") or response.status != 200:
        return response
    if not isinstance(body, bytes):
        return response
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and _etag_matches(if_none_match, etag):
        return web.Response(status=304, headers=headers)
    response.headers.update(headers)
    return response

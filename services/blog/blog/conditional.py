"""Conditional GET (RFC 9110 section 13) of public pages and feeds, decided before
anything is rendered, and how long shared caches may keep them.

A public answer's validator is a weak ETag of the URL and ``public_state``: every
change committed to the database (by this process or another, such as ``blogctl``),
the newest publication time that has come (a scheduled post appears without any
write), and this process (a restart may bring other templates or settings). Checking
it costs two small queries, so an unchanged page answers 304 without being rendered.
A change that leaves public pages as they were (a login) only costs one render more.
Feeds also carry ``Last-Modified`` for readers that send ``If-Modified-Since``.

``PUBLIC_CACHE_CONTROL`` lets the proxy's cache (and browsers) reuse a public answer
for ``PUBLIC_MAX_AGE`` seconds, then revalidate it: a published post reaches every
reader within that time plus one revalidation (docs/proxy.md, *Cache*). ``Vary:
Cookie``: a reader's copy is never used for a request with other cookies, such as
the same browser once logged in (the proxy keeps session requests out anyway).
"""

from __future__ import annotations

import hashlib
import secrets
from email.utils import parsedate_to_datetime

from aiohttp import web

from . import keys, posts
from .timefmt import rfc822

PUBLIC_MAX_AGE = 5  # seconds a public answer may be reused before it is revalidated
# Serve the last answer while one revalidation runs, or while the blog is down (RFC 5861).
STALE_WHILE_REVALIDATE = 10
STALE_IF_ERROR = 24 * 60 * 60
PUBLIC_CACHE_CONTROL = (
    f"public, max-age={PUBLIC_MAX_AGE}, stale-while-revalidate={STALE_WHILE_REVALIDATE}, "
    f"stale-if-error={STALE_IF_ERROR}"
)
_PROCESS = secrets.token_hex(8)  # a restart may change what pages look like
_NEWEST_PUBLICATION = f"SELECT MAX(published_at) FROM posts WHERE {posts.VISIBLE_SQL}"  # noqa: S608


def public_state(request: web.Request) -> str:
    """What every public page is made of, in a few numbers (see the module docstring).

    ``total_changes`` counts this connection's writes, ``data_version`` moves with
    other connections' commits (SQLite's PRAGMA data_version).
    """
    conn = request.app[keys.DB]
    data_version = conn.execute("PRAGMA data_version").fetchone()[0]
    newest = conn.execute(_NEWEST_PUBLICATION, (posts.now_seconds(),)).fetchone()[0]
    return f"{_PROCESS}:{conn.total_changes}:{data_version}:{newest}"


def public_etag(request: web.Request) -> str:
    digest = hashlib.sha256(f"{public_state(request)} {request.path_qs}".encode()).hexdigest()
    return f'W/"{digest[:32]}"'


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    # Weak comparison, as If-None-Match asks for: W/"x" matches "x".
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return etag.removeprefix("W/") in candidates


def _not_modified_since(header: str, last_modified: int) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    return since.tzinfo is not None and last_modified <= int(since.timestamp())


def public_validators(
    request: web.Request, last_modified: int | None = None, now: int | None = None
) -> tuple[dict[str, str], bool]:
    """The headers of a public answer (ETag, Cache-Control, Vary, Last-Modified when given)
    and whether the client's copy is current: ``If-None-Match`` decides when present,
    else ``If-Modified-Since`` (RFC 9110 13.2.2). A Last-Modified in the current second
    (`now`, Unix seconds) is no ground for 304: another change may come within that
    second (RFC 9110 8.8.2.2 calls such a date weak), as an import's does."""
    etag = public_etag(request)
    headers = {"ETag": etag, "Cache-Control": PUBLIC_CACHE_CONTROL, "Vary": "Cookie"}
    if last_modified is not None:
        headers["Last-Modified"] = rfc822(last_modified)
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return headers, _etag_matches(if_none_match, etag)
    since = request.headers.get("If-Modified-Since")
    if since is None or last_modified is None or (now is not None and last_modified >= now):
        return headers, False
    return headers, _not_modified_since(since, last_modified)


def not_modified(headers: dict[str, str]) -> web.Response:
    return web.Response(status=304, headers=headers)

"""The stylesheet and the editor's script: a fixed set of packaged files, by name.

Only files shipped in blog/static/ are served, looked up in a table made at import
(no path from the request reaches the file system), so an unknown name is the
site's own 404 page rather than an empty answer. A URL that carries the file's
current version (`?v=`, written by `static_url`) may be cached for a year.
"""

from __future__ import annotations

import hashlib

from aiohttp import web

from ..app_paths import STATIC_DIR

FILES = {path.name: path for path in STATIC_DIR.iterdir() if path.is_file()}
VERSIONS = {
    name: hashlib.sha256(path.read_bytes()).hexdigest()[:16] for name, path in FILES.items()
}
# Named here, not guessed from the host's mime.types (which differ between machines);
# text/javascript is RFC 9239's name.
CONTENT_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
LONG_CACHE = "public, max-age=31536000, immutable"
SHORT_CACHE = "public, max-age=300"


def static_url(name: str) -> str:
    """The URL of a packaged static file with its version, for templates."""
    return f"/static/{name}?v={VERSIONS[name]}"


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["filename"]
    path = FILES.get(name)
    if path is None:
        raise web.HTTPNotFound()
    current = request.query.get("v") == VERSIONS[name]
    headers = {"Cache-Control": LONG_CACHE if current else SHORT_CACHE}
    if path.suffix in CONTENT_TYPES:
        headers["Content-Type"] = CONTENT_TYPES[path.suffix]
    return web.FileResponse(path, headers=headers)

"""The stylesheet and the editor's script: a fixed set of packaged files, by name.

Only files shipped in blog/static/ are served, looked up in a table made at import
(no path from the request reaches the file system), so an unknown name is the
site's own 404 page rather than an empty answer. A URL that carries the file's
current version (`?v=`, written by `static_url`) may be cached for a year.

/favicon.ico (where browsers look without being told) answers with the image chosen on
the settings page, or the packaged favicon.png.
"""

from __future__ import annotations

import hashlib

from aiohttp import web

from .. import keys
from ..app_paths import STATIC_DIR
from ..sitesettings import site_of

FILES = {path.name: path for path in STATIC_DIR.iterdir() if path.is_file()}
VERSIONS = {
    name: hashlib.sha256(path.read_bytes()).hexdigest()[:16] for name, path in FILES.items()
}
# Named here, not guessed from the host's mime.types (which differ between machines);
# text/javascript is RFC 9239's name.
CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
}
DEFAULT_FAVICON = "favicon.png"
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


async def favicon(request: web.Request) -> web.StreamResponse:
    """The site's icon: the settings page's choice from the media library, else the
    packaged one. Cached briefly, so a new choice shows within minutes."""
    chosen = site_of(request).favicon
    media_dir = request.app[keys.SETTINGS].media_dir
    if chosen and (media_dir / chosen).is_file():
        return web.FileResponse(media_dir / chosen, headers={"Cache-Control": SHORT_CACHE})
    headers = {"Cache-Control": SHORT_CACHE, "Content-Type": CONTENT_TYPES[".png"]}
    return web.FileResponse(FILES[DEFAULT_FAVICON], headers=headers)

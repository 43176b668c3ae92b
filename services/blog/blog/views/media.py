"""Image upload (dashboard) and serving (public) with headers that forbid execution."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from aiohttp import web

from .. import keys, media
from ..auth import current, login_required
from ..forms import read_form
from ..templating import page, render, see_other

# An image opened directly still gets no script, plugin or form: the sandbox CSP.
SERVING_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Content-Disposition": "inline",
    "Cache-Control": "public, max-age=31536000, immutable",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _visible_uploads(request: web.Request) -> list[media.MediaFile]:
    """The uploads this principal may manage, by the rule for posts (Principal.may_edit):
    an admin sees everyone's, an author only their own."""
    principal = current(request)
    uploader = None if principal.is_admin else principal.user_id
    return media.list_media(request.app[keys.DB], uploaded_by=uploader)


@login_required
@page("media.html")
async def media_list(request: web.Request) -> Mapping[str, object]:
    return {"files": _visible_uploads(request), "error": ""}


@login_required
async def upload(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    field = form.get("file")
    conn = request.app[keys.DB]
    settings = request.app[keys.SETTINGS]
    if not isinstance(field, web.FileField):
        error = "choose a file to upload"
    else:
        # Reading the spooled file and the durable write (fsync) block: not on the loop.
        data = await asyncio.to_thread(field.file.read, settings.max_upload_bytes + 1)
        try:
            extension = media.check_upload(data, settings.max_upload_bytes)
        except media.MediaError as exc:
            error = str(exc)
        else:
            name = await asyncio.to_thread(media.write_file, settings.media_dir, data, extension)
            uploader = current(request).user_id
            media.record_media(conn, name, len(data), field.filename or "", uploader)
            return see_other("/dashboard/media")
    context = {"files": _visible_uploads(request), "error": error}
    return render("media.html", request, context, status=400)


async def serve(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = request.app[keys.SETTINGS].media_dir / name
    if not media.NAME_PATTERN.match(name) or not path.is_file():
        raise web.HTTPNotFound()
    content_type = media.TYPES[name.rsplit(".", 1)[1]]
    headers = {**SERVING_HEADERS, "Content-Type": content_type}
    return web.FileResponse(path, headers=headers)

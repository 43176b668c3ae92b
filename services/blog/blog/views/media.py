"""Images: upload (the images page, the editor, the editor's script), list, delete, serve.

Every upload is checked (type from its first bytes, size), re-encoded by Pillow in a
worker process (imaging.py: orientation applied, GPS and camera data removed), written
durably and recorded with its size in pixels and the description the author gave
(alt text, required: never the file name). Served files carry headers that forbid
running anything.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from .. import keys, media
from ..auth import current, login_required
from ..errorpages import wants_json
from ..forms import OversizeFile, read_form, text
from ..imaging import Reencoded
from ..templating import render, see_other

# An image opened directly still gets no script, plugin or form: the sandbox CSP.
SERVING_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Content-Disposition": "inline",
    "Cache-Control": "public, max-age=31536000, immutable",
    "Cross-Origin-Resource-Policy": "same-origin",
}
NO_ALT = (
    "describe the image for readers who cannot see it (the alt text), for example"
    " “Our dog asleep on the sofa”"
)


def chosen_file(value: object) -> web.FileField | OversizeFile | None:
    """The file a file input sent, or None when none was chosen."""
    return value if isinstance(value, (web.FileField, OversizeFile)) else None


async def store_image(
    request: web.Request, upload: web.FileField | OversizeFile, alt: str
) -> media.MediaFile:
    """Check, re-encode (in the image worker), write and record one upload.

    Raises media.MediaError (status 400, or 413 for too large) saying what to change,
    and RenderBusy when the image worker stays busy (a 503, errorpages.py).
    """
    settings = request.app[keys.SETTINGS]
    limit = settings.max_upload_bytes
    if isinstance(upload, OversizeFile):
        raise media.too_large(limit)
    if not alt.strip():
        raise media.MediaError(NO_ALT)
    data = await asyncio.to_thread(upload.file.read, limit + 1)
    media.check_upload(data, limit)
    image = await request.app[keys.IMAGER].run(data)
    assert isinstance(image, Reencoded)
    about = media.Described(
        upload.filename, current(request).user_id, alt, image.width, image.height
    )
    # The durable write (fsync) in a thread; the row on the loop, like every other write.
    name = await asyncio.to_thread(
        media.write_file, settings.media_dir, image.data, image.extension
    )
    return media.record_media(request.app[keys.DB], name, len(image.data), about)


def _visible_uploads(request: web.Request) -> list[media.MediaFile]:
    """The uploads this principal may manage, by the rule for posts (Principal.may_edit):
    an admin sees everyone's, an author only their own."""
    principal = current(request)
    uploader = None if principal.is_admin else principal.user_id
    return media.list_media(request.app[keys.DB], uploaded_by=uploader)


def media_page(
    request: web.Request,
    *,
    error: str = "",
    status: int = 200,
    confirm: media.MediaFile | None = None,
) -> web.Response:
    conn = request.app[keys.DB]
    context = {
        "files": _visible_uploads(request),
        "error": error,
        "confirm": confirm,
        "used_by": media.entries_using(conn, confirm.name) if confirm else [],
        "max_upload_mb": request.app[keys.SETTINGS].max_upload_bytes // (1024 * 1024),
    }
    return render("media.html", request, context, status=status)


@login_required
async def media_list(request: web.Request) -> web.StreamResponse:
    return media_page(request)


@login_required
async def upload(request: web.Request) -> web.StreamResponse:
    """The images page's form, or the editor's script (Accept: application/json, 201
    with the file's `url`, `width`, `height` and `markdown`)."""
    form = await read_form(request)
    upload = chosen_file(form.get("file"))
    try:
        if upload is None:
            raise media.MediaError("choose a file to upload")
        stored = await store_image(request, upload, text(form, "alt"))
    except media.MediaError as exc:
        if wants_json(request):
            return web.json_response({"status": exc.status, "error": str(exc)}, status=exc.status)
        return media_page(request, error=str(exc), status=exc.status)
    if wants_json(request):
        fields = {"url": stored.url, "width": stored.width, "height": stored.height}
        return web.json_response({**fields, "markdown": stored.markdown}, status=201)
    return see_other("/dashboard/media")


@login_required
async def delete(request: web.Request) -> web.StreamResponse:
    """Delete an upload of one's own (admins: any), once `confirmed=delete` is sent."""
    conn = request.app[keys.DB]
    found = media.get_media(conn, request.match_info["name"])
    if found is None or not current(request).may_edit(found.uploaded_by):
        raise web.HTTPNotFound()
    if text(await read_form(request), "confirmed") != "delete":
        return media_page(request, confirm=found)
    media.forget_media(conn, found.name)
    path = request.app[keys.SETTINGS].media_dir / found.name
    await asyncio.to_thread(path.unlink, missing_ok=True)
    return see_other("/dashboard/media")


async def serve(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = request.app[keys.SETTINGS].media_dir / name
    if not media.NAME_PATTERN.match(name) or not path.is_file():
        raise web.HTTPNotFound()
    content_type = media.TYPES[name.rsplit(".", 1)[1]]
    headers = {**SERVING_HEADERS, "Content-Type": content_type}
    return web.FileResponse(path, headers=headers)

"""Reading submitted forms: every way a body can fail to decode is a 400 that says why, and
an image over the limit costs the author nothing else they sent.

aiohttp's `request.post()` raises on a body that is not what its headers say (a
`Content-Encoding: deflate` body that is not deflate, an unknown or wrong charset, a
multipart body without a boundary or a part without a name), and refuses a whole
multipart body past `client_max_size`, text and all. Every handler and the CSRF check
read forms through `read_form`, so none of those reaches an unhandled exception, and
the form is read once per request (cached).

Multipart forms (the editor, the image page) are read here, part by part, with their
own bounds: text fields MAX_TEXT_BYTES together; one file up to the upload limit is
kept; a file over it is read on and dropped, up to DRAIN_FACTOR times the limit, and
reaches the handler as an OversizeFile, so the editor can answer "that image is too
large" with the author's text still in the form. Past that the answer is 413.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import BodyPartReader, hdrs, web
from multidict import MultiDict, MultiDictProxy

from . import keys

Form = Mapping[str, object]

HOW_TO_FIX = (
    "send application/x-www-form-urlencoded or multipart/form-data in UTF-8,"
    " with a Content-Encoding that matches the body"
)
MAX_TEXT_BYTES = 4 * 1024 * 1024  # text fields of one form together: 16 texts at their limit
MAX_FIELDS = 100
DRAIN_FACTOR = 4  # a file over the limit is read (and dropped) up to this many times it
_FORM = web.RequestKey("form", MultiDictProxy)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class OversizeFile:
    """A file field over the upload limit: its bytes were dropped, its name kept."""

    name: str
    filename: str
    size: int  # bytes read: more than the limit


async def read_form(request: web.Request) -> Form:
    """The request's form fields (empty for bodies that are not forms), read once.

    File fields are aiohttp's FileField (in memory, at most the upload limit) or an
    OversizeFile. Raises HTTPBadRequest for a body that cannot be decoded and
    HTTPRequestEntityTooLarge (413) for one past the bounds above.
    """
    form = request.get(_FORM)
    if form is None:
        try:
            if request.content_type == "multipart/form-data" and request.method in (
                request.POST_METHODS
            ):
                form = await _read_bounded(request)
            else:
                form = await request.post()
        except (ValueError, LookupError, web.RequestPayloadError) as exc:
            # UnicodeDecodeError is a ValueError; LookupError: an unknown charset.
            message = f"The form could not be read ({exc}); {HOW_TO_FIX}."
            raise web.HTTPBadRequest(text=message) from None
        request[_FORM] = form
    return form


async def _read_bounded(request: web.Request) -> MultiDictProxy[object]:
    try:
        return await _read_multipart(request)
    except web.HTTPRequestEntityTooLarge:
        # Past the bounds the rest of the body is not worth reading: close the connection
        # after the answer instead of waiting for it (aiohttp would linger up to 10 s).
        if request.protocol is not None:
            request.protocol.force_close()
        raise


def _too_large(size: int, limit: int) -> web.HTTPRequestEntityTooLarge:
    return web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)


async def _read_multipart(request: web.Request) -> MultiDictProxy[object]:
    file_limit = request.app[keys.SETTINGS].max_upload_bytes
    reader = await request.multipart()
    fields: MultiDict[object] = MultiDict()
    text_bytes = kept_file_bytes = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise ValueError("a multipart form may not nest another multipart body")
        if part.name is None:
            raise ValueError("a multipart part has no name")
        if len(fields) >= MAX_FIELDS:
            raise ValueError(f"more than {MAX_FIELDS} fields")
        if part.filename:
            size, data = await _read_file(part, file_limit, file_limit - kept_file_bytes)
            if data is None:
                fields.add(part.name, OversizeFile(part.name, part.filename, size))
                continue
            kept_file_bytes += size
            content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
            file = web.FileField(
                part.name, part.filename, io.BytesIO(data), content_type, part.headers
            )
            fields.add(part.name, file)
        else:
            value = await _read_text(part, MAX_TEXT_BYTES - text_bytes)
            text_bytes += len(value)
            content_type = part.headers.get(hdrs.CONTENT_TYPE)
            if content_type is None or content_type.startswith("text/"):
                fields.add(part.name, value.decode(part.get_charset(default="utf-8")))
            else:
                fields.add(part.name, value)
    return MultiDictProxy(fields)


async def _read_file(part: BodyPartReader, limit: int, room: int) -> tuple[int, bytes | None]:
    """(size, bytes) of a file part, or (size, None) past `room` (what is left of the
    limit for this form): then it is read on without keeping it, up to DRAIN_FACTOR."""
    data = bytearray()
    size = 0
    while chunk := await part.read_chunk():
        async for piece in part.decode_iter(chunk):
            size += len(piece)
            if size > limit * DRAIN_FACTOR:
                raise _too_large(size, limit)
            if size <= room:
                data.extend(piece)
    return (size, bytes(data)) if size <= room else (size, None)


async def _read_text(part: BodyPartReader, room: int) -> bytes:
    """A text part's bytes (its transfer coding undone), at most `room` of them."""
    raw = bytearray()
    while chunk := await part.read_chunk():
        raw.extend(chunk)
        if len(raw) > room:
            raise _too_large(len(raw), MAX_TEXT_BYTES)
    value = bytearray()
    async for piece in part.decode_iter(raw):
        value.extend(piece)
        if len(value) > room:
            raise _too_large(len(value), MAX_TEXT_BYTES)
    return bytes(value)


def text(form: Form, name: str) -> str:
    """A text field's value; "" when absent or not text (a file, or a binary part)."""
    value = form.get(name, "")
    return value if isinstance(value, str) else ""

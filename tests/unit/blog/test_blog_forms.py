"""Reading multipart forms with bounds of their own: an image over the limit is dropped, the
text is kept; past the bounds, a 413 and the connection closed."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from aiohttp import StreamReader, web
from aiohttp.test_utils import make_mocked_request
from blog import forms, keys
from blog.config import Settings

LIMIT = 64 * 1024
BOUNDARY = "xYzZy"


def multipart(*parts: tuple[str, bytes, str | None]) -> bytes:
    """A multipart/form-data body of (name, value, filename or None) parts."""
    chunks = []
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
        head += "Content-Type: application/octet-stream\r\n" if filename else ""
        chunks.append(head.encode() + b"\r\n" + value + b"\r\n")
    return b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()


def request_for(body: bytes) -> web.Request:
    """A POST of `body` as the server would hand it to a handler; its protocol is a mock
    with aiohttp's default header limits."""
    app = web.Application()
    app[keys.SETTINGS] = Settings(max_upload_bytes=LIMIT)
    protocol = mock.Mock(max_field_size=8190, max_headers=128)
    payload = StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
    payload.feed_data(body)
    payload.feed_eof()
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return make_mocked_request("POST", "/", headers, app=app, payload=payload, protocol=protocol)


async def read(body: bytes) -> tuple[forms.Form | None, web.HTTPException | None, mock.Mock]:
    request = request_for(body)
    protocol = request.protocol
    try:
        return await forms.read_form(request), None, protocol
    except web.HTTPException as error:
        return None, error, protocol


async def test_a_file_within_the_limit_is_kept_with_the_text() -> None:
    form, _, _ = await read(multipart(("title", b"T", None), ("image", b"x" * LIMIT, "a.png")))
    assert form is not None and forms.text(form, "title") == "T"
    image = form["image"]
    assert isinstance(image, web.FileField) and image.file.read() == b"x" * LIMIT


async def test_a_file_over_the_limit_is_dropped_and_the_text_around_it_kept() -> None:
    body = multipart(
        ("body_md", "é words".encode(), None),
        ("image", b"x" * (LIMIT + 1), "big.png"),
        ("action", b"publish", None),
    )
    form, error, _ = await read(body)
    assert error is None and form is not None
    assert (forms.text(form, "body_md"), forms.text(form, "action")) == ("é words", "publish")
    assert form["image"] == forms.OversizeFile("image", "big.png", LIMIT + 1)


@pytest.mark.parametrize(
    "body",
    [
        multipart(("image", b"x" * (LIMIT * forms.DRAIN_FACTOR + 1), "huge.png")),
        multipart(("body_md", b"w" * (forms.MAX_TEXT_BYTES + 1), None)),
        multipart(*[(f"f{n}", b"w" * (forms.MAX_TEXT_BYTES // 4), None) for n in range(5)]),
    ],
    ids=["a file far over the limit", "one text too long", "texts too long together"],
)
async def test_past_the_bounds_the_answer_is_413_and_the_connection_closes(body: bytes) -> None:
    _, error, protocol = await read(body)
    assert isinstance(error, web.HTTPRequestEntityTooLarge)
    protocol.force_close.assert_called_once()


async def test_a_form_is_read_once() -> None:
    request = request_for(multipart(("title", b"T", None)))
    first = await forms.read_form(request)
    assert await forms.read_form(request) is first

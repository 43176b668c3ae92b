"""Reading submitted forms: every way a body can fail to decode is a 400 that says why.

aiohttp's `request.post()` raises on a body that is not what its headers say (a
`Content-Encoding: deflate` body that is not deflate, an unknown or wrong charset, a
multipart body without a boundary or a part without a name). Every handler and the
CSRF check read forms through `read_form`, so none of those reaches an unhandled
exception; the parsed form is cached by aiohttp, so reading twice costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

Form = Mapping[str, object]

HOW_TO_FIX = (
    "send application/x-www-form-urlencoded or multipart/form-data in UTF-8,"
    " with a Content-Encoding that matches the body"
)


async def read_form(request: web.Request) -> Form:
    """The request's form fields (empty for bodies that are not forms).

    Raises HTTPBadRequest for a body that cannot be decoded, and aiohttp's
    HTTPRequestEntityTooLarge (413) for one over the application's client_max_size.
    """
    try:
        return await request.post()
    except (ValueError, LookupError, web.RequestPayloadError) as exc:
        # UnicodeDecodeError is a ValueError; LookupError: an unknown charset.
        message = f"The form could not be read ({exc}); {HOW_TO_FIX}."
        raise web.HTTPBadRequest(text=message) from None


def text(form: Form, name: str) -> str:
    """A text field's value; "" when absent or not text (a file, or a binary part)."""
    value = form.get(name, "")
    return value if isinstance(value, str) else ""

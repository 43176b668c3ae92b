"""The proxy's own short error pages: what failed, never how (no internals, no traces)."""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import HttpVersion11, web

# Our own name, so aiohttp does not announce its version and Python's in every answer.
SERVER_NAME = "tlsproxy"

EXPLANATIONS = {
    400: "The request is malformed or ambiguous and was not forwarded.",
    401: "This service needs a user name and password.",
    403: "Access to this service is not allowed from here.",
    404: "No route of this proxy matches the request.",
    405: "This method is not accepted by this proxy.",
    408: "The request headers did not arrive in time.",
    413: "The request body is larger than this proxy allows.",
    417: "Only the expectation 100-continue is supported.",
    429: "Too many failed sign-in attempts from this address; try again later.",
    431: "The request headers are larger than this proxy allows.",
    501: "The request uses a transfer coding this proxy does not support.",
    502: "The backend service could not be reached or sent an invalid response.",
    503: "The backend service did not accept the connection in time, or the proxy is busy.",
    504: "The backend service did not answer in time.",
}


NO_CLIENT_CERTIFICATE = (
    "This service needs a client certificate issued for it; none was presented. "
    "Install yours in the browser or pass it to your client, then retry."
)


def error_body(status: int, explanation: str | None = None) -> bytes:
    phrase = HTTPStatus(status).phrase
    explanation = EXPLANATIONS.get(status, "") if explanation is None else explanation
    return f"{status} {phrase}\n{explanation}\n".encode()


_BODIES = {status: error_body(status) for status in EXPLANATIONS}


def error_response(
    status: int, *, close: bool = False, explanation: str | None = None
) -> web.Response:
    if explanation is None:
        body = _BODIES.get(status) or error_body(status)
    else:
        body = error_body(status, explanation)
    response = web.Response(status=status, body=body, content_type="text/plain", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Server"] = SERVER_NAME
    if close:
        response.force_close()
    return response


def raw_error(status: int) -> bytes:
    """A complete HTTP/1.1 response for places with no request object (closes the connection)."""
    body = _BODIES.get(status) or error_body(status)
    phrase = HTTPStatus(status).phrase
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nServer: {SERVER_NAME}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def answer_as_http_1_1(request: web.BaseRequest) -> None:
    """Make the coming answer's status line say HTTP/1.1.

    aiohttp writes the status line with the request's version: for a request that
    failed to parse that is a placeholder 1.0, or whatever the client claimed (2.0,
    9.1, 0.9). A server answers with its own version (RFC 9112 section 2.3), as nginx
    does. ``version`` is a cached property: the unit tests pin this down.
    """
    request._version = HttpVersion11  # type: ignore[attr-defined]
    request._cache.pop("version", None)  # type: ignore[attr-defined]

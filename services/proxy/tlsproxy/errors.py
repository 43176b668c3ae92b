"""The proxy's own answers: short pages that say what failed, never how (no internals,
no traces), and the other responses the proxy makes itself (health, redirects)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import string
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING

from .fields import Fields

if TYPE_CHECKING:
    from .config import ErrorPages

# Our own name in ``Server`` (the backends' versions are never announced).
SERVER_NAME = "tlsproxy"
NO_ROUTE = "No route of this proxy matches the request."

EXPLANATIONS = {
    400: "The request is malformed or ambiguous and was not forwarded.",
    401: "This service needs a user name and password.",
    403: "Access to this service is not allowed from here.",
    404: NO_ROUTE,
    405: "This method is not accepted by this proxy.",
    408: "The request did not arrive in time.",
    413: "The request body is larger than this proxy allows.",
    414: "The request target is longer than this proxy allows.",
    417: "Only the expectation 100-continue is supported.",
    429: "Too many requests or connections from this address; try again later.",
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
PLAIN_HTTP_ON_TLS_PORT = (
    "This port speaks HTTPS only: the request was sent in plain HTTP. Use an https:// address."
)
TOO_MANY_CONNECTIONS = (
    "This address holds too many open connections to this proxy; close some and retry."
)


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_body(status: int, explanation: str | None = None) -> bytes:
    explanation = EXPLANATIONS.get(status, "") if explanation is None else explanation
    return f"{status} {reason_phrase(status)}\n{explanation}\n".encode()


@dataclass(slots=True)
class Answer:
    """A response the proxy makes itself: ``status``, extra ``fields``, a whole ``body``.

    ``close`` ends the connection after it (the request was malformed or its body
    was not read); framing fields (Content-Length, Connection) are added when sent.
    """

    status: int
    body: bytes = b""
    fields: Fields = field(default_factory=Fields)
    close: bool = False
    explanation: str | None = None  # set on error answers: what an HTML page would say


def error_answer(status: int, *, close: bool = False, explanation: str | None = None) -> Answer:
    """A plain-text error page that can never be cached (``ErrorPage`` may dress it)."""
    fields = Fields.of(
        (("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"))
    )
    explained = EXPLANATIONS.get(status, "") if explanation is None else explanation
    return Answer(status, error_body(status, explanation), fields, close, explained)


_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S | re.I)


class ErrorPage:
    """The HTML form of the proxy's error answers, for clients that ask for HTML
    (``Accept: text/html``: browsers navigating); others keep the two lines of text.

    Every value put in the template is HTML-escaped. The page may style itself with
    inline ``<style>`` elements only: its Content-Security-Policy allows exactly their
    hashes (CSP Level 2 hash sources) and nothing else, no script, no request.
    """

    def __init__(self, pages: ErrorPages) -> None:
        self.template = string.Template(pages.template)
        self.site_title = pages.site_title
        self.wording = dict(pages.wording)
        hashes = " ".join(
            "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"
            for style in _STYLE.findall(pages.template)
        )
        style_src = hashes or "'none'"
        self.policy = (
            f"default-src 'none'; style-src {style_src}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )

    def dress(self, answer: Answer) -> Answer:
        """``answer`` as the HTML page, with the same status and closing."""
        wording = self.wording.get(answer.status)
        title = wording.title if wording else reason_phrase(answer.status)
        explanation = wording.explanation if wording else (answer.explanation or "")
        body = self.template.substitute(
            status=str(answer.status),
            title=html.escape(title),
            explanation=html.escape(explanation),
            site_title=html.escape(self.site_title),
        ).encode("utf-8")
        fields = Fields.of(
            (
                ("Content-Type", "text/html; charset=utf-8"),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
                ("Content-Security-Policy", self.policy),
            )
        )
        for name, value in answer.fields:
            if name.lower() not in ("content-type", "cache-control"):
                fields.add(name, value)  # e.g. WWW-Authenticate, Retry-After
        return Answer(answer.status, body, fields, answer.close, answer.explanation)


def raw_error(status: int, explanation: str | None = None) -> bytes:
    """A complete HTTP/1.1 error response that closes the connection, for places that
    answer before any request was read (connection limits, plain HTTP on TLS)."""
    body = error_body(status, explanation)
    head = (
        f"HTTP/1.1 {status} {reason_phrase(status)}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        f"Cache-Control: no-store\r\nServer: {SERVER_NAME}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body

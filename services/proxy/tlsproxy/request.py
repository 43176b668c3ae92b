"""A client's request head, checked once against the framing and target rules before
anything routes or forwards it.

llhttp (``httptools``, strict mode: no lenient flag is ever set) has already refused
what RFC 9112 forbids outright: bad request lines and versions, bare CR or LF,
obs-fold, Content-Length with Transfer-Encoding, a repeated or non-decimal
Content-Length, control characters. ``RequestHead.build`` adds the rules a
proxy needs on top, each raising ``RequestRefused`` with the status to answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from .fields import Fields, list_tokens
from .host import Authority, HostError, parse_authority
from .target import Target, TargetError, parse_target

SUPPORTED_VERSIONS = ("1.1", "1.0")
# A reverse proxy is no tunnel (CONNECT), and TRACE would echo cookies back (XST).
REFUSED_METHODS = frozenset(("CONNECT", "TRACE"))
# Fields whose values the head rules read; collected while parsing, not looked up.
WATCHED = frozenset(
    ("host", "content-length", "transfer-encoding", "expect", "upgrade", "connection")
)


class RequestRefused(Exception):
    """The request is answered by the proxy with ``status`` and the connection closed."""

    def __init__(self, status: int, explanation: str | None = None) -> None:
        super().__init__(status, explanation)
        self.status = status
        self.explanation = explanation


@dataclass(slots=True)
class RequestHead:
    """One request's head as the proxy forwards it.

    ``raw_target`` is the request-target as received (for the access log), ``target``
    its normalized form (routing and forwarding); ``host`` the validated Host field;
    ``content_length`` the declared body length, None when chunked or bodiless;
    ``upgrade`` is ``"websocket"`` for a WebSocket handshake (RFC 6455 4.1), else None.
    """

    method: str
    raw_target: str
    version: str
    fields: Fields
    target: Target
    host: Authority
    content_length: int | None
    chunked: bool
    keep_alive: bool
    upgrade: str | None
    expect_continue: bool

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)

    @classmethod
    def build(
        cls,
        method: str,
        raw_target: str,
        version: str,
        fields: Fields,
        watched: dict[str, list[str]],
        keep_alive: bool,
        switching: bool,
        scheme: str,
        max_body: int,
    ) -> RequestHead:
        """Apply the head rules; raise ``RequestRefused`` for the first one broken.

        ``watched`` maps each ``WATCHED`` name seen to its values; ``switching``: llhttp
        stopped after this head for a protocol switch (Upgrade listed in Connection);
        ``scheme`` is the listener's (for the default port of an absolute-form target);
        ``max_body`` in bytes, 0 for no limit.
        """
        if version not in SUPPORTED_VERSIONS:
            raise RequestRefused(400)  # HTTP/0.9 has no headers; 2.0 is not spoken here
        host = _host(watched.get("host"))
        if method in REFUSED_METHODS:
            raise RequestRefused(405)
        if raw_target == "*":
            raise RequestRefused(400, "A request for '*' is not forwarded by this proxy.")
        try:
            target = parse_target(raw_target)
        except TargetError as exc:
            raise RequestRefused(exc.status) from exc
        if target.authority is not None:
            _same_origin(target, host, scheme)
        chunked = _chunked(watched.get("transfer-encoding"), version)
        content_length = None
        if not chunked and "content-length" in watched:
            content_length = int(watched["content-length"][0])  # llhttp checked the digits
            if max_body and content_length > max_body:
                raise RequestRefused(413)
        expect = watched.get("expect")
        expect_continue = False
        if expect is not None:
            if list_tokens(expect) != ["100-continue"]:
                raise RequestRefused(417)
            expect_continue = version == "1.1"
        if switching and (chunked or content_length):
            # Where a body ends and the new protocol starts is read differently by
            # different servers (llhttp itself stops at the head): refused instead of
            # guessed (RFC 9110 7.8), whatever the protocol (websocket, h2c...).
            raise RequestRefused(400, "An upgrade request must not carry a body.")
        upgrade = _upgrade(method, version, watched)
        return cls(
            method,
            raw_target,
            version,
            fields,
            target,
            host,
            content_length,
            chunked,
            keep_alive,
            upgrade,
            expect_continue,
        )


def _host(values: list[str] | None) -> Authority:
    """RFC 9112 3.2: exactly one valid Host (HTTP/1.0 too: the backend and the links it
    builds need the public name, never its own)."""
    if not values or len(values) > 1:
        raise RequestRefused(400, "A request needs exactly one Host header field.")
    try:
        return parse_authority(values[0])
    except HostError as exc:
        raise RequestRefused(400, "The Host header field is not a valid host.") from exc


def _same_origin(target: Target, host: Authority, scheme: str) -> None:
    """RFC 9112 3.2.2: the target's authority outranks Host. Routing and the backend go
    by Host, so a request naming two different authorities is refused, not guessed.
    A port left out on either side is the listener's default: the target's scheme
    cannot change what this connection is."""
    assert target.authority is not None
    try:
        authority = parse_authority(target.authority)
    except HostError as exc:
        raise RequestRefused(400) from exc
    if not authority.same_origin(host, scheme, scheme):
        raise RequestRefused(400, "The request-target and Host name different origins.")


def _chunked(values: list[str] | None, version: str) -> bool:
    """Only ``chunked`` alone is forwarded (RFC 9112 6.1); HTTP/1.0 has no codings."""
    if values is None:
        return False
    if version == "1.0":
        raise RequestRefused(400, "HTTP/1.0 has no Transfer-Encoding.")
    codings = list_tokens(values)
    if not codings or codings[-1] != "chunked":
        raise RequestRefused(400, "A request body's last transfer coding must be chunked.")
    if codings != ["chunked"]:
        raise RequestRefused(501)  # e.g. "gzip, chunked": never guessed
    return True


def _upgrade(method: str, version: str, watched: dict[str, list[str]]) -> str | None:
    """``"websocket"`` when this is a WebSocket handshake (GET, HTTP/1.1, Upgrade listed
    in Connection); other upgrades (``h2c``...) are not forwarded: the request goes on
    as a plain HTTP/1.1 request."""
    upgrade = watched.get("upgrade")
    if upgrade is None or method != "GET" or version != "1.1":
        return None
    if "upgrade" not in list_tokens(watched.get("connection", ())):
        return None
    return "websocket" if "websocket" in list_tokens(upgrade) else None

"""What a case is, and the helpers the table (``table.py``) writes cases with.

A case is the bytes a client sends (possibly several requests, possibly in pieces)
and the bytes the backend answers with; ``ours`` holds what our proxy must do
beyond the safety properties every case checks (``properties.py``): the decisions
of issue 14 where they go further than "do what nginx does".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .backend import Answer
from .client import Pause, Piece

HOST = "example.test"
SPOOFED_ADDRESS = "203.0.113.66"  # TEST-NET-3: a client-chosen address no header may carry
WEBSOCKET_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample key
SMUGGLED = "/smuggled"  # the target of requests hidden in bodies: no backend may see one


@dataclass(frozen=True)
class Expect:
    """What our proxy must do with a case (each ``None`` or empty: not checked)."""

    statuses: tuple[int, ...] | None = None  # final answers to the case's requests, in order
    forwarded: int | None = None  # case requests (not controls) the backend receives
    targets: tuple[bytes, ...] | None = None  # their targets as the backend receives them
    absent: tuple[str, ...] = ()  # field names no forwarded request may carry
    unchanged: tuple[str, ...] = ()  # fields forwarded with exactly the client's value
    interim: tuple[int, ...] | None = None  # 1xx answers the client gets, in order
    relayed: bool = False  # the final answers are the backend's, not the proxy's own
    answer_absent: tuple[str, ...] = ()  # field names no answer to the client may carry


@dataclass(frozen=True)
class Case:
    """One row of the table: see the module docstring."""

    id: str
    send: tuple[Piece, ...]
    methods: tuple[bytes, ...] = (b"GET",)  # one per request the client means to send
    answers: tuple[Answer, ...] = ()  # the backend's answers to the case's requests
    listener: str = "http"  # http, https, or https-plain (plain bytes to the TLS port)
    frames: tuple[bytes, ...] = ()  # WebSocket frames sent after a 101
    control: bool = True  # a control request on the same connection afterwards
    ours: Expect = field(default_factory=Expect)

    def sent_values(self, name: str) -> list[bytes]:
        """The values the client sent for field ``name`` (from the case's bytes)."""
        sent = b"".join(p for p in self.send if isinstance(p, bytes))
        head = sent.split(b"\r\n\r\n", 1)[0]
        wanted = name.lower().encode() + b":"
        return [
            line[len(wanted) :].strip(b" \t")
            for line in head.split(b"\r\n")
            if line.lower().startswith(wanted)
        ]


def case(
    case_id: str,
    *send: Piece,
    methods: Sequence[str] | None = None,
    answers: Sequence[Answer] = (),
    listener: str = "http",
    frames: Sequence[bytes] = (),
    control: bool = True,
    ours: Expect | None = None,
) -> Case:
    """A table row; ``methods`` defaults to the first word of each piece that starts a
    request (pieces are whole requests unless split with ``Pause``)."""
    if methods is None:
        methods = _methods_of(send)
    return Case(
        case_id,
        tuple(send),
        tuple(m.encode() for m in methods),
        tuple(answers),
        listener,
        tuple(frames),
        control,
        ours or Expect(),
    )


def _methods_of(send: Sequence[Piece]) -> list[str]:
    methods: list[str] = []
    starts_request = True
    for piece in send:
        if isinstance(piece, Pause):
            starts_request = False
            continue
        if starts_request:
            methods.append(piece.split(b" ", 1)[0].decode("latin-1") or "GET")
    return methods or ["GET"]


def request(
    method: str = "GET",
    target: str = "/",
    *fields: str | bytes,
    body: bytes = b"",
    host: str | None = HOST,
    version: str = "HTTP/1.1",
) -> bytes:
    """A request as bytes. ``fields`` are whole field lines; ``Host`` comes first unless
    ``host`` is None; ``Content-Length`` is added for a body unless a field frames it."""
    lines = [f"{method} {target} {version}".encode("latin-1")]
    if host is not None:
        lines.append(f"Host: {host}".encode("latin-1"))
    lines += [f if isinstance(f, bytes) else f.encode("latin-1") for f in fields]
    framed = any(
        line.lower().startswith((b"content-length:", b"transfer-encoding:")) for line in lines
    )
    if body and not framed:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def chunked_post(body: bytes, *fields: str, version: str = "HTTP/1.1") -> bytes:
    """A POST whose body is ``body`` exactly as given, declared chunked."""
    return request("POST", "/f", "Transfer-Encoding: chunked", *fields, body=body, version=version)


def chunked(*chunks: bytes, trailers: Sequence[str] = ()) -> bytes:
    """A chunked body (RFC 9112 section 7.1) with the given chunks and trailer lines."""
    out = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks if chunk)
    trailer = b"".join(t.encode("latin-1") + b"\r\n" for t in trailers)
    return out + b"0\r\n" + trailer + b"\r\n"


def smuggled_request() -> bytes:
    """A whole request to put inside a body: if a backend ever parses it, that is a desync."""
    return request("GET", SMUGGLED, "X-Smuggled: yes")


def websocket_upgrade(target: str = "/ws", *fields: str, body: bytes = b"") -> bytes:
    """A WebSocket opening handshake (RFC 6455 section 4.1)."""
    return request(
        "GET",
        target,
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {WEBSOCKET_KEY}",
        "Sec-WebSocket-Version: 13",
        *fields,
        body=body,
    )


def reply(
    status: str = "200 OK",
    *fields: str,
    body: bytes = b"",
    length: bool = True,
    then: bytes = b"",
    early: bool = False,
    close: bool = False,
    content_type: str | None = "text/plain",
) -> Answer:
    """A backend answer marked ``X-Backend: script``; ``Content-Length`` is added when
    ``length`` and no field frames the body; ``then`` are stray bytes written after it
    (an answer with them poisons its connection)."""
    lines = [f"HTTP/1.1 {status}", "X-Backend: script", *fields]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    framed = any(f.lower().startswith(("content-length:", "transfer-encoding:")) for f in fields)
    if length and not framed:
        lines.append(f"Content-Length: {len(body)}")
    data = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body + then
    return Answer(data, early=early, close=close, poisons=bool(then))


def raw_answer(
    first_line: bytes, *fields: bytes, body: bytes = b"", eol: bytes = b"\r\n", **flags: bool
) -> Answer:
    """An answer written exactly as given, line by line, marked ``X-Backend: script`` and
    ``Content-Type: text/plain`` after its first line; ``flags`` as ``Answer``'s."""
    lines = [first_line, b"X-Backend: script", b"Content-Type: text/plain", *fields]
    return Answer(eol.join(lines) + eol + eol + body, **flags)


def switching(*fields: str, early: bool = False, only_if_asked: bool = False) -> Answer:
    """A backend accepting a WebSocket upgrade (101 with the right accept value);
    ``only_if_asked``: only when the request's Upgrade names websocket, else an echo."""
    data = "\r\n".join(
        [
            "HTTP/1.1 101 Switching Protocols",
            "X-Backend: script",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Accept: {accept}",
            *fields,
        ]
    ).encode("latin-1")
    asked = b"websocket" if only_if_asked else None
    return Answer(data + b"\r\n\r\n", early=early, switch=True, when_upgrade=asked)

"""A strict HTTP/1.1 message reader for both ends of the suite (RFC 9112).

The recording backend reads requests with it and the client reads answers with it.
It is deliberately strict where a proxy's output must be clean: CRLF line ends only
(RFC 9112 section 2.2), no obsolete line folding (5.2), token field names (5.1), no
control characters in values (RFC 9110 5.5), one framing per message (6.1, 6.3).
Anything else raises ``Malformed``: the suite treats such bytes from a proxy as a
fault, never guesses what they meant. Functions work on a buffer and return ``None``
while a message is incomplete, so callers can feed bytes as they arrive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CRLF = b"\r\n"
END_OF_HEAD = b"\r\n\r\n"
MAX_HEAD_BYTES = 1 << 20  # larger than any proxy here forwards; beyond it is a runaway
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;.*)?")
_REQUEST_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP/1\.[01])")
_STATUS_LINE = re.compile(rb"(HTTP/1\.[01]) ([0-9]{3}) ?(.*)")


class Malformed(ValueError):
    """The bytes are not one valid HTTP/1.1 message; the message says what is wrong."""


@dataclass(frozen=True)
class Head:
    """A start line and its header fields, as received (names keep their case)."""

    start: bytes
    fields: tuple[tuple[bytes, bytes], ...]

    def values(self, name: str) -> list[bytes]:
        """Every value of the field ``name`` (case-insensitive), in order."""
        wanted = name.lower().encode()
        return [value for key, value in self.fields if key.lower() == wanted]

    def has_token(self, name: str, token: str) -> bool:
        """True when the comma-separated list field ``name`` holds ``token``."""
        wanted = token.lower().encode()
        return any(
            part.strip().lower() == wanted
            for value in self.values(name)
            for part in value.split(b",")
        )


@dataclass(frozen=True)
class Body:
    """A message body with its framing removed, and its trailer fields if chunked."""

    data: bytes
    trailers: tuple[tuple[bytes, bytes], ...] = ()
    chunked: bool = False


def read_head(buffer: bytes) -> tuple[Head, int] | None:
    """Parse a head at the start of ``buffer``: ``(head, bytes used)`` or None if short.

    Raises ``Malformed`` for bare CR or LF, obsolete folding, bad names or values.
    """
    end = buffer.find(END_OF_HEAD)
    if end == -1:
        if len(buffer) > MAX_HEAD_BYTES:
            raise Malformed(f"no end of header section in {len(buffer)} bytes")
        if b"\n\n" in buffer or b"\r\r" in buffer:
            raise Malformed("header section ended by bare LF or CR")
        return None
    lines = buffer[:end].split(CRLF)
    for line in lines:
        if b"\r" in line or b"\n" in line:
            raise Malformed(f"bare CR or LF in {line[:60]!r}")
    fields = tuple(_field(line) for line in lines[1:])
    return Head(lines[0], fields), end + len(END_OF_HEAD)


def _field(line: bytes) -> tuple[bytes, bytes]:
    if line[:1] in (b" ", b"\t"):
        raise Malformed(f"obsolete line folding: {line[:60]!r}")
    name, colon, value = line.partition(b":")
    if not colon or not _TOKEN.fullmatch(name):
        raise Malformed(f"bad field name in {line[:60]!r}")
    value = value.strip(b" \t")
    if _BAD_VALUE.search(value):
        raise Malformed(f"control character in the value of {name!r}")
    return name, value


def request_line(head: Head) -> tuple[bytes, bytes, bytes]:
    """``(method, target, version)`` of a request head (RFC 9112 section 3)."""
    match = _REQUEST_LINE.fullmatch(head.start)
    if match is None:
        raise Malformed(f"bad request line {head.start[:80]!r}")
    method, target, version = match.groups()
    return method, target, version


def status_line(head: Head) -> tuple[bytes, int, bytes]:
    """``(version, status, reason)`` of a response head (RFC 9112 section 4)."""
    match = _STATUS_LINE.fullmatch(head.start)
    if match is None:
        raise Malformed(f"bad status line {head.start[:80]!r}")
    version, status, reason = match.groups()
    return version, int(status), reason


@dataclass(frozen=True)
class Framing:
    """How a body is delimited: ``kind`` is none, length, chunked or close."""

    kind: str
    length: int = 0


NO_BODY = Framing("none")


def request_framing(head: Head) -> Framing:
    """RFC 9112 section 6.3 for requests, refusing every ambiguous shape."""
    codings = head.values("Transfer-Encoding")
    lengths = head.values("Content-Length")
    if codings:
        if lengths:
            raise Malformed("both Transfer-Encoding and Content-Length")
        if len(codings) != 1 or codings[0].lower() != b"chunked":
            raise Malformed(f"transfer coding other than chunked: {codings!r}")
        return Framing("chunked")
    if not lengths:
        return NO_BODY
    return Framing("length", _single_length(lengths))


def response_framing(head: Head, status: int, request_method: bytes) -> Framing:
    """RFC 9112 section 6.3 for responses to ``request_method``."""
    if status < 200 or status in (204, 304) or request_method == b"HEAD":
        return NO_BODY
    if request_method == b"CONNECT" and status < 300:
        return Framing("close")  # a tunnel: everything after the head is the tunnel
    codings = head.values("Transfer-Encoding")
    lengths = head.values("Content-Length")
    if codings:
        if lengths:
            raise Malformed("both Transfer-Encoding and Content-Length")
        if codings[-1].lower().split(b",")[-1].strip() != b"chunked":
            return Framing("close")
        return Framing("chunked")
    if lengths:
        return Framing("length", _single_length(lengths))
    return Framing("close")


def _single_length(values: list[bytes]) -> int:
    if len(values) != 1 or not values[0].isdigit() or len(values[0]) > 18:
        raise Malformed(f"Content-Length must be one decimal number: {values!r}")
    return int(values[0])


def read_body(buffer: bytes, framing: Framing, at_eof: bool = False) -> tuple[Body, int] | None:
    """The body framed by ``framing`` at the start of ``buffer``; None while incomplete.

    ``at_eof`` says the peer closed: a close-delimited body ends there, any other
    incomplete body raises ``Malformed``.
    """
    if framing.kind == "none":
        return Body(b""), 0
    if framing.kind == "length":
        if len(buffer) >= framing.length:
            return Body(buffer[: framing.length]), framing.length
    elif framing.kind == "close":
        if at_eof:
            return Body(buffer), len(buffer)
        return None
    else:
        done = read_chunked(buffer)
        if done is not None:
            return done
    if at_eof:
        raise Malformed(f"connection closed inside a {framing.kind} body")
    return None


def read_chunked(buffer: bytes) -> tuple[Body, int] | None:
    """A chunked body (RFC 9112 section 7.1): data, trailers and bytes used, or None."""
    data = bytearray()
    offset = 0
    while True:
        line_end = buffer.find(CRLF, offset)
        if line_end == -1:
            if len(buffer) - offset > 1024:
                raise Malformed("chunk-size line too long")
            return None
        line = buffer[offset:line_end]
        match = _CHUNK_SIZE.fullmatch(line)
        if match is None or b"\n" in line or b"\r" in line:
            raise Malformed(f"bad chunk-size line {line[:60]!r}")
        size = int(match.group(1), 16)
        offset = line_end + 2
        if size == 0:
            break
        if len(buffer) < offset + size + 2:
            return None
        if buffer[offset + size : offset + size + 2] != CRLF:
            raise Malformed("chunk data not followed by CRLF")
        data += buffer[offset : offset + size]
        offset += size + 2
    if buffer[offset : offset + 2] == CRLF:
        return Body(bytes(data), (), True), offset + 2
    parsed = read_head(b"trailer-section\r\n" + buffer[offset:])
    if parsed is None:
        return None
    trailer, used = parsed
    return Body(bytes(data), trailer.fields, True), offset + used - len(b"trailer-section\r\n")

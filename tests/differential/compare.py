"""Normalized views of an observation, and where nginx's and ours differ.

Three aspects are compared, each as lines of text (shown as a unified diff):

- ``status``: the status of every answer on the case's connection, in order;
- ``answer``: for answers that came from the backend (``X-Backend`` field), their
  fields and body; for the proxy's own answers only that they were its own (their
  pages and fields are each proxy's business); WebSocket frames after a 101;
- ``backend``: what the backend received, connection by connection: each request's
  line, fields and body with its framing removed (the framing is checked for
  validity by ``properties``, not compared: nginx buffers a body and sends its
  length, ours streams it chunked), or the bytes that did not parse.

Normalization, all of it listed here as constants: answer fields that are per hop
or per server (``IGNORED_ANSWER_FIELDS``); in forwarded requests, the framing
fields (``FRAMING_FIELDS``), the fields each proxy sets itself (``SET_BY``: written
``<set by proxy>``, or dropped when only one proxy sets them, unless the value
carries the client's spoofed address), nonces (``NONCE_FIELDS``), token lists in
lower case (``CASE_INSENSITIVE_FIELDS``), and the control requests; field order
between different names; long values shortened to a prefix, length and digest.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable

from .backend import CONTROL_PATH, ConnectionRecord
from .cases import SPOOFED_ADDRESS
from .client import Conversation
from .run import Observation

ASPECTS = ("status", "answer", "backend")
# Per-hop or per-server fields of answers: each proxy writes its own.
IGNORED_ANSWER_FIELDS = frozenset(
    ("date", "server", "connection", "keep-alive", "transfer-encoding", "content-length")
)
# A forwarded request's framing is each proxy's own (nginx buffers a body and sends its
# length, ours streams it chunked); properties.py checks it is valid, the body is compared.
FRAMING_FIELDS = frozenset(("content-length", "transfer-encoding"))
# Token lists compared case-insensitively (RFC 9110 7.6.1, 7.8).
CASE_INSENSITIVE_FIELDS = frozenset(("connection", "upgrade"))
# A nonce: a proxy that makes its own WebSocket handshake sends its own (RFC 6455 4.1).
NONCE_FIELDS = frozenset(("sec-websocket-key",))
# What each proxy adds to every forwarded request, by its configuration (systems.py).
SET_BY_BOTH = frozenset(
    ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port")
)
SET_BY = {
    "nginx": SET_BY_BOTH | {"x-real-ip"},
    "ours": SET_BY_BOTH | {"forwarded"},
}
SET_BY_ONE = (SET_BY["nginx"] | SET_BY["ours"]) - SET_BY_BOTH
_SPOOF = SPOOFED_ADDRESS.encode()


def views(observation: Observation) -> dict[str, list[str]]:
    talk = observation.conversation
    return {
        "status": status_view(talk),
        "answer": answer_view(talk),
        "backend": backend_view(observation.system, observation.backend),
    }


def differences(nginx: Observation, ours: Observation) -> dict[str, str]:
    """Aspect -> unified diff (nginx first) for every aspect that differs."""
    theirs, mine = views(nginx), views(ours)
    found = {}
    for aspect in ASPECTS:
        if theirs[aspect] != mine[aspect]:
            diff = difflib.unified_diff(
                theirs[aspect], mine[aspect], "nginx", "ours", lineterm="", n=20
            )
            found[aspect] = "\n".join(diff)
    return found


def status_view(talk: Conversation) -> list[str]:
    lines = [f"{a.status} (truncated)" if a.truncated else str(a.status) for a in talk.answers]
    if not talk.finals:
        lines.append("no answer")
    if talk.malformed is not None:
        lines.append("bytes that are no answer")
    return lines


def answer_view(talk: Conversation) -> list[str]:
    lines: list[str] = []
    for answer in talk.answers:
        if not answer.values("X-Backend"):
            lines.append(f"{answer.status} (the proxy's own answer)")
            continue
        lines.append(f"{answer.status} {_text(answer.reason)}")
        lines += _fields(
            f for f in answer.fields if f[0].lower().decode() not in IGNORED_ANSWER_FIELDS
        )
        lines.append(f"  body: {_text(answer.body.data)}")
        lines += _fields(answer.body.trailers, "trailer ")
    lines += [f"frame {opcode}: {_text(payload)}" for opcode, payload in talk.frames]
    return lines


def backend_view(system: str, records: Iterable[ConnectionRecord]) -> list[str]:
    lines: list[str] = []
    number = 0
    for record in records:
        body = _connection_lines(system, record)
        if body:
            number += 1
            lines.append(f"connection {number}")
            lines += body
    return lines or ["nothing"]


def _connection_lines(system: str, record: ConnectionRecord) -> list[str]:
    lines: list[str] = []
    for request in record.requests:
        if request.target.startswith(CONTROL_PATH):
            continue
        lines.append(f"  {_text(request.method)} {_text(request.target)} {_text(request.version)}")
        fields = [_normalized_field(system, name, value) for name, value in request.head.fields]
        lines += _fields((f for f in fields if f is not None), "  ")
        if request.body.data:
            lines.append(f"    body: {_text(request.body.data)}")
        lines += _fields(request.body.trailers, "  trailer ")
    if record.malformed is not None:
        lines.append(
            f"  not a request ({record.malformed}): {_text(bytes(record.raw)[-300:], 300)}"
        )
    elif record.pending and not record.closed_by_script:  # else how much came is timing
        lines.append(f"  incomplete: {_text(record.pending, 300)}")
    lines += [f"  frame {opcode}: {_text(payload)}" for opcode, payload in record.frames]
    return lines


def _normalized_field(system: str, name: bytes, value: bytes) -> tuple[bytes, bytes] | None:
    lower = name.lower().decode()
    if lower in FRAMING_FIELDS:
        return None
    if lower in NONCE_FIELDS:
        return name, b"<nonce>"
    if lower in CASE_INSENSITIVE_FIELDS:
        return name, value.lower()
    if lower not in SET_BY[system] or _SPOOF in value:
        return name, value
    if lower in SET_BY_ONE:
        return None
    return name, b"<set by proxy>"


def _fields(fields: Iterable[tuple[bytes, bytes]], prefix: str = "") -> list[str]:
    # Field order between different names carries no meaning (RFC 9110 5.3); sorted
    # by name (a stable sort keeps the order of a name's repeated lines).
    ordered = sorted(fields, key=lambda f: f[0].lower())
    return [f"  {prefix}{_text(n.lower())}: {_text(v)}" for n, v in ordered]


def _text(data: bytes, limit: int = 120) -> str:
    """Bytes as readable text (ASCII as is, anything else escaped), long ones shortened
    to their start, length and digest so that two different ones still differ."""
    if len(data) <= limit:
        return repr(data)[2:-1]
    digest = hashlib.sha256(data).hexdigest()[:12]
    return f"{repr(data[:limit])[2:-1]}... ({len(data)} bytes, sha256 {digest})"

"""The raw client: sends a case's bytes as written, reads what comes back, answer by answer.

Nothing here fixes up what a case sends (no added Host, no framing): the bytes go
out as the table has them, in the pieces it gives, so the proxies see exactly the
same input. Answers are split with ``http1`` (HEAD and 1xx/204/304 answers have no
body), so a second answer to one request, or bytes that are no answer, show.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import http1, websocket
from .processes import LOOPBACK

ANSWER_TIMEOUT = 4.0  # seconds for every answer of a case; more than any proxy timeout here
CLOSE_TIMEOUT = 1.0  # after an answer that announced close, how long to wait for the close


@dataclass(frozen=True)
class Pause:
    """Between two pieces of a case's bytes: the proxy reads them as separate packets."""

    seconds: float = 0.1


Piece = bytes | Pause


@dataclass(frozen=True)
class Answer:
    """One answer as the client read it."""

    status: int
    reason: bytes
    version: bytes
    fields: tuple[tuple[bytes, bytes], ...]
    body: http1.Body
    truncated: bool = False  # the connection closed inside its body (a cut, not a lie)

    @property
    def interim(self) -> bool:
        return 100 <= self.status < 200 and self.status != 101

    def values(self, name: str) -> list[bytes]:
        wanted = name.lower().encode()
        return [value for key, value in self.fields if key.lower() == wanted]


@dataclass
class Conversation:
    """Everything one client connection saw."""

    answers: list[Answer] = field(default_factory=list)
    closed: bool = False  # the proxy closed (or reset) the connection
    send_failed: bool = False  # the proxy stopped taking bytes before the case was sent
    timed_out: bool = False  # an answer did not come within ANSWER_TIMEOUT
    malformed: str | None = None  # bytes that are no answer
    leftover: bytes = b""  # bytes after the last whole answer
    frames: list[tuple[int, bytes]] = field(default_factory=list)  # WebSocket, after a 101

    @property
    def finals(self) -> list[Answer]:
        return [a for a in self.answers if not a.interim]


class Connection:
    """A client connection to one proxy listener."""

    def __init__(self, port: int, tls_ca: Path | None, server_name: str = "localhost") -> None:
        sock = socket.create_connection((LOOPBACK, port), timeout=ANSWER_TIMEOUT)
        if tls_ca is not None:
            context = ssl.create_default_context(cafile=str(tls_ca))
            sock = context.wrap_socket(sock, server_hostname=server_name)
        self.sock = sock
        self.buffer = b""
        self.conversation = Conversation()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, pieces: Sequence[Piece]) -> None:
        for piece in pieces:
            if isinstance(piece, Pause):
                time.sleep(piece.seconds)
                continue
            try:
                self.sock.sendall(piece)
            except OSError:
                self.conversation.send_failed = True
                return

    def read_answers(self, methods: Sequence[bytes]) -> None:
        """Read until each request of ``methods`` has a final answer, the connection
        closes, or time runs out; an answer announcing close is read to the close."""
        deadline = time.monotonic() + ANSWER_TIMEOUT
        pending = list(methods)
        talk = self.conversation
        while pending and not talk.closed and talk.malformed is None:
            answer = self._next_answer(pending[0], deadline)
            if answer is None:
                break
            talk.answers.append(answer)
            if answer.interim:
                continue
            pending.pop(0)
            if answer.status == 101:
                return  # a tunnel now: see exchange_frames
            if b"close" in b",".join(answer.values("Connection")).lower():
                self._read_to_close()
        talk.leftover = self.buffer

    def exchange_frames(self, frames: Sequence[bytes]) -> None:
        """After a 101: send WebSocket frames, read frames until a close frame."""
        self.send(frames)
        deadline = time.monotonic() + ANSWER_TIMEOUT
        talk = self.conversation
        while not talk.closed and time.monotonic() < deadline:
            got, used = websocket.read_frames(self.buffer)
            self.buffer = self.buffer[used:]
            talk.frames += got
            if any(opcode == websocket.CLOSE for opcode, _ in got):
                break
            if not self._receive(deadline):
                break
        talk.leftover = self.buffer

    def _next_answer(self, method: bytes, deadline: float) -> Answer | None:
        while True:
            try:
                answer = _parse_answer(self.buffer, method, self.conversation.closed)
            except http1.Malformed as exc:
                self.conversation.malformed = str(exc)
                return None
            if answer is not None:
                parsed, used = answer
                self.buffer = self.buffer[used:]
                return parsed
            if self.conversation.closed or not self._receive(deadline):
                if self.conversation.closed and self.buffer:
                    self.conversation.malformed = "connection closed inside an answer's head"
                return None

    def _receive(self, deadline: float) -> bool:
        """Read once; False when the time is up (``closed`` is set on EOF or reset)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self.conversation.timed_out = True
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            self.conversation.timed_out = True
            return False
        except OSError:
            data = b""
        if not data:
            self.conversation.closed = True
        self.buffer += data
        return True

    def _read_to_close(self) -> None:
        deadline = time.monotonic() + CLOSE_TIMEOUT
        while not self.conversation.closed and self._receive(deadline):
            pass
        self.conversation.timed_out = False  # a slow close is not an unanswered request


def _parse_answer(buffer: bytes, method: bytes, at_eof: bool) -> tuple[Answer, int] | None:
    if buffer and not b"HTTP/".startswith(buffer[:5]):
        raise http1.Malformed(f"no status line: {buffer[:40]!r}")  # say so without waiting
    parsed = http1.read_head(buffer)
    if parsed is None:
        return None
    head, used = parsed
    version, status, reason = http1.status_line(head)
    framing = http1.response_framing(head, status, method)
    try:
        body = http1.read_body(buffer[used:], framing, at_eof)
    except http1.Malformed:
        if not at_eof:
            raise
        cut = http1.Body(buffer[used:])  # the connection closed inside the body
        return Answer(status, reason, version, head.fields, cut, truncated=True), len(buffer)
    if body is None:
        return None
    data, body_used = body
    return Answer(status, reason, version, head.fields, data), used + body_used

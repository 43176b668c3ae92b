"""The recording backend: a raw asyncio socket server behind each proxy under test.

It records every byte each connection delivered, in order, parses the requests in
them strictly (``http1``), and answers each request with the case's scripted bytes
(or an echo of its request line), keeping connections alive unless the script says
otherwise, so that a proxy which desynchronises a backend connection shows it: the
leftover bytes turn up as the start of the next request on that connection.

It runs on its own event loop in a thread, so a test drives it with plain calls:
``begin(script)`` before a run, ``finish()`` after it (closes every connection and
returns what each one recorded).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import http1, websocket

LOOPBACK = "127.0.0.1"
CONTROL_PATH = b"/control/"  # requests the suite sends to check a connection still works
ECHO_MARKER = b"X-Backend: echo"
_WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


@dataclass(frozen=True)
class Answer:
    """The bytes the backend writes for one request of a case, and how.

    ``data`` may hold ``{accept}``, replaced by the RFC 6455 accept value of the
    request's ``Sec-WebSocket-Key``. ``poisons`` marks an answer after which a proxy
    must not reuse the connection (RFC 9112 9.6): bytes its own framing does not
    cover follow it, or its framing is ambiguous. A delayed answer poisons too: the
    exchange did not end cleanly for a proxy that gave up waiting.
    """

    data: bytes
    early: bool = False  # written once the head is read, before the body is
    close: bool = False  # the backend closes the connection after it (and after the body)
    switch: bool = False  # a 101: the connection is a tunnel afterwards
    poisons: bool = False
    when_upgrade: bytes | None = None  # only for requests whose Upgrade names this; else echo
    delay: float = 0.0  # seconds before it is written (past a proxy's read time-out)


@dataclass
class ReceivedRequest:
    """One request as the backend parsed it."""

    head: http1.Head
    method: bytes
    target: bytes
    version: bytes
    body: http1.Body


@dataclass
class ConnectionRecord:
    """Everything one backend connection delivered during a run."""

    number: int
    raw: bytearray = field(default_factory=bytearray)
    requests: list[ReceivedRequest] = field(default_factory=list)
    malformed: str | None = None  # why the bytes stopped parsing as requests
    pending: bytes = b""  # bytes of a request not complete when the run ended
    tunnel: bytearray = field(default_factory=bytearray)  # bytes after a 101
    frames: list[tuple[int, bytes]] = field(default_factory=list)  # decoded WebSocket frames
    closed_by_peer: bool = False  # the proxy closed (or reset) it
    closed_by_script: bool = False  # the case's answer closed it
    poisoned_after: int | None = None  # requests answered when a poisoning answer went out


def echo_answer(method: bytes, target: bytes, content: bytes = b"") -> bytes:
    """200 whose body is the request's method, target and body (HEAD: headers only)."""
    body = b" ".join((method, target, content)) if content else method + b" " + target
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        + ECHO_MARKER
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )
    return head if method == b"HEAD" else head + body


def websocket_accept(key: bytes) -> bytes:
    """RFC 6455 section 4.2.2: base64(SHA-1(key + GUID))."""
    return base64.b64encode(hashlib.sha1(key.strip() + _WEBSOCKET_GUID).digest())


class _Script:
    """The answers of the current run, handed out to non-control requests in order."""

    def __init__(self, answers: Sequence[Answer] = ()) -> None:
        self._answers = list(answers)

    def next_for(self, method: bytes, target: bytes) -> Answer | None:
        """The scripted answer, or None for an echo (written once the body is read)."""
        if target.startswith(CONTROL_PATH) or not self._answers:
            return None
        return self._answers.pop(0)


class _BackendConnection(asyncio.Protocol):
    """Parses requests as bytes arrive and answers them from the script."""

    def __init__(self, backend: RecordingBackend, record: ConnectionRecord) -> None:
        self.backend = backend
        self.record = record
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.current: tuple[ReceivedRequest, http1.Framing, Answer | None] | None = None
        self.request_start = 0  # where the request being read starts in record.raw
        self.tunnel = False
        self.tunnel_buffer = b""
        self.closed_by_us = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.record.raw += data
        if self.record.malformed is not None:
            return
        if self.tunnel:
            self._tunnel_received(data)
            return
        self.buffer += data
        try:
            self._advance()
        except http1.Malformed as exc:
            self.record.malformed = str(exc)
            self._write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            self.close()
        unfinished = self.current is not None or self.buffer
        self.record.pending = bytes(self.record.raw[self.request_start :]) if unfinished else b""

    def eof_received(self) -> bool | None:
        self.record.closed_by_peer = True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and not self.closed_by_us:
            self.record.closed_by_peer = True  # a reset
        self.backend.forget(self)

    def _advance(self) -> None:
        while not self.tunnel and self.transport is not None:
            if self.current is None and not self._start_request():
                return
            assert self.current is not None
            request, framing, answer = self.current
            done = http1.read_body(self.buffer, framing)
            if done is None:
                return
            request.body, used = done
            self.buffer = self.buffer[used:]
            self.current = None
            self.request_start = len(self.record.raw) - len(self.buffer)
            self.record.requests.append(request)
            if answer is None:
                answer = Answer(echo_answer(request.method, request.target, request.body.data))
                self._answer(request, answer)
            elif not answer.early:
                self._answer(request, answer)
            elif answer.close:  # an early answer: close once the body is in, not before
                self._close_by_script()

    def _start_request(self) -> bool:
        parsed = http1.read_head(self.buffer)
        if parsed is None:
            return False
        head, used = parsed
        method, target, version = http1.request_line(head)
        framing = http1.request_framing(head)
        self.buffer = self.buffer[used:]
        request = ReceivedRequest(head, method, target, version, http1.Body(b""))
        answer = self.backend.script.next_for(method, target)
        if answer is not None and answer.when_upgrade is not None:
            if not head.has_token("Upgrade", answer.when_upgrade.decode()):
                answer = None
        self.current = (request, framing, answer)
        if answer is not None and answer.early:
            self._answer(request, answer)
            if self.tunnel:  # the body that was not read belongs to the tunnel now
                self.record.requests.append(request)
                self.current = None
        return True

    def _answer(self, request: ReceivedRequest, answer: Answer) -> None:
        data = answer.data
        if b"{accept}" in data:
            keys = request.head.values("Sec-WebSocket-Key")
            data = data.replace(b"{accept}", websocket_accept(keys[0] if keys else b""))
        if answer.poisons or answer.delay:
            self.record.poisoned_after = len(self.record.requests)
        if answer.delay:
            asyncio.get_running_loop().call_later(answer.delay, self._write, data)
            return
        self._write(data)
        if answer.switch:
            self.tunnel = True
            rest, self.buffer = self.buffer, b""
            if rest:
                self._tunnel_received(rest)
        if answer.close and not answer.early:
            self._close_by_script()

    def _close_by_script(self) -> None:
        self.record.closed_by_script = True
        self.close()

    def _tunnel_received(self, data: bytes) -> None:
        """After a 101: record the bytes; WebSocket frames are decoded and echoed."""
        self.record.tunnel += data
        self.tunnel_buffer += data
        frames, used = websocket.read_frames(self.tunnel_buffer)
        self.tunnel_buffer = self.tunnel_buffer[used:]
        for frame in frames:
            self.record.frames.append(frame)
            self._write(websocket.server_frame(*frame))
            if frame[0] == websocket.CLOSE:
                self.close()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        self.closed_by_us = True
        if self.transport is not None:
            self.transport.close()


class RecordingBackend:
    """A recording backend on ``127.0.0.1:<port>``, served from a thread of its own."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.script = _Script()
        self._records: list[ConnectionRecord] = []
        self._open: set[_BackendConnection] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> RecordingBackend:
        self._thread.start()
        self._server = self._in_loop(self._listen)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._in_loop(self._close_server)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def begin(self, answers: Sequence[Answer]) -> None:
        """Start a run: the next non-control requests get ``answers``, in order."""

        def reset() -> None:
            self.script = _Script(answers)
            self._records = []

        self._in_loop(reset)

    def finish(self) -> list[ConnectionRecord]:
        """End a run: close every connection, return copies of their records."""

        def close_all() -> list[ConnectionRecord]:
            for connection in list(self._open):
                connection.close()
            return copy.deepcopy(self._records)

        return self._in_loop(close_all)

    def forget(self, connection: _BackendConnection) -> None:
        self._open.discard(connection)

    def _new_connection(self) -> _BackendConnection:
        record = ConnectionRecord(len(self._records) + 1)
        self._records.append(record)
        connection = _BackendConnection(self, record)
        self._open.add(connection)
        return connection

    async def _listen(self) -> asyncio.Server:
        return await self._loop.create_server(self._new_connection, LOOPBACK, 0)

    async def _close_server(self) -> None:
        assert self._server is not None
        self._server.close()
        for connection in list(self._open):
            connection.close()

    def _in_loop(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` (plain or a coroutine function) on the backend's loop."""

        async def call() -> Any:
            result = function()
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

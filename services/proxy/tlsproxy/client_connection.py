"""The client side of the proxy: one asyncio protocol per client connection, parsing
HTTP/1.1 with llhttp (``httptools``, strict: no leniency flag is ever set).

A request's way through this module, top to bottom:

1. ``data_received`` feeds the parser. ``on_url``/``on_header`` enforce the size
   limits as the head arrives (414, 431); ``on_headers_complete`` applies the head
   rules (``request.RequestHead.build``) and hands the request to the listener's
   handler (``dispatch``), which answers it itself (``answer``) or starts an
   exchange with a backend that becomes this request's *body sink*.
2. ``on_body``/``on_message_complete`` pass the request body to the sink; the sink
   streams the response back through ``send_head``/``send_body``/``end_response``.
3. ``_request_done`` logs it, then waits for the next request (keep-alive),
   takes the next pipelined one, or closes.

Pipelined requests are parsed as they come but answered in order: while one is
being answered, a complete next head is queued and reading pauses, so at most one
read's worth of data waits. Time limits are deadlines checked by one timer per
connection (``_on_timer``), re-armed only when a state needs an earlier one.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import httptools

from .connection_limits import ConnectionGate, client_key
from .errors import (
    SERVER_NAME,
    TOO_MANY_CONNECTIONS,
    Answer,
    ErrorPage,
    error_answer,
    raw_error,
    reason_phrase,
)
from .fields import Fields
from .request import WATCHED, RequestHead, RequestRefused

if TYPE_CHECKING:
    from .accesslog import AccessLog
    from .config import Limits
    from .metrics import Metrics

# Connection states.
AWAITING = 0  # waiting for the first byte of a request (fresh, or idle keep-alive)
HEAD = 1  # reading a request head
BUSY = 2  # answering a request
TUNNEL = 3  # relaying bytes after a protocol switch (101)
LINGER = 4  # answered and closing; unread request bytes are read and dropped
CLOSED = 5

# Why reading from the client is paused (a bit each; reading resumes when none is left).
PAUSE_PIPELINE = 1  # a next request waits for the current one to be answered
PAUSE_BACKEND = 2  # the backend is not taking the request body as fast as it comes
PAUSE_HELD = 4  # request bytes are held until a decision (upgrade, connect)
PAUSE_UNREAD = 8  # the client does not read our answers: no more requests are taken

_SERVER_LINE = b"Server: " + SERVER_NAME.encode() + b"\r\n"
_BACKEND_HSTS = frozenset(("strict-transport-security",))
RETIRE_GRACE = 1.0  # seconds a new connection has for its first request after a reload
LINGER_SECONDS = 2.0  # at most this long unread request bytes are drained before closing
LINGER_QUIET = 0.25  # ...and no longer than this once nothing more arrives
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

# ``send_head``'s ``length`` when the body's length is not known in advance.
UNKNOWN_LENGTH = -1
NO_BODY = -2
# How a response body goes to the client.
_SILENT = 0  # no body (HEAD, 204, 304)
_RAW = 1  # as is (a known length, or until close to an HTTP/1.0 client)
_CHUNKED = 2  # in chunks (an unknown length to an HTTP/1.1 client)


class BodySink(Protocol):
    """What answers a request over time (an exchange with a backend)."""

    def request_body(self, data: bytes) -> None: ...
    def request_end(self) -> None: ...
    def request_broken(self, status: int) -> None: ...
    def client_congested(self, congested: bool) -> None: ...
    def client_lost(self) -> None: ...
    def next_deadline(self, now: float) -> float | None: ...


class Handler(Protocol):
    def dispatch(self, connection: ClientConnection, request: RequestHead) -> None: ...


@dataclass(slots=True)
class ListenerContext:
    """What every connection of one listener shares (one per listener and generation)."""

    handler: Handler
    limits: Limits
    gate: ConnectionGate
    access_log: AccessLog
    scheme: str  # "https" or "http"
    hsts: str | None
    metrics: Metrics | None
    connections: set[ClientConnection]
    retired: bool = False
    counted_at_accept: bool = False  # the listener counts connections (TLS: from accept)
    error_page: ErrorPage | None = None


@dataclass(slots=True)
class _Incoming:
    """A request parsed while another is answered (pipelining), or refused."""

    head: RequestHead | None
    refusal: RequestRefused | None = None
    chunks: list[bytes] | None = None
    complete: bool = False


class ClientConnection(asyncio.Protocol):
    """One client connection (plain TCP or TLS); see the module docstring."""

    def __init__(self, context: ListenerContext) -> None:
        # -- per listener
        self.context = context
        self.limits = context.limits
        self.loop = asyncio.get_running_loop()
        self.handshake = None
        if context.metrics is not None and context.scheme == "https":
            self.handshake = context.metrics.watch_handshake(self)
        # -- per connection
        self.transport: asyncio.Transport | None = None
        self.peer = "-"
        self.key = ""
        self.state = AWAITING
        self.parser = httptools.HttpRequestParser(self)
        self.pending: deque[_Incoming] = deque()
        self.parsing: _Incoming | None = None  # the request whose body is being parsed
        self.held: bytes | None = None  # bytes after an upgrade request, until decided
        self.tunnel: Callable[[bytes], None] | None = None
        self.tunnel_deadline: Callable[[float], float | None] | None = None
        self.paused = 0  # PAUSE_* bits
        self.blocked_since = 0.0  # loop time our writes started waiting (0: not waiting)
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = math.inf
        self.state_deadline = self.loop.time() + self.limits.header_timeout
        self.linger_until = 0.0
        self.client_eof = False
        self.served = 0  # requests answered on this connection
        self.corked: list[bytes] | None = None
        self.head_at = -1  # where the current response's head sits in ``corked``
        self._subject: str | None = None
        self._subject_read = False
        self._counted = False
        # -- per request head being parsed
        self.url_parts: list[bytes] = []
        self.url_length = 0
        self.fields = Fields()
        self.watched: dict[str, list[str]] = {}
        self.in_head = False
        self.head_bytes = 0
        self.head_size = 0
        # -- per request being answered
        self.request: RequestHead | None = None
        self.sink: BodySink | None = None
        self.request_complete = False
        self.started = 0.0  # wall clock, for the access log
        self.status = 0
        self.framing = _SILENT
        self.sent = 0
        self.close_after = False
        self.log_extra: tuple[str, str] = ("none", "none")  # (route, backend) for metrics
        self.beginning: _Incoming | None = None  # while its handler runs

    # -- connection life ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are duck-typed
        if self.handshake is not None:
            self.handshake.completed()
        peername = transport.get_extra_info("peername")
        self.peer = str(peername[0]) if peername else "-"
        self.key = client_key(self.peer)
        if self.context.counted_at_accept:
            self.context.connections.add(self)
            self._arm(self.state_deadline)
            return
        refusal = self.context.gate.admit(self.key)
        if refusal is not None:
            explanation = TOO_MANY_CONNECTIONS if refusal == 429 else None
            transport.write(raw_error(refusal, explanation))
            transport.close()
            self.state = CLOSED
            return
        self._counted = True
        self.context.connections.add(self)
        if self.context.retired:
            self.retire()
        self._arm(self.state_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._counted:
            self._counted = False
            self.context.gate.release(self.key)
        self.context.connections.discard(self)
        previous, self.state = self.state, CLOSED
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        sink, self.sink = self.sink, None
        if sink is not None and previous in (BUSY, TUNNEL):
            sink.client_lost()

    def eof_received(self) -> bool:
        # A client that half-closes after its whole request still gets the answer,
        # then the connection closes (nothing more will come on it).
        self.client_eof = True
        return self.state == BUSY and self.request_complete

    def pause_writing(self) -> None:
        """Our write buffer is full: the client must read before it may send more (else
        pipelined requests and their answers pile up here), within ``send_timeout``."""
        self.blocked_since = self.loop.time()
        self._pause(PAUSE_UNREAD)
        self._arm(self.blocked_since + self.limits.send_timeout)
        if self.sink is not None:
            self.sink.client_congested(True)

    def resume_writing(self) -> None:
        self.blocked_since = 0.0
        self._resume(PAUSE_UNREAD)
        if self.sink is not None:
            self.sink.client_congested(False)

    def close(self) -> None:
        if self.state != CLOSED:
            self._close_transport()

    def _close_transport(self) -> None:
        """Close once what is written has left; a client that does not take it within
        ``send_timeout`` loses the connection (it must not hold it by not reading)."""
        transport = self.transport
        if transport is None:
            return
        transport.close()
        if transport.get_write_buffer_size():
            self.loop.call_later(self.limits.send_timeout, _abort_if_stuck, transport)

    def abort(self) -> None:
        """Cut the connection: the client must not take a cut-short answer as whole."""
        if self.transport is not None:
            self.transport.abort()

    def retire(self) -> None:
        """A reload happened: an idle keep-alive connection closes now, a busy one after
        its current exchange, so its next request meets the new configuration. A new
        connection (accepted, maybe still in its handshake) gets ``RETIRE_GRACE`` seconds
        for the request its client is about to send: closing it at once would lose it."""
        if self.state != AWAITING:
            return
        if self.served:
            self.close()
            return
        self.state_deadline = min(self.state_deadline, self.loop.time() + RETIRE_GRACE)
        self._arm(self.state_deadline)

    @property
    def idle(self) -> bool:
        return self.state == AWAITING

    def client_subject(self) -> str | None:
        """The verified client certificate's subject (RFC 4514), read once."""
        if not self._subject_read:
            self._subject_read = True
            from .tls import certificate_subject

            ssl_object = self.transport.get_extra_info("ssl_object") if self.transport else None
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            self._subject = certificate_subject(der) if der else None
        return self._subject

    # -- reading --------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        state = self.state
        if state == TUNNEL:
            assert self.tunnel is not None
            self.tunnel(data)
            return
        if state >= LINGER:
            if state == LINGER:  # answered and closing: dropped, the quiet clock restarts
                self.state_deadline = min(self.loop.time() + LINGER_QUIET, self.linger_until)
                self._arm(self.state_deadline)
            return
        if self.held is not None:
            self.held += data
            return
        if state == AWAITING:
            self.state = HEAD
            self.state_deadline = self.loop.time() + self.limits.header_timeout
        self.feed(data)

    def feed(self, data: bytes) -> None:
        if self.in_head or self.state == HEAD:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._after_upgrade_request(data[upgrade.args[0] :])
        except httptools.HttpParserCallbackError as exc:
            refusal = exc.__context__
            if not isinstance(refusal, RequestRefused):
                raise
            self._refused(refusal)
        except httptools.HttpParserError:
            self._malformed()
        else:
            if self.in_head:
                if self.head_bytes > self.limits.max_header_block_bytes:
                    self._refused(RequestRefused(431))
                elif self.state == HEAD:
                    self._arm(self.state_deadline)
        # Requests are answered once all the bytes at hand are parsed: a request whose
        # body breaks its framing in the same read is refused before any of it is
        # forwarded.
        if self.request is None and self.pending and self.state in (AWAITING, HEAD, BUSY):
            self._begin(self.pending.popleft())
        if self.pending:
            self._pause(PAUSE_PIPELINE)
        elif self.state < LINGER:
            self._resume(PAUSE_PIPELINE)

    # llhttp callbacks, in the order they come for one request.
    def on_message_begin(self) -> None:
        self.url_parts = []
        self.url_length = 0
        self.head_size = 0
        self.fields = Fields()
        self.watched = {}
        self.in_head = True

    def on_url(self, piece: bytes) -> None:
        self.url_length += len(piece)
        if self.url_length > self.limits.max_target_bytes:
            raise RequestRefused(414)
        self.url_parts.append(piece)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.in_head:
            return  # a trailer field: not forwarded (RFC 9110 6.5.1 allows dropping)
        if len(name) + len(value) > self.limits.max_header_bytes:
            raise RequestRefused(431)
        lines = self.fields.lines
        if len(lines) >= self.limits.max_header_count:
            raise RequestRefused(431)
        self.head_size += len(name) + len(value) + 4  # ": " and CRLF
        text = name.decode("latin-1")
        lower = text.lower()
        decoded = value.decode("latin-1")
        lines.append((lower, text, decoded))
        if lower in WATCHED:
            self.watched.setdefault(lower, []).append(decoded)

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_bytes = 0
        if self.head_size + self.url_length > self.limits.max_header_block_bytes:
            raise RequestRefused(431)  # counted exactly here; ``feed`` bounds a slow head
        parser = self.parser
        head = RequestHead.build(
            parser.get_method().decode("ascii"),
            b"".join(self.url_parts).decode("ascii"),
            parser.get_http_version(),
            self.fields,
            self.watched,
            parser.should_keep_alive(),
            parser.should_upgrade(),
            self.context.scheme,
            self.limits.max_body_bytes,
        )
        incoming = _Incoming(head, chunks=[])
        self.parsing = incoming
        self.pending.append(incoming)

    def on_body(self, data: bytes) -> None:
        incoming = self.parsing
        assert incoming is not None
        if incoming.chunks is not None:
            incoming.chunks.append(data)
        elif self.sink is not None:
            self.sink.request_body(data)

    def on_message_complete(self) -> None:
        incoming = self.parsing
        if incoming is None:
            return
        incoming.complete = True
        self.parsing = None
        if incoming.chunks is None:
            self.request_complete = True
            if self.sink is not None:
                self.sink.request_end()

    # -- requests in turn -----------------------------------------------------------
    def _begin(self, incoming: _Incoming) -> None:
        """Start answering ``incoming``: its head is complete, all before it answered."""
        self.state = BUSY
        if incoming.refusal is not None:
            self._answer_refusal(incoming.refusal)
            return
        head = incoming.head
        assert head is not None
        self.request = head
        self.sink = None
        self.request_complete = incoming.complete or not head.has_body
        self.started = time.time()
        self.status = 0
        self.framing = _SILENT
        self.sent = 0
        self.close_after = not head.keep_alive or self.context.retired
        self.log_extra = ("none", "none")
        self.beginning = incoming
        self.context.handler.dispatch(self, head)
        self.beginning = None
        incoming.chunks = None  # no sink took them: the proxy answered itself

    def attach(self, sink: BodySink) -> None:
        """``sink`` answers the current request and gets its body from now on, starting
        with what already arrived with the head."""
        self.sink = sink
        incoming = self.beginning
        if incoming is None:
            return
        chunks, incoming.chunks = incoming.chunks, None
        for chunk in chunks or ():
            sink.request_body(chunk)
        if chunks is not None and incoming.complete:
            sink.request_end()

    def send_continue(self) -> None:
        """RFC 9110 10.1.1: the body is wanted now (sent only when it was asked for, even
        if the body is here already: clients wait for it either way)."""
        request = self.request
        if request is not None and request.expect_continue:
            request.expect_continue = False
            self.write(CONTINUE)

    def _refused(self, refusal: RequestRefused) -> None:
        """A request head broke a rule (or a limit): answered in turn, then closed."""
        self.in_head = False
        self._pause(PAUSE_PIPELINE)  # nothing after it on this connection is read
        self.pending.append(_Incoming(None, refusal))

    def _malformed(self) -> None:
        """llhttp refused the bytes: a bad head, or a broken body of a request."""
        incoming = self.parsing
        if self.in_head or incoming is None:
            self._refused(RequestRefused(400))
            return
        self._pause(PAUSE_PIPELINE)
        if incoming.chunks is not None:  # a pipelined request's body
            incoming.head, incoming.refusal = None, RequestRefused(400)
            incoming.chunks = None
        elif self.sink is not None:
            self.sink.request_broken(400)
        elif self.state == BUSY and self.status == 0:
            self.answer(error_answer(400, close=True))
        else:
            self.abort()

    def _answer_refusal(self, refusal: RequestRefused) -> None:
        self.state = BUSY
        self.request = None
        self.started = time.time()
        self.sent = 0
        self.status = 0
        self.close_after = True
        self.answer(error_answer(refusal.status, close=True, explanation=refusal.explanation))

    def _after_upgrade_request(self, rest: bytes) -> None:
        """llhttp stops at an upgrade request's head (or at CONNECT): ``rest`` belongs
        to the new protocol if the backend switches, else to the next request."""
        self.held = rest
        self._pause(PAUSE_HELD)

    def continue_http(self) -> None:
        """The upgrade did not happen: go on parsing the held bytes as HTTP/1.1."""
        if self.held is None or self.state == CLOSED:
            return
        held, self.held = self.held, None
        self.parser = httptools.HttpRequestParser(self)
        self._resume(PAUSE_HELD)
        if held and self.state < LINGER:
            self.data_received(held)

    def switch_to_tunnel(
        self, relay: Callable[[bytes], None], deadline: Callable[[float], float | None]
    ) -> bytes:
        """The backend switched protocols (101): from now on every byte goes to ``relay``;
        returns the bytes that came after the upgrade request."""
        held, self.held = self.held or b"", None
        self.context.access_log.log(self.request, self.peer, 101, 0, self.started)
        self.state = TUNNEL
        self.tunnel = relay
        self.tunnel_deadline = deadline
        self._resume(PAUSE_HELD)
        self._arm(self.loop.time() + self.limits.tunnel_idle_timeout)
        return held

    # -- writing --------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.corked is not None:
            self.corked.append(data)
        elif self.transport is not None:
            self.transport.write(data)

    def cork(self) -> None:
        """Collect writes until ``uncork``: a head and a small body leave in one write."""
        if self.corked is None:
            self.corked = []

    def uncork(self) -> None:
        self.head_at = -1
        corked, self.corked = self.corked, None
        if corked and self.transport is not None:
            self.transport.write(corked[0] if len(corked) == 1 else b"".join(corked))

    def send_head(self, status: int, reason: str, fields: Fields, length: int) -> None:
        """Send the response head; ``length``: the body's length, ``UNKNOWN_LENGTH``
        (chunked to HTTP/1.1 clients, until close to HTTP/1.0 ones) or ``NO_BODY``
        (HEAD, 204, 304: the head alone, RFC 9112 6.3). ``fields`` must not hold
        framing or hop-by-hop fields."""
        request = self.request
        head_only = request is not None and request.method == "HEAD"
        version = request.version if request is not None else "1.1"
        if length == UNKNOWN_LENGTH and version == "1.0" and not head_only:
            self.close_after = True
        if not self.request_complete:
            self.close_after = True  # the rest of its body is not read: no keep-alive
        parts = [f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1"), self._policy(fields)]
        if length >= 0:
            parts.append(b"Content-Length: %d\r\n" % length)
        elif length == UNKNOWN_LENGTH and version == "1.1" and not head_only:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        if self.close_after:
            parts.append(b"Connection: close\r\n")
        elif version == "1.0":
            parts.append(b"Connection: keep-alive\r\n")
        parts.append(b"\r\n")
        self.head_at = len(self.corked) if self.corked is not None else -1
        self.status = status
        if head_only or length == NO_BODY:
            self.framing = _SILENT
        elif length == UNKNOWN_LENGTH and version == "1.1":
            self.framing = _CHUNKED
        else:
            self.framing = _RAW
        self.write(b"".join(parts))

    def send_interim(self, status: int, reason: str, fields: Fields) -> None:
        """Relay a 1xx answer (RFC 9110 15.2: a proxy forwards them), never to an
        HTTP/1.0 client, which cannot read them."""
        request = self.request
        if request is not None and request.version == "1.1":
            self.write(
                f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1") + fields.encode() + b"\r\n"
            )

    def send_switching_protocols(self, fields: Fields) -> None:
        """The 101 head of a WebSocket switch (RFC 6455 4.2.2); a tunnel follows."""
        self.status = 101
        self.write(
            b"HTTP/1.1 101 Switching Protocols\r\n"
            + self._policy(fields)
            + b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        )

    def _policy(self, fields: Fields) -> bytes:
        """The one place the proxy's response field policy is applied, to relayed and
        own answers alike: on HTTPS listeners ours ``Strict-Transport-Security``
        replaces any a backend sent, and ``Server`` names the proxy when the backend
        names nothing (hop-by-hop and framing fields were removed by the caller)."""
        hsts = self.context.hsts
        lines = fields.encode()
        if hsts is not None:
            if "strict-transport-security" in fields:
                lines = fields.without(_BACKEND_HSTS).encode()
            lines += b"Strict-Transport-Security: " + hsts.encode() + b"\r\n"
        if "server" not in fields:
            lines += _SERVER_LINE
        return lines

    def retract_response(self) -> bool:
        """Take back a response whose head has not left yet (it waits in the cork), so
        that an error page can answer instead; False when bytes of it were sent."""
        if self.corked is None or self.head_at < 0 or self.status == 0:
            return False
        del self.corked[self.head_at :]
        self.head_at = -1
        self.status = 0
        self.framing = _SILENT
        self.sent = 0
        return True

    def send_body(self, data: bytes) -> None:
        if self.framing == _SILENT or not data:
            return
        self.sent += len(data)
        if self.framing == _CHUNKED:
            self.write(b"%x\r\n" % len(data) + data + b"\r\n")
        else:
            self.write(data)

    def end_response(self) -> None:
        """The response is complete: its end is marked, the request logged, and the
        connection goes on to the next request or closes."""
        if self.framing == _CHUNKED:
            self.write(b"0\r\n\r\n")
        self._request_done()

    def answer(self, answer: Answer) -> None:
        """Send one of the proxy's own answers to the current request (an error in the
        site's HTML page when the listener has one and the client asks for HTML)."""
        page = self.context.error_page
        if page is not None and answer.explanation is not None and self._wants_html():
            answer = page.dress(answer)
        if answer.close:
            self.close_after = True
        self.sink = None
        corked = self.corked is not None
        self.cork()
        self.send_head(answer.status, reason_phrase(answer.status), answer.fields, len(answer.body))
        self.send_body(answer.body)
        if not corked:
            self.uncork()
        self._request_done()

    # -- between requests -----------------------------------------------------------
    def _wants_html(self) -> bool:
        request = self.request
        if request is None:
            return False
        accept = request.fields.get("accept")
        return accept is not None and "text/html" in accept

    def _request_done(self) -> None:
        self.served += 1
        request = self.request
        self.context.access_log.log(request, self.peer, self.status, self.sent, self.started)
        metrics = self.context.metrics
        if metrics is not None:
            metrics.request_done(*self.log_extra, self.status, self.started)
        self.sink = None
        self.request = None
        if self.close_after or self.context.retired or self.client_eof or not self.request_complete:
            self._close_after_answer()
            return
        if self.held is not None:  # after an upgrade request that was not switched
            self.state = AWAITING
            self.state_deadline = self.loop.time() + self.limits.idle_timeout
            self._arm(self.state_deadline)
            self.loop.call_soon(self.continue_http)  # as pipelined requests: see below
            return
        if self.pending:
            # Once the callbacks that finished this answer have returned: the backend
            # connection it used is back in the pool by then, ready for the next one.
            self.loop.call_soon(self._next_pipelined)
            return
        self.state = AWAITING
        self.state_deadline = self.loop.time() + self.limits.idle_timeout
        self._arm(self.state_deadline)

    def _next_pipelined(self) -> None:
        if self.state != BUSY or self.request is not None or not self.pending:
            return
        self._begin(self.pending.popleft())
        if not self.pending:
            self._resume(PAUSE_PIPELINE)

    def _close_after_answer(self) -> None:
        """Close once the answer is sent; unread request bytes first are drained for a
        moment, so the client reads our answer instead of a reset (as nginx lingers)."""
        if self.transport is None or self.state == CLOSED:
            return
        self.uncork()
        if self.request_complete and not self.held:
            self.state = CLOSED
            self._close_transport()
            return
        self.state = LINGER
        self.sink = None
        self._resume(PAUSE_PIPELINE | PAUSE_BACKEND | PAUSE_HELD)
        now = self.loop.time()
        self.linger_until = now + LINGER_SECONDS
        self.state_deadline = now + LINGER_QUIET
        self._arm(self.state_deadline)

    # -- flow control -----------------------------------------------------------------
    def _pause(self, reason: int) -> None:
        if not self.paused and self.transport is not None:
            self.transport.pause_reading()
        self.paused |= reason

    def _resume(self, reason: int) -> None:
        if not self.paused:
            return
        self.paused &= ~reason
        if not self.paused and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def backend_congested(self, congested: bool) -> None:
        """The backend's side is (or no longer is) full: stop (resume) reading here."""
        if congested:
            self._pause(PAUSE_BACKEND)
        else:
            self._resume(PAUSE_BACKEND)

    # -- deadlines --------------------------------------------------------------------
    def _arm(self, when: float) -> None:
        """Make sure the timer fires no later than ``when`` (loop time)."""
        if when >= self.timer_at:
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at = when
        self.timer = self.loop.call_at(when, self._on_timer)

    def rearm(self, when: float) -> None:
        """A deadline of the current exchange or tunnel may be sooner than the timer."""
        self._arm(when)

    def _on_timer(self) -> None:
        self.timer = None
        self.timer_at = math.inf
        now = self.loop.time()
        state = self.state
        if self.blocked_since and state != CLOSED:
            unread = self.blocked_since + self.limits.send_timeout
            if now >= unread:  # it takes no byte of what it asked for: cut
                if self.sink is not None:
                    self.sink.client_lost()
                self.abort()
                return
            self._arm(unread)
        if state == BUSY and self.sink is not None:
            deadline = self.sink.next_deadline(now)
        elif state == TUNNEL and self.tunnel_deadline is not None:
            deadline = self.tunnel_deadline(now)
        elif state in (AWAITING, HEAD, LINGER):
            deadline = self.state_deadline
            if now >= deadline:
                self._deadline_passed(state)
                return
        else:
            return
        if deadline is not None and self.state != CLOSED:
            self._arm(deadline)

    def _deadline_passed(self, state: int) -> None:
        if state == HEAD:  # the head did not arrive in time (slow or stalled client)
            self.state = BUSY
            self.request = None
            self.started = time.time()
            self.answer(error_answer(408, close=True))
        else:  # idle keep-alive, or the lingering close is over
            self.state = CLOSED
            self._close_transport()


def _abort_if_stuck(transport: asyncio.Transport) -> None:
    """A closing connection still holding unsent bytes after ``send_timeout``: cut."""
    if transport.get_write_buffer_size():
        transport.abort()

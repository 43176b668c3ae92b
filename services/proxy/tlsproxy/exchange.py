"""One client request forwarded to a backend, and its response relayed back.

The framing the backend gets always describes the bytes it gets (RFC 9112 6.3):
a declared ``Content-Length`` body is relayed byte for byte, a chunked one is
re-chunked (extensions and trailers dropped), and a request without a body gets
none. Bodies move chunk by chunk with flow control: when one side's write buffer
is full, reading from the other pauses, so memory stays bounded for any size and
any slow peer.

Which backend: the route's balancer orders the candidates; a connection that could
not be made moves on to the next (the request never reached it). A reused
keep-alive connection that the backend had closed meanwhile is retried once on a
new one, when everything sent so far is still held (``REPLAY_LIMIT``). A request
the backend may have acted on is retried only when it is bodiless and idempotent
(RFC 9110 9.2.2).

Time limits of an exchange (``next_deadline``): the request body must keep coming
(``body_timeout`` between bytes, ``body_min_rate`` on average), the backend must
keep answering (``backend_read_timeout`` between bytes once the request is sent),
and the client must keep reading (``send_timeout`` with our buffer full).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .backend_connection import (
    BackendConnection,
    BackendConnectTimeout,
    BackendError,
    BackendProtocolError,
    BackendReset,
    BackendTimeout,
)
from .client_connection import NO_BODY, UNKNOWN_LENGTH, ClientConnection
from .errors import error_answer
from .fields import Fields, list_tokens
from .hop_by_hop import end_to_end
from .tunnel import Tunnel, websocket_accept

if TYPE_CHECKING:
    from .backend_health import BackendHealth
    from .balancer import Balancer
    from .config import Backend
    from .handler import ProxyHandler
    from .request import RequestHead

REPLAY_LIMIT = 64 * 1024  # bytes of a request kept to retry it on a new connection
HOLD_LIMIT = 64 * 1024  # body bytes held while no backend connection is ready
RATE_CHECK_SECONDS = 5.0
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
_LAST_CHUNK = b"0\r\n\r\n"


class Exchange:
    """Forwards ``request`` to the first of ``candidates`` that takes it; see the module
    docstring. It is the client connection's body sink and the backend connection's
    response sink for the time of one request."""

    def __init__(
        self,
        forwarder: ProxyHandler,
        client: ClientConnection,
        request: RequestHead,
        balancer: Balancer,
        candidates: Sequence[BackendHealth],
        fields: Fields,
        public_origin: str,
        pin_cookie: str | None,
    ) -> None:
        # -- what to forward, and where
        self.forwarder = forwarder
        self.limits = forwarder.limits
        self.client = client
        self.request = request
        self.balancer = balancer
        self.candidates = candidates
        self.fields = fields
        self.public_origin = public_origin
        self.pin_cookie = pin_cookie  # affinity cookie value or session key, if any
        self.attempt = 0
        self.retried_stale = False
        # -- the request body
        self.held: list[bytes] = []  # received while no backend is ready
        self.held_bytes = 0
        self.body_in = 0
        self.body_started = client.loop.time()
        self.body_last = self.body_started
        self.client_done = client.request_complete
        self.holding_back = False  # reading paused: too much held, no backend yet
        self.paused_at = 0.0  # loop time the backend stopped taking the body (0: it takes it)
        self.paused_total = 0.0  # seconds the client was held back so far
        # -- the backend side
        self.backend: BackendConnection | None = None
        self.replay: list[bytes] | None = None
        self.replay_bytes = 0
        self.sent_all = False
        self.wait_since = 0.0
        self.pending_task: asyncio.Task[None] | None = None
        # -- the response
        self.responding = False
        self.finished = False
        self.tunnel: Tunnel | None = None

    # -- starting ---------------------------------------------------------------------
    def start(self) -> None:
        self._next_backend()

    def start_after(self, ready: asyncio.Future[bool]) -> None:
        """Start once ``ready`` says yes (an authorization check running elsewhere)."""
        self.pending_task = asyncio.ensure_future(self._start_when(ready))

    async def _start_when(self, ready: asyncio.Future[bool]) -> None:
        go = await ready
        self.pending_task = None
        if go and not self.finished:
            self._next_backend()

    def _next_backend(self) -> None:
        self.client.send_continue()
        state = self.candidates[self.attempt]
        # A request that may not be sent twice takes only a recently used connection.
        recent = self.request.method not in _IDEMPOTENT
        connection = self.forwarder.pool.take_idle(state.backend, recent)
        if connection is not None:
            self._use(connection, state)
        else:
            self.pending_task = asyncio.ensure_future(self._connect(state))
        self._arm()

    async def _connect(self, state: BackendHealth) -> None:
        try:
            connection = await self.forwarder.pool.connect(state.backend)
            self.pending_task = None
        except BackendError as exc:
            self.pending_task = None
            self._connect_failed(state, exc)
            return
        if self.finished:
            connection.close()
            return
        self._use(connection, state)

    def _connect_failed(self, state: BackendHealth, error: BackendError) -> None:
        self.forwarder.health.failed(state, self.balancer.route.retry_interval, error)
        if self.finished:
            return
        if self.attempt < len(self.candidates) - 1:
            self.attempt += 1
            self._next_backend()
            return
        if not isinstance(error, BackendConnectTimeout):
            log_backend_error(state.backend, error)
        self._fail(error.status)

    def _use(self, connection: BackendConnection, state: BackendHealth) -> None:
        """Send on ``connection`` everything there is: the head (or, retrying, what the
        stale connection got), the body held so far and its end, in one write."""
        self.backend = connection
        self.client.log_extra = (self.balancer.route.name, state.backend.url)
        retrying = self.replay is not None
        parts = list(self.replay or ()) if retrying else [self._backend_head(state.backend)]
        held, self.held, self.held_bytes = self.held, [], 0
        parts += [self._framed(chunk) for chunk in held]
        if self.client_done and not self.sent_all:
            if self.request.chunked:
                parts.append(_LAST_CHUNK)
            self.sent_all = True
        data = b"".join(parts)
        self.replay = [data] if len(data) <= REPLAY_LIMIT else None
        self.replay_bytes = len(data)
        connection.start(self, data, self.request.method == "HEAD")
        if self.client.blocked_since:  # the client is not reading: nor do we, for it
            connection.pause_reading(True)
        if self.sent_all:
            self.wait_since = self.client.loop.time()
            self._arm()
        if self.holding_back:
            self.holding_back = False
            self._hold_client(False)

    def _backend_head(self, backend: Backend) -> bytes:
        """The request line and fields toward ``backend``, framing included."""
        request = self.request
        host = request.host.text if self.balancer.route.preserve_host else backend.authority
        parts = [
            f"{request.method} {request.target.origin_form} HTTP/1.1\r\nHost: {host}\r\n".encode(
                "latin-1"
            ),
            self.fields.encode(),
        ]
        if request.chunked:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        elif request.content_length is not None:
            parts.append(b"Content-Length: %d\r\n" % request.content_length)
        if request.upgrade is not None:
            parts.append(b"Connection: Upgrade\r\nUpgrade: websocket\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    # -- the request body (from the client connection) ---------------------------------
    def request_body(self, data: bytes) -> None:
        if self.finished:
            return
        self.body_in += len(data)
        self.body_last = self.client.loop.time()
        limit = self.limits.max_body_bytes
        if limit and self.body_in > limit:  # only a chunked body can grow past it here
            self._fail(413)
            return
        if self.backend is None:
            self.held.append(data)
            self.held_bytes += len(data)
            if self.held_bytes > HOLD_LIMIT and not self.holding_back:
                self.holding_back = True
                self._hold_client(True)
            return
        self._send_body(data)

    def _send_body(self, data: bytes) -> None:
        self._send(self._framed(data))

    def _framed(self, data: bytes) -> bytes:
        """A body chunk as the backend gets it: re-chunked when the request is chunked."""
        if self.request.chunked:
            return b"%x\r\n" % len(data) + data + b"\r\n"
        return data

    def request_end(self) -> None:
        self.client_done = True
        if self.backend is not None and not self.finished:
            self._send_end()

    def _send_end(self) -> None:
        if self.sent_all:
            return
        if self.request.chunked:
            self._send(_LAST_CHUNK)
        self.sent_all = True
        self.wait_since = self.client.loop.time()
        self._arm()

    def _send(self, data: bytes) -> None:
        assert self.backend is not None
        self.backend.send(data)
        if self.replay is not None:
            self.replay_bytes += len(data)
            if self.replay_bytes > REPLAY_LIMIT:
                self.replay = None  # too much to keep: this request is not retried
            else:
                self.replay.append(data)

    def request_broken(self, status: int) -> None:
        """The client's body broke its framing (a bad chunk): nothing more is read."""
        self._fail(status)

    # -- the response (from the backend connection) ------------------------------------
    def response_head(self, status: int, reason: str, fields: Fields, keep_alive: bool) -> None:
        self.replay = None
        if self.finished:
            return
        if status == 101:
            self._switch_protocols(fields)
            return
        state = self.candidates[self.attempt]
        if state.down_until:
            self.forwarder.health.answered(state)
        out = end_to_end(fields)
        head_only = self.request.method == "HEAD" or status == 304
        length = NO_BODY
        if not head_only:
            declared = out.remove("content-length")
            if status != 204:
                length = int(declared[0]) if declared else UNKNOWN_LENGTH
        self.forwarder.rewrite_response(out, state.backend, self.public_origin)
        if self.balancer.sticky:  # affinity cookie or session: pin the client
            self.balancer.remember(
                state, self.pin_cookie, out, self.client.context.scheme == "https"
            )
        self.responding = True
        self.client.send_head(status, reason, out, length)

    def cork(self) -> None:
        """What the next callbacks write to the client leaves in one write (``uncork``)."""
        self.client.cork()

    def uncork(self) -> None:
        self.client.uncork()

    def response_interim(self, status: int, reason: str, fields: Fields) -> None:
        """A 1xx before the final answer: relayed (RFC 9110 15.2), except 100, which
        the proxy already sent when it took the body (it removed ``Expect``)."""
        if status != 100 and not self.finished:
            interim = end_to_end(fields)
            interim.remove("content-length")  # a 1xx has no body (RFC 9110 8.6)
            self.client.send_interim(status, reason, interim)

    def response_body(self, data: bytes) -> None:
        if not self.finished:
            self.client.send_body(data)

    def response_end(self) -> None:
        if self.finished:
            return
        self.finished = True
        backend, self.backend = self.backend, None
        if backend is not None:
            backend.finish(reusable=self.sent_all)
        self.client.end_response()

    def backend_failed(self, error: BackendError) -> None:
        backend, self.backend = self.backend, None
        if self.finished:
            return
        if backend is not None:
            backend.close()
        if self.responding and self.client.retract_response():
            self.responding = False  # nothing of it left yet: an error page instead
        if not self.responding and self._may_retry(backend, error):
            return
        if self.responding:
            # Headers are gone already: cut the client off, so it sees a truncated
            # body instead of a falsely complete one.
            log_backend_error(self.candidates[self.attempt].backend, error)
            self.finished = True
            self.client.abort()
            return
        if not isinstance(error, BackendTimeout):
            log_backend_error(self.candidates[self.attempt].backend, error)
        self._fail(error.status)

    def _may_retry(self, lost: BackendConnection | None, error: BackendError) -> bool:
        if not isinstance(error, BackendReset) or lost is None:
            return False
        state = self.candidates[self.attempt]
        request = self.request
        if (
            lost.exchanges > 1
            and self.replay is not None
            and not self.retried_stale
            and request.method in _IDEMPOTENT
        ):
            # A kept-alive connection the backend closed while it sat idle: the same
            # bytes again (the end of the body too, if it was sent) on a new one. Only
            # for methods that may be repeated (RFC 9110 9.2.2, RFC 9112 9.3.1): the
            # backend may have acted on the request before it closed.
            self.retried_stale = True
            self.pending_task = asyncio.ensure_future(self._connect(state))
            return True
        if (
            self.attempt < len(self.candidates) - 1
            and not request.has_body
            and request.method in _IDEMPOTENT
        ):
            self.forwarder.health.failed(state, self.balancer.route.retry_interval, error)
            self.attempt += 1
            self.replay = None
            self.sent_all = False
            self._next_backend()
            return True
        return False

    def _switch_protocols(self, fields: Fields) -> None:
        """A 101: a tunnel if it is the WebSocket switch the client asked for."""
        request = self.request
        key = request.fields.get("sec-websocket-key")
        accepted = (
            request.upgrade == "websocket"
            and key is not None
            and "websocket" in list_tokens(fields.get_all("upgrade"))
            and "upgrade" in list_tokens(fields.get_all("connection"))
            and fields.get("sec-websocket-accept") == websocket_accept(key)
        )
        backend = self.backend
        if not accepted or backend is None:
            self.backend = None
            if backend is not None:
                backend.close()
            log_backend_error(
                self.candidates[self.attempt].backend,
                BackendProtocolError("a 101 answer that is not the WebSocket switch asked for"),
            )
            self._fail(502)
            return
        self.responding = True
        self.client.send_switching_protocols(end_to_end(fields))
        self.tunnel = Tunnel(self.client, backend, self.limits.tunnel_idle_timeout)
        self.backend = None

    # -- the client side's events ----------------------------------------------------
    def client_congested(self, congested: bool) -> None:
        if self.tunnel is not None:
            self.tunnel.client_congested(congested)
        elif self.backend is not None:
            self.backend.pause_reading(congested)

    def backend_congested(self, congested: bool) -> None:
        """The backend's write buffer is full (or drained): hold the client back."""
        self._hold_client(congested)

    def _hold_client(self, hold: bool) -> None:
        now = self.client.loop.time()
        if hold and not self.paused_at:
            self.paused_at = now
        elif not hold and self.paused_at and not self.holding_back:
            self.paused_total += now - self.paused_at
            self.body_last = max(self.body_last, now)  # its stall clock restarts now
            self.paused_at = 0.0
        self.client.backend_congested(hold or self.holding_back)

    def client_lost(self) -> None:
        if self.tunnel is not None:
            self.tunnel.client_lost()
            return
        if not self.finished:
            self._end_backend_side()

    def _end_backend_side(self) -> None:
        """The exchange is over early: nothing more starts, a backend connection in the
        middle of it is cut (never reused)."""
        self.finished = True
        if self.pending_task is not None:
            self.pending_task.cancel()
        backend, self.backend = self.backend, None
        if backend is not None:
            backend.abort()

    # -- time limits ------------------------------------------------------------------
    def _arm(self) -> None:
        self.client.rearm(self.client.loop.time() + self.forwarder.soonest_limit)

    def next_deadline(self, now: float) -> float | None:
        """Act on a passed time limit (answering 408/504, or cutting the connection);
        otherwise return when to look again."""
        if self.finished:
            return None
        limits = self.limits
        client = self.client
        if client.blocked_since:
            deadline = client.blocked_since + limits.send_timeout
            if now >= deadline:
                self._cut()  # the client stopped reading
                return None
            return deadline
        if self.paused_at:  # the client is held back: its pace is not its fault
            if self.holding_back:
                return now + self.forwarder.soonest_limit  # connecting: its own time-out applies
            deadline = self.paused_at + limits.backend_read_timeout
            if now >= deadline:  # the backend stopped taking the body
                self.backend_failed(BackendTimeout("the request body was not read in time"))
                return None
            return deadline
        if not self.client_done:
            deadline = self.body_last + limits.body_timeout
            elapsed = now - self.body_started - self.paused_total
            too_slow = (
                elapsed >= limits.body_timeout and self.body_in < limits.body_min_rate * elapsed
            )
            if now >= deadline or too_slow:
                self._fail(408)
                return None
            return min(deadline, now + RATE_CHECK_SECONDS)
        backend = self.backend
        if backend is not None and self.sent_all:
            deadline = max(backend.last_read, self.wait_since) + limits.backend_read_timeout
            if now >= deadline:
                self.backend_failed(BackendTimeout("no answer in time"))
                return None
            return deadline
        return now + self.forwarder.soonest_limit  # connecting: its own time-out applies

    def _cut(self) -> None:
        self._end_backend_side()
        self.client.abort()

    def _fail(self, status: int) -> None:
        """Answer ``status`` ourselves (nothing was relayed yet) or cut the connection."""
        if self.finished:
            return
        self._end_backend_side()
        if self.responding:
            self.client.abort()
        else:
            self.client.answer(error_answer(status, close=not self.client_done))


def log_backend_error(backend: Backend, error: BaseException) -> None:
    print(f"tlsproxy: backend {backend.url}: {type(error).__name__}: {error}", file=sys.stderr)

"""One connection to a backend: writes requests, parses responses with llhttp
(``httptools``' response parser, strict), and knows whether it may be used again.

A backend connection goes back to the pool only after an exchange that ended
cleanly on both sides (RFC 9112 9.3 and 9.6): the whole request was written, the
whole response was read to its framed end, the response allowed keep-alive, and no
byte followed it. Anything else closes it: an answer that came before the request
body was sent, a body cut short, a HEAD or 204/304 answer followed by stray bytes
(a ``204`` with ``Transfer-Encoding: chunked`` and a ``0`` chunk, say), bytes that
arrive while it sits idle. A connection that owes or holds unread bytes would give
the next request the wrong answer.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

import httptools

from .fields import Fields, list_tokens

if TYPE_CHECKING:
    from collections.abc import Callable

    from .backend_pool import BackendPool
    from .config import Backend

MAX_RESPONSE_LINE = 64 * 1024  # bytes of one response field line
MAX_RESPONSE_HEAD = 256 * 1024  # bytes of the whole response head
MAX_RESPONSE_FIELDS = 500


class BackendError(Exception):
    """An exchange with a backend failed; ``status`` is what the client gets when
    no response has started yet."""

    status = 502


class BackendUnreachable(BackendError):
    """No connection could be made (refused, unreachable, unknown name)."""


class BackendConnectTimeout(BackendError):
    """The backend did not accept the connection in time."""

    status = 503


class BackendReset(BackendError):
    """The connection closed before the response was complete."""


class BackendProtocolError(BackendError):
    """The backend's answer is not valid HTTP/1.1 (or is too large)."""


class BackendTimeout(BackendError):
    """The backend sent nothing for ``backend_read_timeout`` seconds."""

    status = 504


class ResponseSink(Protocol):
    """What receives a backend's response (an exchange)."""

    def response_head(self, status: int, reason: str, fields: Fields, keep_alive: bool) -> None: ...
    def cork(self) -> None: ...
    def uncork(self) -> None: ...
    def response_interim(self, status: int, reason: str, fields: Fields) -> None: ...
    def response_body(self, data: bytes) -> None: ...
    def response_end(self) -> None: ...
    def backend_failed(self, error: BackendError) -> None: ...
    def backend_congested(self, congested: bool) -> None: ...


def response_parser(callbacks: object) -> httptools.HttpResponseParser:
    """llhttp for responses, strict but for one leniency: a bare LF ends a line (RFC
    9112 2.2 lets a recipient accept it). The proxy writes every line it relays anew
    with CRLF, so the client never sees the backend's line ends; obs-fold stays an
    error (502, which RFC 9112 5.2 allows a proxy)."""
    parser = httptools.HttpResponseParser(callbacks)
    parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
    return parser


class _Stop(Exception):
    """Raised from a parser callback to stop parsing the rest of the bytes."""


class BackendConnection(asyncio.Protocol):
    """A keep-alive connection to one backend (see the module docstring)."""

    def __init__(self, pool: BackendPool, backend: Backend) -> None:
        # -- per connection
        self.pool = pool
        self.backend = backend
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.exchanges = 0  # how many it served; a reused one may have gone stale
        self.idle_since = 0.0
        self.last_read = 0.0  # loop time of the last byte from the backend
        self.tunnel: Callable[[bytes], None] | None = None
        self.tunnel_events: tuple[Callable[[bool], None], Callable[[], None]] | None = None
        # -- per exchange
        self.sink: ResponseSink | None = None
        self.parser = response_parser(self)
        self.head_only = False  # a HEAD request: the response ends at its head
        self.reusable = False
        self.done = False  # the final response was read to its end
        self.until_close = False  # its body ends when the backend closes
        self.release_due = False
        self.body_left = -1  # bytes of a Content-Length body still to come (-1: not known)
        self.raw = False  # the rest of that body is relayed without the parser
        # -- per response head being parsed
        self.reason: list[bytes] = []
        self.fields = Fields()
        self.head_bytes = 0
        self.interim = False

    # -- connection life ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are duck-typed

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.tunnel_events is not None:
            self.tunnel_events[1]()
            return
        sink, self.sink = self.sink, None
        if sink is not None and not self.done:
            self.parser_finish(sink, exc)

    def parser_finish(self, sink: ResponseSink, exc: Exception | None) -> None:
        """The backend closed: a response framed by the close ends here (RFC 9112 6.3,
        rule 8); any other response (or none) is cut short."""
        if self.until_close:
            self._complete(sink)
            return
        cause = f": {exc}" if exc else ""
        sink.backend_failed(BackendReset(f"the backend closed the connection{cause}"))

    def pause_writing(self) -> None:
        self._congested(True)

    def resume_writing(self) -> None:
        self._congested(False)

    def _congested(self, congested: bool) -> None:
        if self.sink is not None:
            self.sink.backend_congested(congested)
        elif self.tunnel_events is not None:
            self.tunnel_events[0](congested)

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def abort(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()

    # -- one exchange ---------------------------------------------------------------
    def start(self, sink: ResponseSink, head: bytes, head_only: bool) -> None:
        """Begin an exchange: write the request head (the body follows with ``send``)."""
        self.sink = sink
        self.exchanges += 1
        self.parser = response_parser(self)
        self.head_only = head_only
        self.reusable = False
        self.done = False
        self.until_close = False
        self.release_due = False
        self.body_left = -1
        self.raw = False
        self.last_read = self.loop.time()
        self.send(head)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def finish(self, reusable: bool) -> None:
        """The exchange is over: back to the pool when ``reusable`` and nothing is
        owed either way, else closed. Deferred while the parser still runs."""
        self.sink = None
        self.reusable = self.reusable and reusable and self.done and not self.closed
        if self.release_due:
            return  # data_received releases it once the rest of the bytes are seen
        self._release()

    def _release(self) -> None:
        if self.reusable:
            self.idle_since = self.loop.time()
            self.pool.put_idle(self)
        else:
            self.close()

    # -- reading --------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel(data)
            return
        self.last_read = self.loop.time()
        sink = self.sink
        if sink is None and not self.release_due:
            self.close()  # bytes on an idle connection answer nothing we asked
            return
        self.release_due = True
        if sink is not None:
            sink.cork()
        if self.raw:
            self._relay_raw(data)
        else:
            self._parse(data)
        if sink is not None:
            sink.uncork()
        self.release_due = False
        if self.sink is None and self.tunnel is None:
            self._release()

    def _parse(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            rest = data[upgrade.args[0] :]
            if self.tunnel is not None and rest:
                self.tunnel(rest)
            return
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, _Stop):
                raise
            return
        except httptools.HttpParserError as exc:
            self._invalid(f"invalid HTTP/1.1 response: {exc}")
            return
        if self.body_left > 0 and not self.done and self.sink is not None:
            # The head is parsed and the body's length is known: the rest of it is
            # counted, not parsed (llhttp would copy every chunk once more).
            self.raw = True

    def _relay_raw(self, data: bytes) -> None:
        """The rest of a Content-Length body: relayed as it comes, counted to its end."""
        sink = self.sink
        if sink is None or self.done:
            self.reusable = False  # bytes after the answer: never reused
            return
        left = self.body_left
        if len(data) > left:
            self.reusable = False  # the body is followed by bytes nobody asked for
            data = data[:left]
        self.body_left = left - len(data)
        sink.response_body(data)
        if self.body_left == 0:
            self._complete(sink)

    def _invalid(self, reason: str) -> None:
        self.reusable = False
        sink, self.sink = self.sink, None
        if sink is not None and not self.done:
            self.done = True
            sink.backend_failed(BackendProtocolError(reason))
        self.close()

    # llhttp callbacks, in the order they come for one response.
    def on_message_begin(self) -> None:
        if self.done or self.sink is None:
            self.reusable = False  # bytes after the response: never reused
            raise _Stop
        self.reason = []
        self.fields = Fields()
        self.head_bytes = 0

    def on_status(self, piece: bytes) -> None:
        self.reason.append(piece)

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value)
        self.head_bytes += size
        if (
            size > MAX_RESPONSE_LINE
            or self.head_bytes > MAX_RESPONSE_HEAD
            or len(self.fields) >= MAX_RESPONSE_FIELDS
        ):
            self._invalid("the response head is too large")
            raise _Stop
        text = name.decode("latin-1")
        self.fields.lines.append((text.lower(), text, value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        sink = self.sink
        assert sink is not None
        if not 100 <= status <= 599:  # RFC 9110 15: three digits, first 1 to 5
            self._invalid(f"status {status} is not an HTTP status")
            raise _Stop
        if 100 <= status < 200 and status != 101:
            self.interim = True  # 102, 103...: relayed; the final answer follows
            sink.response_interim(status, b"".join(self.reason).decode("latin-1"), self.fields)
            return
        keep_alive = self.parser.should_keep_alive()
        self.reusable = keep_alive
        fields = self.fields
        codings = list_tokens(fields.get_all("transfer-encoding"))
        if codings and codings != ["chunked"]:
            # A coding the proxy would have to remove with the field while the bytes
            # stay coded: the client could not read the body (RFC 9112 6.1).
            self._invalid(f"transfer codings {codings} cannot be relayed")
            raise _Stop
        if status in (204, 304) and (
            codings or (fields.get("content-length", "0") != "0" and status == 204)
        ):
            # The answer ends at its head (RFC 9112 6.3), but a backend that framed a
            # body may send it late, into the next exchange: not reused.
            self.reusable = False
        if status not in (204, 304) and not self.head_only:
            length = fields.get("content-length")
            if length is None:
                self.until_close = not codings
            elif "transfer-encoding" not in fields:
                self.body_left = int(length)  # llhttp checked it is one decimal number
        reason = b"".join(self.reason).decode("latin-1")
        sink.response_head(status, reason, self.fields, keep_alive)
        if self.head_only and status >= 200 and self.sink is sink:
            # RFC 9112 6.3: the answer to HEAD ends at its head, whatever its fields
            # say. llhttp does not know the method: unless the head declared an empty
            # body, it would read on, so the connection is not reused.
            if self.fields.get("content-length") != "0" or "transfer-encoding" in self.fields:
                self.reusable = False
                self._complete(sink)
                raise _Stop

    def on_body(self, data: bytes) -> None:
        sink = self.sink
        if sink is not None and not self.done:
            if self.body_left > 0:
                self.body_left -= len(data)
            sink.response_body(data)

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        sink = self.sink
        if sink is not None and not self.done:
            self._complete(sink)

    def _complete(self, sink: ResponseSink) -> None:
        self.done = True
        sink.response_end()

    def pause_reading(self, paused: bool) -> None:
        """Stop (or resume) reading: the client is not taking our bytes as fast."""
        transport = self.transport
        if transport is None or self.closed:
            return
        if paused:
            transport.pause_reading()
        else:
            transport.resume_reading()

    # -- after 101 ------------------------------------------------------------------
    def switch_to_tunnel(
        self,
        relay: Callable[[bytes], None],
        congested: Callable[[bool], None],
        lost: Callable[[], None],
    ) -> None:
        """The backend switched protocols: every byte from now on goes to ``relay``;
        ``congested`` hears of its write buffer, ``lost`` of its end."""
        self.tunnel = relay
        self.tunnel_events = (congested, lost)
        self.sink = None
        self.done = True
        self.reusable = False

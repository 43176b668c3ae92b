"""The client-side connection: aiohttp's HTTP/1.1 protocol plus the proxy's guards.

aiohttp's parser (llhttp) already rejects ambiguous framing (Content-Length with
Transfer-Encoding, duplicate Content-Length, obsolete line folding, bad request lines
and versions). This subclass adds what a public-facing proxy needs on top: a
header-read deadline against slow clients, a cap on concurrent connections, 431 for
oversized headers, and the proxy's own short error pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler

from .accesslog import AccessLog
from .errors import answer_as_http_1_1, error_response, raw_error
from .metrics import Metrics
from .tls import certificate_subject


class ConnectionGate:
    """Counts open client connections across all listeners."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0


class ProxyProtocol(RequestHandler):
    def __init__(
        self,
        manager: web.Server,
        *,
        gate: ConnectionGate,
        header_timeout: float,
        access_log_writer: AccessLog,
        hsts: str | None,
        metrics: Metrics | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(manager, **kwargs)
        self._handshake = metrics.watch_handshake(self) if metrics is not None else None
        self._gate = gate
        self._counted = False
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._in_request = False
        self._access = access_log_writer
        self._hsts = hsts
        self.retired = False
        self._client_subject: str | None = None
        self._client_subject_read = False

    # -- connection limit and header deadline ------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._handshake is not None:
            self._handshake.completed()
        if self._gate.open >= self._gate.limit:
            # Refuse before aiohttp starts serving: a short 503, then close.
            transport.write(raw_error(503))  # type: ignore[attr-defined]
            transport.close()
            return
        self._gate.open += 1
        self._counted = True
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._counted:
            self._counted = False
            self._gate.open -= 1
            self._cancel_header_timer()
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.retired and not self._request_in_progress:
            self.force_close()  # the next request belongs on a connection to the new setup
            return
        if not self._in_request and self._header_timer is None:
            self._arm_header_timer()  # the first byte of a new request starts the clock
        super().data_received(data)

    def headers_complete(self) -> None:
        """Called by the handler when a request's headers are parsed."""
        self._in_request = True
        self._cancel_header_timer()

    def request_done(self) -> None:
        self._in_request = False

    def client_subject(self) -> str | None:
        """The verified client certificate's subject, read once per connection."""
        if not self._client_subject_read:
            self._client_subject_read = True
            transport = self.transport
            ssl_object = transport.get_extra_info("ssl_object") if transport else None
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            self._client_subject = certificate_subject(der) if der else None
        return self._client_subject

    def retire(self) -> None:
        """A reload happened: an idle connection closes now, a busy one (a request or a
        WebSocket) after its current exchange, so its next request meets the new setup."""
        self.retired = True
        if not self._request_in_progress:  # aiohttp's flag, true until the response is sent
            self.force_close()

    def _arm_header_timer(self) -> None:
        self._header_timer = self._loop.call_later(self._header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self._in_request or self.transport is None:
            return
        self.transport.write(raw_error(408))
        self.force_close()
        self.transport.close()

    # -- errors found by the parser ---------------------------------------------
    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        self._cancel_header_timer()
        if isinstance(exc, LineTooLong) or (
            isinstance(exc, BadHttpMessage) and "Too many headers" in str(exc)
        ):
            status = 431
        elif status == 500:
            print(f"tlsproxy: internal error: {exc!r}", file=sys.stderr)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started")
        answer_as_http_1_1(request)
        response = error_response(status, close=True)
        if self._hsts is not None:
            response.headers["Strict-Transport-Security"] = self._hsts
        peer = self.transport.get_extra_info("peername") if self.transport else None
        # A request that failed to parse has placeholder fields; never let logging fail.
        with contextlib.suppress(Exception):
            self._access.log(
                request, peer[0] if peer else "-", status, len(response.body), time.time()
            )
        return response


class ProxyServer(web.Server):
    """aiohttp's low-level server making ``ProxyProtocol`` connections."""

    def __init__(
        self,
        handler: Any,
        *,
        gate: ConnectionGate,
        protocol_options: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self.gate = gate  # shared by every listener and by the generations of a reload
        self._protocol_options = protocol_options

    def __call__(self) -> ProxyProtocol:
        return ProxyProtocol(
            self, loop=self._loop, gate=self.gate, **self._protocol_options, **self._kwargs
        )

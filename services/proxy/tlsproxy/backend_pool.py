"""The lean path to the backends: GET and HEAD without a body, on our own keep-alive pool.

aiohttp's ``ClientSession`` builds a request object, a response object, timers and
trace hooks per request; for the common bodiless GET the proxy spent more time there
than in its own code (``bench/``, py-spy). This path keeps aiohttp's parts that matter
(the C HTTP parser, its flow-controlled ``StreamReader`` and read time-out, all in
``ResponseHandler``) and drops the rest: the request head is serialised once and
written to an idle connection of the backend, or a new one.

Failures raise what the handler already maps for the session (``ConnectionTimeoutError``
503, ``BackendUnreachable`` 502 with failover, ``ServerDisconnectedError`` /
``ClientOSError`` resets, ``SocketTimeoutError`` 504, ``BackendProtocolError`` 502).
Request bodies and WebSocket upgrades keep using the session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.http_writer import _serialize_headers
from aiohttp.streams import StreamReader
from multidict import CIMultiDict, CIMultiDictProxy

from .config import Backend, Limits

LEAN_METHODS = frozenset(("GET", "HEAD"))
KEEPALIVE_SECONDS = 30.0  # as the session's connector: idle connections older are closed
MAX_IDLE_PER_BACKEND = 256
READ_BUFSIZE = 64 * 1024


class BackendUnreachable(aiohttp.ClientConnectionError):
    """No connection could be made (refused, unreachable, unknown name)."""


class BackendProtocolError(aiohttp.ClientError):
    """The backend's answer is not valid HTTP/1.1."""


class LeanResponse:
    """The parts of a backend response the handler relays (as ``ClientResponse``)."""

    def __init__(
        self,
        pool: BackendPool,
        backend: Backend,
        protocol: ResponseHandler,
        status: int,
        reason: str,
        headers: CIMultiDictProxy[str],
        content: StreamReader,
        keep_alive: bool,
    ) -> None:
        self._pool, self._backend, self._protocol = pool, backend, protocol
        self.status, self.reason, self.headers, self.content = status, reason, headers, content
        self._keep_alive = keep_alive

    def release(self) -> None:
        """Back to the pool when the body was read to its end, else closed."""
        protocol = self._protocol
        if self._keep_alive and self.content.is_eof() and not protocol.should_close:
            self._pool.put_idle(self._backend, protocol)
        else:
            protocol.close()


class BackendPool:
    """Idle keep-alive connections per backend, for ``LEAN_METHODS`` without a body."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._idle: dict[Backend, list[tuple[ResponseHandler, float]]] = {}
        self._closed = False

    async def request(
        self, backend: Backend, method: str, target: str, headers: Mapping[str, str]
    ) -> LeanResponse:
        head = _serialize_headers(f"{method} {target} HTTP/1.1", _with_host(headers, backend))
        protocol = self._take_idle(backend)
        if protocol is not None:
            try:
                return await self._exchange(backend, protocol, head, method)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                pass  # it was closed while idle: once more on a new connection, as aiohttp does
        protocol = await self._connect(backend)
        return await self._exchange(backend, protocol, head, method)

    def put_idle(self, backend: Backend, protocol: ResponseHandler) -> None:
        idle = self._idle.setdefault(backend, [])
        if self._closed or len(idle) >= MAX_IDLE_PER_BACKEND:
            protocol.close()
            return
        idle.append((protocol, time.monotonic()))

    def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for protocol, _ in idle:
                protocol.close()
        self._idle.clear()

    def _take_idle(self, backend: Backend) -> ResponseHandler | None:
        idle = self._idle.get(backend)
        oldest = time.monotonic() - KEEPALIVE_SECONDS
        while idle:
            protocol, since = idle.pop()
            # should_close: also true when bytes arrived while it was idle (a stray
            # answer, which must never be taken for the next request's).
            if since >= oldest and protocol.is_connected() and not protocol.should_close:
                return protocol
            protocol.close()
        return None

    async def _connect(self, backend: Backend) -> ResponseHandler:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._limits.backend_connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: ResponseHandler(loop), backend.host, backend.port
                )
        except TimeoutError as exc:
            raise aiohttp.ConnectionTimeoutError(
                f"Connection timeout to host {backend.url}"
            ) from exc
        except OSError as exc:
            raise BackendUnreachable(f"Cannot connect to host {backend.url}: {exc}") from exc
        return protocol

    async def _exchange(
        self, backend: Backend, protocol: ResponseHandler, head: bytes, method: str
    ) -> LeanResponse:
        limits = self._limits
        protocol.set_response_params(
            skip_payload=method == "HEAD",
            read_until_eof=True,  # a body without length or chunks ends at close
            auto_decompress=False,
            read_timeout=limits.backend_read_timeout,
            read_bufsize=READ_BUFSIZE,
            max_line_size=limits.max_header_bytes * 8,
            max_field_size=limits.max_header_bytes * 8,
        )
        try:
            transport = protocol.transport
            if transport is None or transport.is_closing():
                raise aiohttp.ServerDisconnectedError()
            transport.write(head)
            protocol.start_timeout()
            while True:
                message, payload = await protocol.read()
                # 1xx interim answers (103 Early Hints) are not relayed, as by the session.
                if not 100 <= message.code < 200 or message.code == 101:
                    break
        except HttpProcessingError as exc:
            protocol.close()
            raise BackendProtocolError(f"{exc.code}, message={exc.message!r}") from exc
        except BaseException:
            protocol.close()
            raise
        return LeanResponse(
            self,
            backend,
            protocol,
            message.code,
            message.reason,
            message.headers,
            payload,
            keep_alive=not message.should_close,
        )


def _with_host(headers: Mapping[str, str], backend: Backend) -> CIMultiDict[str]:
    """The headers with ``Host`` first, the backend's authority when the client's is
    not kept (as the session writes them)."""
    out: CIMultiDict[str] = CIMultiDict()
    host = headers.get("Host")
    if host is None:
        host = backend.authority.removesuffix(":80")
    out["Host"] = host
    for name, value in headers.items():
        if name.lower() != "host":
            out.add(name, value)
    return out

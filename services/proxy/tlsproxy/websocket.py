"""WebSocket pass-through: accept the client's upgrade, open one to the backend, relay.

Messages are relayed frame by frame (text, binary, close code) in both directions;
the backend's chosen subprotocol is offered back to the client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import aiohttp
from aiohttp import WSMsgType, web
from multidict import CIMultiDict
from yarl import URL

from .errors import error_response

# The client library makes its own handshake; these come from the original one.
_HANDSHAKE_HEADERS = (
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
    "sec-websocket-accept",
)


def is_upgrade(request: web.BaseRequest) -> bool:
    return (
        request.method == "GET"
        and request.headers.get("Upgrade", "").lower() == "websocket"
        and "upgrade" in request.headers.get("Connection", "").lower()
    )


async def relay(
    request: web.BaseRequest,
    session: aiohttp.ClientSession,
    urls: Sequence[URL],
    headers: CIMultiDict[str],
    hsts: str | None,
    not_connected: Callable[[int, BaseException], None] | None = None,
) -> web.StreamResponse:
    """Relay to the first of ``urls`` that accepts a connection; ``not_connected`` is
    told the index of each one that did not (the balancer's failover order)."""
    protocols = [
        p.strip()
        for value in request.headers.getall("Sec-WebSocket-Protocol", ())
        for p in value.split(",")
        if p.strip()
    ]
    for name in _HANDSHAKE_HEADERS:
        headers.popall(name, None)
    last = len(urls) - 1
    for index, url in enumerate(urls):
        try:
            backend_ws = await session.ws_connect(
                url.with_scheme("ws"), headers=headers, protocols=protocols, autoping=False
            )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            if not_connected is not None:
                not_connected(index, exc)
            if index < last:
                continue
            return error_response(503 if isinstance(exc, TimeoutError) else 502)
        except aiohttp.ClientError as exc:
            return _handshake_failure(exc)
        except TimeoutError:
            return error_response(504)
        return await _relay_with(request, backend_ws, hsts)
    raise AssertionError("a route has at least one backend")


def _handshake_failure(exc: aiohttp.ClientError) -> web.StreamResponse:
    """The backend was reached but the upgrade failed."""
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return error_response(502 if exc.status < 400 else exc.status)
    if isinstance(exc, TimeoutError):  # aiohttp.ServerTimeoutError is one
        return error_response(504)
    return error_response(502)


async def _relay_with(
    request: web.BaseRequest, backend_ws: aiohttp.ClientWebSocketResponse, hsts: str | None
) -> web.StreamResponse:
    chosen = (backend_ws.protocol,) if backend_ws.protocol else ()
    client_ws = web.WebSocketResponse(protocols=chosen, autoping=False)
    if hsts is not None:
        client_ws.headers["Strict-Transport-Security"] = hsts
    try:
        await client_ws.prepare(request)
        await _pump_both(client_ws, backend_ws)
    finally:
        await backend_ws.close()
        await client_ws.close()
    return client_ws


async def _pump_both(
    client: web.WebSocketResponse, backend: aiohttp.ClientWebSocketResponse
) -> None:
    tasks = [
        asyncio.ensure_future(_pump(client, backend)),
        asyncio.ensure_future(_pump(backend, client)),
    ]
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _pump(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> None:
    async for message in source:
        if message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type == WSMsgType.PING:
            await sink.ping(message.data)
        elif message.type == WSMsgType.PONG:
            await sink.pong(message.data)
    code = source.close_code or aiohttp.WSCloseCode.OK
    await sink.close(code=code)

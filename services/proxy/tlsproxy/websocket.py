"""WebSocket pass-through: accept the client's upgrade, open one to the backend, relay.

Messages are relayed frame by frame (text, binary, close code) in both directions;
the backend's chosen subprotocol is offered back to the client.
"""

from __future__ import annotations

import asyncio
import contextlib

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
    url: URL,
    headers: CIMultiDict[str],
    hsts: str | None,
) -> web.StreamResponse:
    protocols = [
        p.strip()
        for value in request.headers.getall("Sec-WebSocket-Protocol", ())
        for p in value.split(",")
        if p.strip()
    ]
    for name in _HANDSHAKE_HEADERS:
        headers.popall(name, None)
    try:
        backend_ws = await session.ws_connect(
            url.with_scheme("ws"), headers=headers, protocols=protocols, autoping=False
        )
    except aiohttp.WSServerHandshakeError as exc:
        return error_response(502 if exc.status < 400 else exc.status)
    except aiohttp.ConnectionTimeoutError:
        return error_response(503)
    except (TimeoutError, aiohttp.ServerTimeoutError):
        return error_response(504)
    except aiohttp.ClientError:
        return error_response(502)
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

"""WebSocket upgrades pass through: echo both ways, subprotocol, close codes."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from proxy_testkit import (
    LocalCA,
    RunningProxy,
    backend_app,
    base_document,
    closed_port_url,
    config_from,
    proxied_backend,
    start_backend,
)


async def ws_echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("chat.v2",))
    await ws.prepare(request)
    await ws.send_str(f"hello {request.headers.get('X-Forwarded-Proto')}")
    async for message in ws:
        if message.type == aiohttp.WSMsgType.TEXT:
            if message.data == "bye":
                await ws.close(code=4001, message=b"bye")
                break
            await ws.send_str("echo " + message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(message.data[::-1])
    return ws


async def test_websocket_echo_through_the_proxy(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    async with proxied_backend(server_cert, [web.get("/ws", ws_echo)]) as proxy:
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(
                f"wss://localhost:{proxy.https_port}/ws",
                protocols=("chat.v1", "chat.v2"),
                ssl=ca.client_context(),
            ) as ws,
        ):
            assert ws.protocol == "chat.v2"
            assert (await ws.receive_str(timeout=5)) == "hello https"
            await ws.send_str("one")
            assert (await ws.receive_str(timeout=5)) == "echo one"
            await ws.send_bytes(b"\x01\x02\x03")
            assert (await ws.receive_bytes(timeout=5)) == b"\x03\x02\x01"
            await ws.send_str("bye")
            closing = await ws.receive(timeout=5)
            assert closing.type == aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 4001


async def test_websocket_to_a_plain_http_path_gets_the_backends_own_answer(
    backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    async with RunningProxy(config_from(base_document(*server_cert, backend_url))) as proxy:
        async with aiohttp.ClientSession() as client:
            try:
                await client.ws_connect(
                    f"wss://localhost:{proxy.https_port}/not-ws", ssl=ca.client_context()
                )
            except aiohttp.WSServerHandshakeError as exc:
                # The backend ignored Upgrade (RFC 9110 7.8 lets it): its answer is
                # relayed as it is, and nothing switches.
                assert exc.status == 200
            else:
                raise AssertionError("a non-WebSocket backend path must not upgrade")


async def test_websocket_moves_on_from_a_backend_that_refuses_connections(
    server_cert: tuple[Path, Path], ca: LocalCA, capsys: pytest.CaptureFixture[str]
) -> None:
    runner, url = await start_backend(backend_app([web.get("/ws", ws_echo)]))
    dead = closed_port_url()
    document = base_document(*server_cert, url)
    document["routes"] = [{"backends": [dead, url], "balance": "round_robin"}]
    try:
        async with (
            RunningProxy(config_from(document)) as proxy,
            aiohttp.ClientSession() as client,
            client.ws_connect(
                f"wss://localhost:{proxy.https_port}/ws", ssl=ca.client_context()
            ) as ws,
        ):
            assert (await ws.receive_str(timeout=5)) == "hello https"
    finally:
        await runner.cleanup()
    assert f'"backend": "{dead}", "state": "down"' in capsys.readouterr().err

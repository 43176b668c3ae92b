"""Bodies stream both ways: the other side sees each part before the next is sent.

Each test runs in lockstep: the sender waits until the receiver has seen part one
before sending part two. A proxy that buffered the whole body would deadlock here,
so the time-out is the failure, not a speed measure.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from proxy_testkit import LocalCA, proxied_backend, raw_exchange

STEP_TIMEOUT = 5.0
PART = b"x" * 100_000


class Lockstep:
    def __init__(self) -> None:
        self.first_seen = asyncio.Event()
        self.received = 0
        self.transfer_encoding: str | None = None


def streaming_routes(state: Lockstep) -> list[web.RouteDef]:
    async def upload(request: web.Request) -> web.Response:
        state.transfer_encoding = request.headers.get("Transfer-Encoding")
        async for chunk in request.content.iter_any():
            state.received += len(chunk)
            if state.received >= len(PART):
                state.first_seen.set()
        return web.Response(text=str(state.received))

    async def download(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: one\n\n")
        await asyncio.wait_for(state.first_seen.wait(), STEP_TIMEOUT)
        await response.write(b"data: two\n\n")
        await response.write_eof()
        return response

    async def big(request: web.Request) -> web.StreamResponse:
        size = int(request.query["mib"]) * 1024 * 1024
        response = web.StreamResponse()
        response.content_length = size
        await response.prepare(request)
        block = b"b" * (1024 * 1024)
        for _ in range(size // len(block)):
            await response.write(block)
        await response.write_eof()
        return response

    return [web.post("/upload", upload), web.get("/events", download), web.get("/big", big)]


async def test_upload_streams_before_the_body_is_complete(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    state = Lockstep()

    async def body() -> AsyncIterator[bytes]:
        yield PART
        await asyncio.wait_for(state.first_seen.wait(), STEP_TIMEOUT)
        yield PART

    async with (
        proxied_backend(server_cert, streaming_routes(state)) as proxy,
        aiohttp.ClientSession() as client,
    ):
        async with client.post(
            f"https://localhost:{proxy.https_port}/upload", data=body(), ssl=ca.client_context()
        ) as response:
            assert response.status == 200
            assert await response.text() == str(2 * len(PART))
    assert state.transfer_encoding == "chunked"  # chunked in, chunked out


async def test_server_sent_events_are_flushed_as_they_come(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    state = Lockstep()
    async with (
        proxied_backend(server_cert, streaming_routes(state)) as proxy,
        aiohttp.ClientSession() as client,
    ):
        async with client.get(
            f"https://localhost:{proxy.https_port}/events", ssl=ca.client_context()
        ) as response:
            assert response.headers["Content-Type"] == "text/event-stream"
            assert response.headers["Transfer-Encoding"] == "chunked"
            first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), STEP_TIMEOUT)
            assert first == b"data: one\n\n"
            state.first_seen.set()
            assert await response.content.read() == b"data: two\n\n"


MIB = 1024 * 1024
TRANSFER_MIB = 64
PEAK_LIMIT_MIB = 16  # far below the transfer: nothing holds a whole body


async def _upload_body() -> AsyncIterator[bytes]:
    block = b"u" * MIB
    for _ in range(TRANSFER_MIB):
        yield block


@pytest.mark.parametrize("direction", ["download", "upload"])
async def test_large_transfer_uses_bounded_memory(
    direction: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Client, proxy and backend share this process; tracemalloc sees all their
    Python allocations, so its peak bounds what the proxy held at once."""
    state = Lockstep()
    moved = 0
    async with (
        proxied_backend(server_cert, streaming_routes(state)) as proxy,
        aiohttp.ClientSession() as client,
    ):
        base = f"https://localhost:{proxy.https_port}"
        tracemalloc.start()
        try:
            if direction == "download":
                async with client.get(
                    f"{base}/big?mib={TRANSFER_MIB}", ssl=ca.client_context()
                ) as response:
                    async for chunk in response.content.iter_chunked(256 * 1024):
                        moved += len(chunk)
            else:
                async with client.post(
                    f"{base}/upload", data=_upload_body(), ssl=ca.client_context()
                ) as response:
                    moved = int(await response.text())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert moved == TRANSFER_MIB * MIB
    assert peak < PEAK_LIMIT_MIB * MIB, f"peak {peak / MIB:.1f} MiB"


async def test_client_leaving_mid_download_stops_the_backend_quietly(
    server_cert: tuple[Path, Path], ca: LocalCA, capsys: pytest.CaptureFixture[str]
) -> None:
    backend_stopped = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            while True:
                await response.write(b"e" * 65536)
        except ConnectionError:
            backend_stopped.set()  # the proxy closed its backend connection
            raise

    async with proxied_backend(server_cert, [web.get("/endless", endless)]) as proxy:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", proxy.https_port, ssl=ca.client_context(), server_hostname="localhost"
        )
        writer.write(b"GET /endless HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await reader.read(100_000)
        writer.transport.abort()
        await asyncio.wait_for(backend_stopped.wait(), STEP_TIMEOUT)
        answer = await raw_exchange(
            proxy.https_port,
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            ca.client_context(),
        )
        assert answer.startswith(b"HTTP/1.1 200")
    assert "tlsproxy:" not in capsys.readouterr().err  # a client leaving is no error


@pytest.mark.parametrize(
    "head",
    [
        b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n",
        b"POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n186a0\r\n",
    ],
)
async def test_client_leaving_mid_upload_never_completes_the_backend_request(
    head: bytes, server_cert: tuple[Path, Path], ca: LocalCA, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def upload(request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except Exception as exc:  # the truncated body must surface as an error
            outcome.set_result(type(exc).__name__)
            raise
        outcome.set_result(f"complete {len(body)}")
        return web.Response(text="stored")

    async with proxied_backend(server_cert, [web.post("/upload", upload)]) as proxy:
        _, writer = await asyncio.open_connection(
            "127.0.0.1", proxy.https_port, ssl=ca.client_context(), server_hostname="localhost"
        )
        writer.write(head + b"u" * 50_000)
        await writer.drain()
        await asyncio.sleep(0.1)  # the first half reaches the backend
        writer.transport.abort()
        result = await asyncio.wait_for(outcome, STEP_TIMEOUT)
    assert not result.startswith("complete"), result
    assert "tlsproxy:" not in capsys.readouterr().err

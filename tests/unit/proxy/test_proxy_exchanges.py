"""Raw exchanges whose framing matters: HEAD, 204/304, 100-continue, HTTP/1.0,
backends that misbehave (invalid response, cut body) and ``preserve_host = false``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from proxy_testkit import (
    LocalCA,
    RunningProxy,
    backend_app,
    base_document,
    config_from,
    proxied_backend,
    raw_exchange,
    start_backend,
    status_of,
)


async def no_content(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]), headers={"ETag": '"v1"'})


async def cut_short(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.content_length = 1000
    await response.prepare(request)
    await response.write(b"partial")
    assert request.transport is not None
    request.transport.close()  # the backend dies mid-body
    return response


async def start_raw_backend(answer: bytes) -> tuple[asyncio.Server, str]:
    """A backend that answers every connection with ``answer`` bytes, then closes."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(reply, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def proxy(server_cert: tuple[Path, Path]) -> AsyncIterator[RunningProxy]:
    routes = [web.get("/code/{code}", no_content), web.get("/cut", cut_short)]
    runner, url = await start_backend(backend_app(routes))
    document = base_document(*server_cert, url)
    document["routes"].insert(0, {"path_prefix": "/rewritten-host", "backends": [url],
                                  "preserve_host": False})  # fmt: skip
    async with RunningProxy(config_from(document)) as running:
        yield running
    await runner.cleanup()


CLOSE = b"Connection: close\r\n\r\n"
# (request bytes, status, must appear in the answer, must not appear)
EXCHANGES = [
    (b"HEAD /h HTTP/1.1\r\nHost: localhost\r\n" + CLOSE, 200, b"Content-Length: ", b'"method"'),
    (b"GET /code/204 HTTP/1.1\r\nHost: localhost\r\n" + CLOSE, 204, b'ETag: "v1"',
     b"Transfer-Encoding"),
    (b"GET /code/304 HTTP/1.1\r\nHost: localhost\r\n" + CLOSE, 304, b'ETag: "v1"',
     b"Transfer-Encoding"),
    (b"POST /e HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
     + CLOSE + b"hi", 100, b'"body": "hi"', b'"expect"'),
    # Without Host the backend would learn only its own internal name (and print it into
    # links): refused, HTTP/1.0 included.
    (b"GET /old HTTP/1.0\r\n\r\n", 400, b"exactly one Host", b'"path"'),
    (b"GET /old HTTP/1.0\r\nHost: localhost\r\n\r\n", 200, b'"path": "/old"', b"chunked"),
    (b"GET /rewritten-host HTTP/1.1\r\nHost: localhost\r\n" + CLOSE, 200,
     b'["Host", "127.0.0.1:', b'["Host", "localhost'),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "status", "present", "absent"), EXCHANGES)
async def test_exchange(
    raw: bytes, status: int, present: bytes, absent: bytes, proxy: RunningProxy, ca: LocalCA
) -> None:
    answer = await raw_exchange(proxy.https_port, raw, ca.client_context())
    assert status_of(answer) == status, answer[:400]
    assert present.lower() in answer.lower()  # header names are case-insensitive
    assert absent.lower() not in answer.lower()


async def test_backend_cut_mid_body_is_not_passed_off_as_complete(
    proxy: RunningProxy, ca: LocalCA
) -> None:
    answer = await raw_exchange(
        proxy.https_port, b"GET /cut HTTP/1.1\r\nHost: localhost\r\n" + CLOSE, ca.client_context()
    )
    assert status_of(answer) == 200
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Content-Length: 1000" in head
    assert len(body) < 1000  # the client can tell the body is truncated


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"NONSENSE\r\n\r\n",
        b"",
    ],
)
async def test_invalid_backend_response_is_502(
    answer: bytes, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    server, url = await start_raw_backend(answer)
    async with RunningProxy(config_from(base_document(*server_cert, url))) as proxy:
        reply = await raw_exchange(
            proxy.https_port, b"GET / HTTP/1.1\r\nHost: localhost\r\n" + CLOSE, ca.client_context()
        )
    server.close()
    assert status_of(reply) == 502
    assert b"NONSENSE" not in reply


async def test_backend_connections_are_kept_alive_and_reused(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    peers: list[int] = []

    async def who(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername")[1])  # type: ignore[union-attr]
        return web.Response(text="ok")

    async with proxied_backend(server_cert, catch_all=who) as proxy:
        for _ in range(3):  # three separate client connections
            await raw_exchange(
                proxy.https_port, b"GET / HTTP/1.1\r\nHost: localhost\r\n" + CLOSE,
                ca.client_context(),
            )  # fmt: skip
    assert len(peers) == 3
    assert len(set(peers)) == 1  # one pooled backend connection served all three


async def test_compressed_bodies_pass_through_untouched(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    import gzip
    import hashlib

    packed = gzip.compress(b"compressible " * 1000)

    async def gzipped(request: web.Request) -> web.Response:
        raw = await request.content.read()
        return web.Response(
            body=packed,
            headers={
                "Content-Encoding": "gzip",
                "X-Request-Sha": hashlib.sha256(raw).hexdigest(),
                "X-Request-Encoding": request.headers.get("Content-Encoding", ""),
            },
        )

    # The backend must see the very bytes the proxy sent, so it does not decompress.
    app = backend_app([web.post("/gz", gzipped)], handler_args={"auto_decompress": False})
    runner, url = await start_backend(app)
    async with RunningProxy(config_from(base_document(*server_cert, url))) as proxy:
        answer = await raw_exchange(
            proxy.https_port,
            b"POST /gz HTTP/1.1\r\nHost: localhost\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\nAccept-Encoding: gzip\r\n" % len(packed) + CLOSE + packed,
            ca.client_context(),
        )
    await runner.cleanup()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status_of(answer) == 200
    assert body == packed
    assert b"Content-Encoding: gzip" in head
    assert f"X-Request-Sha: {hashlib.sha256(packed).hexdigest()}".encode() in head
    assert b"X-Request-Encoding: gzip" in head

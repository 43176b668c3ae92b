"""Limits and time-outs: sizes (431, 413), slow clients (408), idle keep-alive,
backend connect (502/503) and read (504) time-outs, and the connection cap (503)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from proxy_testkit import (
    LocalCA,
    RunningProxy,
    base_document,
    config_from,
    proxied_backend,
    raw_exchange,
    status_of,
)

SHORT = 0.3  # seconds: every time-out in these tests
LIMITS = {
    "max_header_bytes": 1024,
    "max_header_count": 20,
    "max_body_bytes": 1000,
    "header_timeout": SHORT,
    "body_timeout": SHORT,
    "idle_timeout": SHORT * 2,  # longer, so the header deadline is what fires
    "backend_connect_timeout": SHORT,
    "backend_read_timeout": SHORT,
    "body_min_rate": 0,  # the minimum-rate rule has its own tests
}
H = b"Host: localhost\r\n"


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(SHORT * 5)
    return web.Response(text="too late")


@pytest.fixture
async def limited(server_cert: tuple[Path, Path]) -> AsyncIterator[RunningProxy]:
    async with proxied_backend(server_cert, [web.get("/slow", slow)], limits=LIMITS) as proxy:
        yield proxy


SIZE_CASES = [
    ("long header line", b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 2000 + b"\r\n\r\n", 431),
    ("long request target", b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
    ("too many headers", b"GET / HTTP/1.1\r\n" + H
     + b"".join(b"X-%d: 1\r\n" % i for i in range(30)) + b"\r\n", 431),
    ("headers within limits", b"GET / HTTP/1.1\r\n" + H + b"X-Ok: " + b"a" * 500
     + b"\r\nConnection: close\r\n\r\n", 200),
    ("declared body over the limit", b"POST / HTTP/1.1\r\n" + H
     + b"Content-Length: 1001\r\n\r\n" + b"a" * 1001, 413),
    ("declared body at the limit", b"POST / HTTP/1.1\r\n" + H
     + b"Content-Length: 1000\r\nConnection: close\r\n\r\n" + b"a" * 1000, 200),
    ("chunked body growing over the limit", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n" + (b"1f4\r\n" + b"a" * 500 + b"\r\n") * 3
     + b"0\r\n\r\n", 413),
    ("backend slower than the read time-out", b"GET /slow HTTP/1.1\r\n" + H
     + b"Connection: close\r\n\r\n", 504),
]  # fmt: skip


@pytest.mark.parametrize(("name", "raw", "status"), SIZE_CASES, ids=[c[0] for c in SIZE_CASES])
async def test_size_limits_and_backend_read_timeout(
    name: str, raw: bytes, status: int, limited: RunningProxy, ca: LocalCA
) -> None:
    answer = await raw_exchange(limited.https_port, raw, ca.client_context())
    assert status_of(answer) == status, answer[:300]


async def test_slow_headers_get_408_and_close(limited: RunningProxy, ca: LocalCA) -> None:
    answer = await raw_exchange(
        limited.https_port, b"GET / HTTP/1.1\r\nHost: loc", ca.client_context()
    )
    assert status_of(answer) == 408


async def test_silent_connection_is_closed_by_header_timeout(
    limited: RunningProxy, ca: LocalCA
) -> None:
    answer = await raw_exchange(limited.https_port, b"", ca.client_context())
    assert answer == b"" or status_of(answer) == 408


async def test_idle_keepalive_connection_is_closed(limited: RunningProxy, ca: LocalCA) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", limited.https_port, ssl=ca.client_context(), server_hostname="localhost"
    )
    writer.write(b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n")
    first = await asyncio.wait_for(reader.readuntil(b"ok\n"), 5)
    assert status_of(first) == 200
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the proxy
    writer.close()


def _unanswering_listener() -> tuple[socket.socket, list[socket.socket]]:
    """A port that accepts no more connections: backlog full, new SYNs are dropped."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(server.getsockname())
        except BlockingIOError:
            pass
        fillers.append(filler)
    return server, fillers


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("kind", ["refused", "timeout"])
async def test_backend_connect_failures(
    kind: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    held: list[Any] = []
    if kind == "refused":
        port, expected = _closed_port(), 502
    else:
        server, fillers = _unanswering_listener()
        held = [server, *fillers]
        port, expected = server.getsockname()[1], 503
    document = base_document(*server_cert, f"http://127.0.0.1:{port}", limits=LIMITS)
    try:
        async with RunningProxy(config_from(document)) as proxy:
            answer = await raw_exchange(
                proxy.https_port,
                b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
                ca.client_context(),
            )
    finally:
        for sock in held:
            sock.close()
    assert status_of(answer) == expected
    assert b"127.0.0.1" not in answer.split(b"\r\n\r\n", 1)[1]  # no internals in the page


async def _refused_before_tls(port: int, ca: LocalCA) -> bool:
    """Whether a TLS connection to ``port`` is closed before its handshake completes."""
    try:
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ca.client_context(), server_hostname="localhost"
        )
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        return True
    writer.close()
    return False


async def test_connections_over_the_cap_are_refused(
    backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Over ``max_connections``: an HTTPS connection is closed at accept, before any TLS
    work; a plain-HTTP one gets a short 503."""
    document = base_document(*server_cert, backend_url, limits={"max_connections": 1})
    document["listeners"][1] = {"kind": "http", "address": "127.0.0.1", "port": 2}
    async with RunningProxy(config_from(document)) as proxy:
        _, holder = await asyncio.open_connection(
            "127.0.0.1", proxy.https_port, ssl=ca.client_context(), server_hostname="localhost"
        )
        try:
            tls_refused = await _refused_before_tls(proxy.https_port, ca)
            plain = await raw_exchange(proxy.http_port, b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        finally:
            holder.close()
        assert tls_refused
        assert status_of(plain) == 503
        await asyncio.sleep(0.05)  # the held connection's close reaches the proxy
        again = await raw_exchange(
            proxy.https_port,
            b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
            ca.client_context(),
        )
        assert status_of(again) == 200


async def test_slow_upload_is_not_a_backend_read_timeout(
    limited: RunningProxy, ca: LocalCA
) -> None:
    """The backend read time-out starts once the body is sent, not while it uploads."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", limited.https_port, ssl=ca.client_context(), server_hostname="localhost"
    )
    writer.write(b"POST /up HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
                 b"Connection: close\r\n\r\n")  # fmt: skip
    # Each gap well inside body_timeout, all of them longer than backend_read_timeout.
    for _ in range(5):
        await asyncio.sleep(SHORT / 3)
        writer.write(b"2\r\nab\r\n")
    writer.write(b"0\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert status_of(answer) == 200
    assert b'"body": "ababababab"' in answer


@pytest.mark.parametrize(
    "head",
    [
        b"POST /up HTTP/1.1\r\n" + H + b"Content-Length: 10\r\n\r\nab",
        b"POST /up HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
    ],
)
async def test_stalled_upload_gets_408_and_never_completes(
    head: bytes, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def up(request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except Exception as exc:
            outcome.set_result(type(exc).__name__)
            raise
        outcome.set_result(f"complete {body!r}")
        return web.Response(text="stored")

    async with proxied_backend(server_cert, [web.post("/up", up)], limits=LIMITS) as proxy:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", proxy.https_port, ssl=ca.client_context(), server_hostname="localhost"
        )
        writer.write(head)  # then silence
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        result = await asyncio.wait_for(outcome, 5)
    assert status_of(answer) == 408
    assert b"Strict-Transport-Security" in answer
    assert not result.startswith("complete"), result

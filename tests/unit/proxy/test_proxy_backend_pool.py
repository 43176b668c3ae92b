"""The lean path for bodiless GET and HEAD (``backend_pool``): what it must do like the
aiohttp session it bypasses. Each case: the backend's raw answer, the client's method,
and what the client must get."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from proxy_testkit import LocalCA, RunningProxy, base_document, config_from, raw_exchange, status_of
from test_proxy_exchanges import CLOSE, start_raw_backend

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

CASES = [
    # (name, backend's answer, method, status, body)
    ("plain", OK, b"GET", 200, b"ok"),
    # RFC 9110 15.2: a proxy forwards 1xx answers; the final one follows on the same stream.
    ("interim 103 is relayed", b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + OK,
     b"GET", 103, b"\r\n\r\nok"),
    ("HEAD keeps the length, sends no body", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
     b"HEAD", 200, b""),
    ("body until close", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-eof", b"GET", 200,
     b"until-eof"),
    ("chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
     b"GET", 200, b"ok"),
    ("truncated head", b"HTTP/1.1 200 OK\r\nContent-Le", b"GET", 502, None),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "method", "status", "body"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
async def test_lean_path_answers(
    answer: bytes,
    method: bytes,
    status: int,
    body: bytes | None,
    server_cert: tuple[Path, Path],
    ca: LocalCA,
) -> None:
    server, url = await start_raw_backend(answer)
    async with RunningProxy(config_from(base_document(*server_cert, url))) as proxy:
        reply = await raw_exchange(
            proxy.https_port, method + b" / HTTP/1.1\r\nHost: localhost\r\n" + CLOSE,
            ca.client_context(),
        )  # fmt: skip
    server.close()
    assert status_of(reply) == status
    head, _, got = reply.partition(b"\r\n\r\n")
    if body is not None:
        assert body in got if b"chunked" in head or status < 200 else got == body
    if method == b"HEAD":
        assert b"Content-Length: 5" in head


async def test_a_connection_the_backend_closed_while_idle_is_not_an_error(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    # The raw backend closes every connection after its answer, without saying so:
    # the pooled connection is dead when the next request takes it.
    server, url = await start_raw_backend(OK)
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\n" + CLOSE
    async with RunningProxy(config_from(base_document(*server_cert, url))) as proxy:
        replies = [
            await raw_exchange(proxy.https_port, request, ca.client_context()) for _ in range(5)
        ]
    server.close()
    assert [status_of(r) for r in replies] == [200] * 5


async def test_an_answer_arriving_on_an_idle_connection_is_never_relayed(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    async def answer_then_stray(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            writer.write(OK)
            await asyncio.sleep(0.05)  # the proxy has put the connection back by now
            writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")

    server = await asyncio.start_server(answer_then_stray, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\n" + CLOSE
    async with RunningProxy(config_from(base_document(*server_cert, url))) as proxy:
        first = await raw_exchange(proxy.https_port, request, ca.client_context())
        await asyncio.sleep(0.2)
        second = await raw_exchange(proxy.https_port, request, ca.client_context())
    server.close()
    assert [status_of(first), status_of(second)] == [200, 200]

"""Issue 14's faults, each as the attack that found it, against the proxy in process:
request smuggling through upgrades with bodies, path rules bypassed by other spellings
of the path, 204 answers with stray bytes, and resources one client could hold
(connections, a slow upload, a slow reader). The differential suite
(tests/differential) covers the same kinds case by case against nginx."""

from __future__ import annotations

import asyncio
import functools
import http.server
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from proxy_testkit import (
    LocalCA,
    RunningProxy,
    base_document,
    config_from,
    proxied_backend,
    raw_exchange,
    start_backend,
    status_of,
)

H = b"Host: localhost\r\n"
UPGRADE_WITH_BODY = (
    b"GET /x HTTP/1.1\r\n" + H + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Content-Length: 20\r\n\r\n" + b"P" * 20
)


async def _tls(port: int, ctx: ssl.SSLContext, source: str = "127.0.0.1") -> Any:
    return await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="localhost", local_addr=(source, 0)
    )


async def test_upgrades_with_bodies_leave_no_backend_connection_owing_bytes(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Issue 14 #1: ten upgrade handshakes with a body at once, then five logins in
    parallel: every login is answered promptly and with its own body."""
    async with proxied_backend(server_cert) as proxy:
        refusals = await asyncio.gather(
            *(
                raw_exchange(proxy.https_port, UPGRADE_WITH_BODY, ca.client_context())
                for _ in range(10)
            )
        )
        assert [status_of(r) for r in refusals] == [400] * 10

        async def login(client: aiohttp.ClientSession, n: int) -> tuple[int, Any]:
            url = f"https://localhost:{proxy.https_port}/login"
            form = {"user": f"admin{n}", "password": "x" * 30}
            async with client.post(url, data=form, ssl=ca.client_context()) as response:
                return response.status, await response.json()

        async with aiohttp.ClientSession() as client:
            answers = await asyncio.wait_for(
                asyncio.gather(*(login(client, n) for n in range(5))), 10
            )
    assert [status for status, _ in answers] == [200] * 5
    assert [echo["body"] for _, echo in answers] == [
        f"user=admin{n}&password={'x' * 30}" for n in range(5)
    ]


@pytest.fixture
def admin_site(tmp_path: Path) -> Iterator[str]:
    """Python's http.server on a folder with admin/index.html: it resolves dot segments
    and empty segments, as many backends do."""
    (tmp_path / "admin").mkdir()
    (tmp_path / "admin" / "index.html").write_text("THE ADMIN PAGE")
    (tmp_path / "x").mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# Every spelling of /admin/ a backend may resolve: none may reach it from 127.0.0.1.
ADMIN_SPELLINGS = [
    "/admin/",
    "/x/../admin/",
    "/x/%2e%2e/admin/",
    "/x/%2E%2E/admin/",
    "/x/.%2e/admin/",
    "//admin/",
    "/./admin/",
    "/%2e/admin/",
    "/%61dmin/",
    "/x/..%2Fadmin/",
    "/x\\..\\admin/",
    "/x/..;/admin/",
    "http://localhost/x/../admin/",
]


@pytest.mark.parametrize("target", ADMIN_SPELLINGS)
@pytest.mark.parametrize("rule", ["allow", "basic_auth", "client_cert_required"])
async def test_a_path_rule_holds_for_every_spelling_of_the_path(
    target: str,
    rule: str,
    admin_site: str,
    server_cert: tuple[Path, Path],
    ca: LocalCA,
    tmp_path: Path,
) -> None:
    """Issue 14 #2: the route protecting /admin is matched on the path the backend
    will serve, whatever form the client sent it in."""
    protection: dict[str, Any] = {
        "allow": {"allow": ["10.0.0.0/8"]},
        "basic_auth": {"basic_auth": {"htpasswd": str(_htpasswd(tmp_path))}},
        "client_cert_required": {"client_cert_required": True},
    }[rule]
    document = base_document(*server_cert, admin_site)
    document["routes"] = [
        {"path_prefix": "/admin", "backends": [admin_site], **protection},
        {"backends": [admin_site]},
    ]
    async with RunningProxy(config_from(document)) as proxy:
        raw = f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        answer = await raw_exchange(proxy.https_port, raw.encode(), ca.client_context())
        # The same site still serves what it may (the control).
        open_page = await raw_exchange(
            proxy.https_port,
            b"GET /x/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            ca.client_context(),
        )
    assert b"THE ADMIN PAGE" not in answer
    assert status_of(answer) in (400, 401, 403), answer[:200]
    assert status_of(open_page) == 200


def _htpasswd(folder: Path) -> Path:
    import bcrypt

    path = folder / "htpasswd"
    path.write_text("admin:" + bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode() + "\n")
    return path


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
async def test_a_204_with_stray_chunk_bytes_is_a_204_and_poisons_nothing(
    method: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Issue 14 #3: a 204 ends at its head (RFC 9112 6.3) whatever it says of a body;
    the bytes after it close that backend connection instead of answering the next
    request."""
    answers = iter(
        [b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"]
        + [b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"] * 3
    )

    async def sloppy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            if b"content-length: 2" in head.lower():
                await reader.readexactly(2)
            writer.write(next(answers))

    server = await asyncio.start_server(sloppy, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    body = b"Content-Length: 2\r\n\r\nhi" if method in ("POST", "PUT") else b"\r\n"
    async with RunningProxy(config_from(base_document(*server_cert, url))) as proxy:
        reader, writer = await _tls(proxy.https_port, ca.client_context())
        writer.write(method.encode() + b" /a HTTP/1.1\r\n" + H + body)
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(b"GET /b HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        rest = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    server.close()
    assert status_of(first) == 204
    assert status_of(rest) == 200 and rest.endswith(b"next")


async def test_one_address_cannot_take_every_connection(
    backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Issue 14 #4: a flood of connections from one address is refused past its share
    (HTTPS: closed at accept, before any TLS work; plain HTTP: a short 429), while
    another address is served."""
    limits = {"max_connections": 20, "max_connections_per_client": 5}
    document = base_document(*server_cert, backend_url, limits=limits)
    document["listeners"][1] = {"kind": "http", "address": "127.0.0.1", "port": 2}
    async with RunningProxy(config_from(document)) as proxy:
        held = [await _tls(proxy.https_port, ca.client_context()) for _ in range(5)]
        refused = 0
        for _ in range(3):  # over the share
            try:
                _, writer = await _tls(proxy.https_port, ca.client_context())
            except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
                refused += 1
            else:
                writer.close()
        plain = await raw_exchange(proxy.http_port, b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        other_reader, other_writer = await _tls(proxy.https_port, ca.client_context(), "127.0.0.2")
        other_writer.write(b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        other = await asyncio.wait_for(other_reader.read(), 5)
        for _, writer in [*held, (other_reader, other_writer)]:
            writer.close()
    assert refused == 3
    assert status_of(plain) == 429 and b"too many open connections" in plain
    assert status_of(other) == 200


async def test_half_open_handshakes_count_against_the_share(
    backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Attack finding 3: connections that never finish their TLS handshake (a
    ClientHello short of its last byte) are counted from accept, so one address cannot
    hold thousands of them; another address is still served."""
    limits = {"max_connections": 50, "max_connections_per_client": 5}
    document = base_document(*server_cert, backend_url, limits=limits)
    async with RunningProxy(config_from(document)) as proxy:
        hanging = []
        for _ in range(20):
            _, writer = await asyncio.open_connection("127.0.0.1", proxy.https_port)
            writer.write(b"\x16\x03\x01\x00\xc8\x01")  # a record that never completes
            hanging.append(writer)
        await asyncio.sleep(0.2)
        assert proxy.proxy.gate.held_by("127.0.0.1") == 5  # the rest were closed at accept
        other_reader, other_writer = await _tls(proxy.https_port, ca.client_context(), "127.0.0.2")
        other_writer.write(b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        other = await asyncio.wait_for(other_reader.read(), 5)
        for writer in [*hanging, other_writer]:
            writer.close()
    assert status_of(other) == 200


async def test_a_slow_upload_is_cut_at_the_minimum_rate(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Issue 14 #4: one byte at a time, each well inside body_timeout, still ends in
    408 once the average falls under body_min_rate; the backend never gets it whole."""
    completed: list[bytes] = []

    async def store(request: web.Request) -> web.Response:
        completed.append(await request.read())
        return web.Response(text="stored")

    limits = {"body_timeout": 0.3, "body_min_rate": 1000}
    async with proxied_backend(server_cert, [web.post("/up", store)], limits=limits) as proxy:
        reader, writer = await _tls(proxy.https_port, ca.client_context())
        writer.write(b"POST /up HTTP/1.1\r\n" + H + b"Content-Length: 100000\r\n\r\n")
        answered = asyncio.ensure_future(reader.read())
        for _ in range(100):  # bounded: 408 comes after about 0.3 s of 10 bytes/s
            if answered.done():
                break
            writer.write(b"x")
            await asyncio.sleep(0.1)
        answer = await asyncio.wait_for(answered, 5)
        writer.close()
    assert status_of(answer) == 408
    assert completed == []


@pytest.fixture
async def big_backend() -> AsyncIterator[str]:
    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 64 * 1024 * 1024
        await response.prepare(request)
        chunk = b"z" * (1024 * 1024)
        for _ in range(64):
            await response.write(chunk)
        return response

    app = web.Application()
    app.router.add_get("/big", big)
    runner, url = await start_backend(app)
    yield url
    await runner.cleanup()


async def test_a_reader_that_stops_reading_is_cut_at_send_timeout(
    big_backend: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Issue 14 #4: a client that takes no byte of an answer for send_timeout loses the
    connection, and the connection (and its backend's) are given back."""
    document = base_document(*server_cert, big_backend, limits={"send_timeout": 0.3})
    async with RunningProxy(config_from(document)) as proxy:
        reader, writer = await _tls(proxy.https_port, ca.client_context())
        writer.write(b"GET /big HTTP/1.1\r\n" + H + b"\r\n")
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        for _ in range(50):  # bounded: the cut comes after 0.3 s without reading
            await asyncio.sleep(0.1)
            if proxy.proxy.gate.open == 0:
                break
        received = 0
        try:
            while chunk := await asyncio.wait_for(reader.read(1 << 20), 5):
                received += len(chunk)
        except (ConnectionError, ssl.SSLError):
            pass
        writer.close()
        assert proxy.proxy.gate.open == 0
    assert received < 64 * 1024 * 1024  # cut, not completed


async def test_plain_http_on_the_https_port_gets_a_readable_400(
    backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Issue 14 #6: as nginx does, the client learns what went wrong (instead of a
    connection closed without a word), and TLS clients are still served."""
    async with RunningProxy(config_from(base_document(*server_cert, backend_url))) as proxy:
        answer = await raw_exchange(
            proxy.https_port, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", ctx=None
        )
        served = await raw_exchange(
            proxy.https_port,
            b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            ca.client_context(),
        )
    assert status_of(answer) == 400
    assert b"speaks HTTPS only" in answer and b"https://" in answer
    assert status_of(served) == 200


async def test_a_client_that_half_closes_after_its_request_gets_the_answer_then_eof(
    backend_url: str,
) -> None:
    """RFC 9112 9.6: a client may shut down its sending side after a request; it still
    gets the answer, and the proxy then closes (no idle connection left behind)."""
    document = {
        "listeners": [{"kind": "http", "address": "127.0.0.1", "port": 1}],
        "routes": [{"backends": [backend_url]}],
    }
    async with RunningProxy(config_from(document)) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.proxy.ports[0])
        writer.write(b"GET /half HTTP/1.1\r\n" + H + b"\r\n")
        writer.write_eof()
        answer = await asyncio.wait_for(reader.read(), 5)  # EOF ends it: no idle wait
        writer.close()
    assert status_of(answer) == 200 and b'"/half"' in answer


async def test_a_pipelining_client_that_never_reads_is_held_back_then_cut(
    backend_url: str,
) -> None:
    """Attack findings 1 and 2: requests sent behind each other by a client that reads
    none of the answers must not pile up answers in the proxy: once its write buffer is
    full the proxy stops reading, and after ``send_timeout`` it cuts the connection
    (also when it was already closing), so the client's connection place comes back."""
    document = {
        "listeners": [{"kind": "http", "address": "127.0.0.1", "port": 1}],
        "routes": [{"backends": [backend_url]}],
        "limits": {"send_timeout": 0.3},
    }
    request = b"GET /healthz HTTP/1.1\r\n" + H + b"X-Pad: " + b"p" * 4000 + b"\r\n\r\n"
    async with RunningProxy(config_from(document)) as proxy:
        sock = socket.create_connection(("127.0.0.1", proxy.proxy.ports[0]))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        sent = 0
        cut = False
        for _ in range(200):  # bounded: about 20 s at most
            try:
                sent += sock.send(request * 16)
            except BlockingIOError:
                await asyncio.sleep(0.1)  # the proxy stopped reading: we wait, unread
            except OSError:
                cut = True
                break
            else:
                await asyncio.sleep(0)
            if proxy.proxy.gate.open == 0:
                cut = True
                break
        sock.close()
    assert cut, f"sent {sent} bytes and the proxy kept the connection"
    assert sent < 200 * len(request) * 16  # it stopped taking requests long before

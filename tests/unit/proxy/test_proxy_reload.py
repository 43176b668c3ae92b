"""Live changes: SIGHUP-style reloads and renewed certificate files, without dropping
in-flight requests or open WebSockets, and without giving up a working setup for a
broken one."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from proxy_testkit import (
    LocalCA,
    RunningProxy,
    backend_app,
    base_document,
    config_from,
    issue,
    start_backend,
)
from tlsproxy.server import handle_signals

FAST_WATCH = {"certificate_check_interval": 0.05}


async def served_serial(port: int, ctx: ssl.SSLContext) -> int:
    """The serial number of the certificate a new connection is given."""
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="localhost"
    )
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der).serial_number
    finally:
        writer.close()


def serial_of(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


async def wait_for_serial(port: int, ctx: ssl.SSLContext, wanted: int) -> int:
    seen = 0
    for _ in range(100):
        seen = await served_serial(port, ctx)
        if seen == wanted:
            break
        await asyncio.sleep(0.05)
    return seen


def events(stderr: str, name: str) -> list[dict[str, str]]:
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [r for r in records if r["event"] == name]


def renewed(ca: LocalCA, tmp_path: Path, what: tuple[str, ...]) -> tuple[Path, Path]:
    """Issue a new pair beside, then move ``what`` ("cert", "key") over the live files."""
    folder = tmp_path / "renewed"
    folder.mkdir(exist_ok=True)
    new_cert, new_key = issue(ca, folder, "server", ["localhost"])
    if "cert" in what:
        os.replace(new_cert, tmp_path / "server.pem")
    if "key" in what:
        os.replace(new_key, tmp_path / "server-key.pem")
    return tmp_path / "server.pem", tmp_path / "server-key.pem"


@pytest.fixture
async def cert_proxy(
    server_cert: tuple[Path, Path], backend_url: str
) -> AsyncIterator[RunningProxy]:
    document = base_document(*server_cert, backend_url, tls=FAST_WATCH)
    async with RunningProxy(config_from(document)) as proxy:
        yield proxy


async def test_renewed_certificate_is_served_to_new_connections(
    cert_proxy: RunningProxy, ca: LocalCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = ca.client_context()
    first = await served_serial(cert_proxy.https_port, ctx)
    assert first == serial_of(tmp_path / "server.pem")
    # An idle keep-alive connection from before is closed, not left to the old setup.
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", cert_proxy.https_port, ssl=ctx, server_hostname="localhost"
    )
    cert, _ = renewed(ca, tmp_path, ("cert", "key"))
    assert await wait_for_serial(cert_proxy.https_port, ctx, serial_of(cert)) == serial_of(cert)
    assert await asyncio.wait_for(reader.read(-1), 5) == b""
    writer.close()
    assert [e["outcome"] for e in events(capsys.readouterr().err, "certificates")] == ["applied"]


async def test_a_connection_made_just_before_a_reload_still_gets_its_answer(
    cert_proxy: RunningProxy, ca: LocalCA
) -> None:
    """A client that connected (handshake done) as the reload happened sends its first
    request after it: that request is answered, then the connection closes. (Closing
    new connections at once made one request in a renewal test fail.)"""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", cert_proxy.https_port, ssl=ca.client_context(), server_hostname="localhost"
    )
    running = cert_proxy.proxy
    await running.reload(running.config)
    writer.write(b"GET /late HTTP/1.1\r\nHost: localhost\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(-1), 5)  # answered, then closed
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in answer


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: d.write_bytes(b""), id="empty certificate file"),
        pytest.param(lambda d: d.write_bytes(d.read_bytes()[:300]), id="half-written"),
        pytest.param(lambda d: d.write_bytes(b"not a certificate\n"), id="garbage"),
    ],
)
async def test_broken_certificate_file_keeps_the_old_one_serving(
    damage: object,
    cert_proxy: RunningProxy,
    ca: LocalCA,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ctx = ca.client_context()
    old = serial_of(tmp_path / "server.pem")
    damage(tmp_path / "server.pem")  # type: ignore[operator]
    for _ in range(100):
        rejected = events(capsys.readouterr().err, "certificates")
        if rejected:
            break
        await asyncio.sleep(0.05)
    assert [e["outcome"] for e in rejected] == ["rejected"]
    assert "server.pem" in rejected[0]["error"]
    assert await served_serial(cert_proxy.https_port, ctx) == old


async def test_mismatched_pair_is_rejected_until_the_key_follows(
    cert_proxy: RunningProxy, ca: LocalCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = ca.client_context()
    old = serial_of(tmp_path / "server.pem")
    folder = tmp_path / "renewed"
    folder.mkdir()
    new_cert, new_key = issue(ca, folder, "server", ["localhost"])
    os.replace(new_cert, tmp_path / "server.pem")  # the key is not there yet
    for _ in range(100):
        if events(capsys.readouterr().err, "certificates"):
            break
        await asyncio.sleep(0.05)
    assert await served_serial(cert_proxy.https_port, ctx) == old
    os.replace(new_key, tmp_path / "server-key.pem")
    new = serial_of(tmp_path / "server.pem")
    assert await wait_for_serial(cert_proxy.https_port, ctx, new) == new


# -- configuration reloads ------------------------------------------------------------


def toml_file(path: Path, ports: list[int], cert: tuple[Path, Path], backend: str) -> Path:
    path.write_text(
        f"""
[[listeners]]
kind = "https"
address = "127.0.0.1"
port = {ports[0]}
certificates = [{{ cert = "{cert[0]}", key = "{cert[1]}" }}]

[[listeners]]
kind = "redirect"
address = "127.0.0.1"
port = {ports[1]}

[[routes]]
backends = ["{backend}"]
"""
    )
    return path


def named(name: str, release: asyncio.Event) -> web.Application:
    """A backend that answers its name; /slow waits for ``release``; /ws echoes."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=name)

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text=f"{name} after the reload")

    async def ws_echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(f"{name}: {message.data}")
        return ws

    return backend_app([web.get("/slow", slow), web.get("/ws", ws_echo)], answer)


@dataclass
class TwoBackends:
    proxy: RunningProxy  # running, routed to backend "one"
    two_url: str
    release: asyncio.Event


@pytest.fixture
async def on_one(server_cert: tuple[Path, Path]) -> AsyncIterator[TwoBackends]:
    release = asyncio.Event()
    one, one_url = await start_backend(named("one", release))
    two, two_url = await start_backend(named("two", release))
    async with RunningProxy(config_from(base_document(*server_cert, one_url))) as proxy:
        yield TwoBackends(proxy, two_url, release)
        release.set()
    await one.cleanup()
    await two.cleanup()


async def test_reload_keeps_in_flight_request_and_websocket_on_the_old_setup(
    on_one: TwoBackends,
    server_cert: tuple[Path, Path],
    ca: LocalCA,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy, two_url, release = on_one.proxy, on_one.two_url, on_one.release
    base = f"https://localhost:{proxy.https_port}"
    ctx = ca.client_context()
    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(f"wss://localhost:{proxy.https_port}/ws", ssl=ctx) as ws,
    ):
        in_flight = asyncio.ensure_future(client.get(f"{base}/slow", ssl=ctx))
        await asyncio.sleep(0.2)  # the request has reached backend one
        path = toml_file(tmp_path / "proxy.toml", proxy.proxy.ports, server_cert, two_url)
        assert await proxy.proxy.reload_from(str(path))
        async with aiohttp.ClientSession() as fresh:
            async with fresh.get(f"{base}/", ssl=ctx) as response:
                assert await response.text() == "two"
        release.set()
        async with await in_flight as response:
            assert response.status == 200
            assert await response.text() == "one after the reload"
        await ws.send_str("still there")
        assert await ws.receive_str(timeout=5) == "one: still there"
    reloads = events(capsys.readouterr().err, "reload")
    assert [(e["outcome"], e["reason"]) for e in reloads] == [("applied", "SIGHUP")]


INVALID_RELOADS = [
    pytest.param("[[listeners]\n", "not valid TOML", id="syntax error"),
    pytest.param(
        '[[listeners]]\nkind = "ftp"\nport = 1\n[[routes]]\nbackends = ["http://x"]\n',
        "listeners[0].kind",
        id="invalid value",
    ),
    pytest.param(None, "restart the proxy", id="listener port changed"),
    pytest.param("missing-cert", "does not exist", id="certificate missing"),
]


@pytest.mark.parametrize(("content", "message"), INVALID_RELOADS)
async def test_invalid_reload_is_rejected_and_the_old_setup_keeps_serving(
    content: str | None,
    message: str,
    on_one: TwoBackends,
    server_cert: tuple[Path, Path],
    ca: LocalCA,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy, two_url = on_one.proxy, on_one.two_url
    ports = proxy.proxy.ports
    path = tmp_path / "proxy.toml"
    if content is None:
        toml_file(path, [ports[0], ports[1] + 1], server_cert, two_url)
    elif content == "missing-cert":
        toml_file(path, ports, (tmp_path / "gone.pem", server_cert[1]), two_url)
    else:
        path.write_text(content)
    assert not await proxy.proxy.reload_from(str(path))
    async with aiohttp.ClientSession() as client:
        url = f"https://localhost:{proxy.https_port}/"
        async with client.get(url, ssl=ca.client_context()) as response:
            assert await response.text() == "one"
    (rejected,) = events(capsys.readouterr().err, "reload")
    assert rejected["outcome"] == "rejected"
    assert message in rejected["error"]


async def test_signals_reload_on_sighup_and_stop_on_sigterm(
    on_one: TwoBackends,
    server_cert: tuple[Path, Path],
    ca: LocalCA,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy = on_one.proxy
    path = toml_file(tmp_path / "proxy.toml", proxy.proxy.ports, server_cert, on_one.two_url)
    loop = asyncio.get_running_loop()
    stop = handle_signals(proxy.proxy, str(path))
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            if events(capsys.readouterr().err, "reload"):
                break
            await asyncio.sleep(0.02)
        async with aiohttp.ClientSession() as client:
            url = f"https://localhost:{proxy.https_port}/"
            async with client.get(url, ssl=ca.client_context()) as response:
                assert await response.text() == "two"
        assert not stop.is_set()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 5)
    finally:
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def test_new_limits_get_a_new_backend_pool_and_the_old_one_is_closed(
    on_one: TwoBackends, ca: LocalCA
) -> None:
    running = on_one.proxy.proxy
    old_pool = running.pool
    limits = dataclasses.replace(running.config.limits, backend_read_timeout=30)
    await running.reload(dataclasses.replace(running.config, limits=limits))
    assert running.pool is not None and running.pool is not old_pool
    for _ in range(50):  # the old generation drains (it has no connections), then closes
        if old_pool is not None and old_pool.closed:
            break
        await asyncio.sleep(0.05)
    assert old_pool is not None and old_pool.closed
    async with aiohttp.ClientSession() as client:
        url = f"https://localhost:{on_one.proxy.https_port}/"
        async with client.get(url, ssl=ca.client_context()) as response:
            assert await response.text() == "one"

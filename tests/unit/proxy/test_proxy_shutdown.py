"""Graceful shutdown: in-flight requests finish within the grace period, then exit."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from aiohttp import web
from proxy_testkit import (
    LocalCA,
    RunningProxy,
    backend_app,
    base_document,
    config_from,
    start_backend,
)

SERVICES = Path(__file__).parents[3] / "services" / "proxy"


class SlowBackend:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = asyncio.Event()
        self.release = asyncio.Event()  # lets a test end a long answer early

    async def handle(self, request: web.Request) -> web.Response:
        self.started.set()
        try:
            await asyncio.wait_for(self.release.wait(), self.seconds)
        except TimeoutError:
            pass
        return web.Response(text="finished")


async def _get(port: int, ca: LocalCA, path: str = "/slow") -> tuple[int, str]:
    async with aiohttp.ClientSession() as client:
        async with client.get(f"https://localhost:{port}{path}", ssl=ca.client_context()) as r:
            return r.status, await r.text()


async def test_stop_drains_in_flight_request(server_cert: tuple[Path, Path], ca: LocalCA) -> None:
    slow = SlowBackend(0.5)
    runner, url = await start_backend(backend_app([web.get("/slow", slow.handle)]))
    running = RunningProxy(config_from(base_document(*server_cert, url)))
    await running.__aenter__()
    port = running.https_port
    request = asyncio.create_task(_get(port, ca))
    await asyncio.wait_for(slow.started.wait(), 5)
    await asyncio.wait_for(running.proxy.stop(grace=5), 10)
    assert await request == (200, "finished")
    try:
        await _get(port, ca, "/healthz")
    except aiohttp.ClientConnectionError:
        pass  # no longer listening
    else:
        raise AssertionError("a stopped proxy must not accept new requests")
    await runner.cleanup()


async def test_grace_period_bounds_the_wait(server_cert: tuple[Path, Path], ca: LocalCA) -> None:
    slow = SlowBackend(30)
    runner, url = await start_backend(backend_app([web.get("/slow", slow.handle)]))
    running = RunningProxy(config_from(base_document(*server_cert, url)))
    await running.__aenter__()
    request = asyncio.create_task(_get(running.https_port, ca))
    await asyncio.wait_for(slow.started.wait(), 5)
    await asyncio.wait_for(running.proxy.stop(grace=0.2), 10)  # returns, does not wait 30 s
    try:
        status, _ = await asyncio.wait_for(request, 5)
    except aiohttp.ClientError:
        pass  # the unfinished request was cut
    else:
        assert status != 200
    slow.release.set()
    await runner.cleanup()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_sigterm_drains_then_exits_zero(
    server_cert: tuple[Path, Path], ca: LocalCA, tmp_path: Path
) -> None:
    slow = SlowBackend(0.5)
    runner, url = await start_backend(backend_app([web.get("/slow", slow.handle)]))
    port = _free_port()
    cert, key = server_cert
    config = tmp_path / "proxy.toml"
    config.write_text(
        f"""
[server]
shutdown_grace = 5
access_log = "json"
[[listeners]]
kind = "https"
address = "127.0.0.1"
port = {port}
certificates = [{{ cert = "{cert}", key = "{key}" }}]
[[routes]]
backends = ["{url}"]
"""
    )
    env = {**os.environ, "PYTHONPATH": str(SERVICES), "TLSPROXY_CONFIG": str(config)}
    env.pop("PYTHONUNBUFFERED", None)  # as in the image: the proxy must flush by itself
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tlsproxy", "serve",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(100):  # wait until it listens
            health = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tlsproxy", "healthcheck", env=env,
                stdout=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            if await health.wait() == 0:
                break
            await asyncio.sleep(0.1)
        assert process.stdout is not None
        # The health check's access-log line arrives while the proxy runs (no buffering).
        first_line = await asyncio.wait_for(process.stdout.readline(), 5)
        assert b'"path":"/healthz"' in first_line
        request = asyncio.create_task(_get(port, ca))
        await asyncio.wait_for(slow.started.wait(), 5)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(request, 10) == (200, "finished")
        out, err = await asyncio.wait_for(process.communicate(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await runner.cleanup()
    assert process.returncode == 0, err.decode()
    assert b'"path":"/slow"' in out and b'"status":200' in out  # access log on stdout
    assert b"draining" in err and b"stopped" in err  # status messages on stderr

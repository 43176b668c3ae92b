"""``server.workers``: several processes on the same ports with SO_REUSEPORT.

In-process: two proxies bound with ``reuse_port`` share a port and both answer.
As a command: ``serve`` with ``workers = 2`` forks two workers that answer, reload
on SIGHUP, and drain and exit 0 on SIGTERM; a dead worker stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from proxy_testkit import LocalCA, backend_app, base_document, config_from, start_backend
from tlsproxy.config import ConfigError, parse_config
from tlsproxy.server import Proxy
from tlsproxy.workers import bind_reuse_port

SERVICES = Path(__file__).parents[3] / "services" / "proxy"


async def _get(port: int, ca: LocalCA, path: str = "/x") -> int:
    async with aiohttp.ClientSession() as client:
        async with client.get(f"https://localhost:{port}{path}", ssl=ca.client_context()) as r:
            await r.read()
            return r.status


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(p) for p in found]


def test_workers_default_to_one_and_parse(server_cert: tuple[Path, Path]) -> None:
    document = base_document(*server_cert, "http://x:1")
    assert parse_config(document, "t.toml", {}).server.workers == 1
    document["server"] = {"workers": 4}
    assert parse_config(document, "t.toml", {}).server.workers == 4


@pytest.mark.parametrize(
    ("sections", "fragment"),
    [
        ({"server": {"workers": 0}}, "server.workers: must be an integer 1-64"),
        ({"server": {"workers": 65}}, "server.workers: must be an integer 1-64"),
        ({"server": {"workers": "two"}}, "server.workers: must be an integer"),
        ({"server": {"workers": 2}, "metrics": {"enabled": True}}, "must be 1 while [metrics]"),
    ],
)
def test_invalid_workers(
    server_cert: tuple[Path, Path], sections: dict[str, object], fragment: str
) -> None:
    document = base_document(*server_cert, "http://x:1", **sections)
    with pytest.raises(ConfigError) as raised:
        parse_config(document, "t.toml", {})
    assert fragment in str(raised.value)


async def test_proxies_with_reuse_port_share_a_port(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    runner, url = await start_backend(backend_app())
    holders = [bind_reuse_port("127.0.0.1", 0) for _ in range(2)]
    ports = [int(s.getsockname()[1]) for s in holders]
    config = config_from(base_document(*server_cert, url, server={"workers": 2}))
    listeners = tuple(
        dataclasses.replace(lst, port=port)
        for lst, port in zip(config.listeners, ports, strict=True)
    )
    config = dataclasses.replace(config, listeners=listeners)
    first, second = Proxy(config, reuse_port=True), Proxy(config, reuse_port=True)
    try:
        await first.start()
        await second.start()  # without SO_REUSEPORT this bind fails (address in use)
        assert first.ports == second.ports == ports
        assert [await _get(ports[0], ca) for _ in range(4)] == [200] * 4
        await first.stop(1)
        assert await _get(ports[0], ca) == 200  # the other one still answers
    finally:
        await first.stop(0)
        await second.stop(0)
        for sock in holders:
            sock.close()
        await runner.cleanup()


def _config_text(server_cert: tuple[Path, Path], url: str, port: int) -> str:
    cert, key = server_cert
    certificates = f'[{{ cert = "{cert}", key = "{key}" }}]'
    listener = (
        f'{{ kind = "https", address = "127.0.0.1", port = {port}, certificates = {certificates} }}'
    )
    return (
        'server = { workers = 2, access_log = "json" }\n'
        f"listeners = [{listener}]\n"
        f'routes = [{{ backends = ["{url}"] }}]\n'
    )


@contextlib.asynccontextmanager
async def _serving(
    server_cert: tuple[Path, Path], ca: LocalCA, tmp_path: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """``python -m tlsproxy serve`` with two workers, answering; killed if still alive."""
    runner, url = await start_backend(backend_app())
    holder = bind_reuse_port("127.0.0.1", 0)
    port = int(holder.getsockname()[1])
    holder.close()
    config = tmp_path / "proxy.toml"
    config.write_text(_config_text(server_cert, url, port))
    env = {**os.environ, "PYTHONPATH": str(SERVICES), "TLSPROXY_CONFIG": str(config)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tlsproxy", "serve",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(100):
            with contextlib.suppress(aiohttp.ClientError):
                await _get(port, ca, "/healthz")
                break
            await asyncio.sleep(0.1)
        yield process, port
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await runner.cleanup()


async def test_serve_with_two_workers_answers_reloads_and_stops(
    server_cert: tuple[Path, Path], ca: LocalCA, tmp_path: Path
) -> None:
    async with _serving(server_cert, ca, tmp_path) as (process, port):
        assert len(_children(process.pid)) == 2
        assert [await _get(port, ca) for _ in range(6)] == [200] * 6
        process.send_signal(signal.SIGHUP)  # forwarded: each worker reloads
        await asyncio.sleep(0.5)
        assert await _get(port, ca) == 200
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, err.decode()
    assert err.count(b'"outcome": "applied"') == 2  # both workers reloaded
    assert err.count(b"tlsproxy: stopped") == 2
    assert out.count(b'"path":"/x"') == 7  # every request logged once, by its worker


async def test_a_dead_worker_stops_the_others(
    server_cert: tuple[Path, Path], ca: LocalCA, tmp_path: Path
) -> None:
    async with _serving(server_cert, ca, tmp_path) as (process, _):
        os.kill(_children(process.pid)[0], signal.SIGKILL)
        _, err = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 1
    assert b"stopping the others" in err

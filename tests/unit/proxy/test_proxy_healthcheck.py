"""``healthcheck`` (the container HEALTHCHECK) against a running proxy and a dead port."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import subprocess
import sys
from pathlib import Path

import tlsproxy
from proxy_testkit import RunningProxy, base_document, config_from
from tlsproxy.healthcheck import check_health


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_healthcheck_passes_on_running_proxy(server_cert: tuple[Path, Path]) -> None:
    config = config_from(base_document(*server_cert, "http://127.0.0.1:9"))
    async with RunningProxy(config) as proxy:
        healthy, seen = await asyncio.to_thread(check_health, config, proxy.https_port)
    assert healthy, seen
    assert "HTTP 200" in seen


async def test_healthcheck_uses_the_redirect_listener_too(server_cert: tuple[Path, Path]) -> None:
    config = config_from(base_document(*server_cert, "http://127.0.0.1:9"))
    flipped = dataclasses.replace(config, listeners=config.listeners[::-1])
    async with RunningProxy(flipped) as proxy:
        healthy, _ = await asyncio.to_thread(check_health, flipped, proxy.https_port)
    assert healthy


def test_healthcheck_fails_when_nothing_listens(server_cert: tuple[Path, Path]) -> None:
    config = config_from(base_document(*server_cert, "http://127.0.0.1:9"))
    healthy, seen = check_health(config, _free_port())
    assert not healthy
    assert "refused" in seen.lower()


HEAVY = ("aiohttp", "cryptography", "uvloop", "tlsproxy.server", "tlsproxy.tls")


def test_the_healthcheck_command_stays_light(tmp_path: Path) -> None:
    """Docker runs it every 5 s for the life of the container: only config and http.client."""
    probe = (
        "import sys\n"
        "from tlsproxy import cli\n"
        "code = cli.main(['healthcheck', '--config', sys.argv[1]])\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    config = Path(tlsproxy.__file__).parents[1] / "proxy.toml"
    env = {**os.environ, "PYTHONPATH": str(Path(tlsproxy.__file__).parents[1])}
    result = subprocess.run(
        [sys.executable, "-c", probe, str(config)], env=env, capture_output=True, text=True
    )
    loaded = result.stdout.split()
    assert "tlsproxy.healthcheck" in loaded, result  # the probe ran the command
    assert [name for name in loaded if name.startswith(HEAVY)] == []

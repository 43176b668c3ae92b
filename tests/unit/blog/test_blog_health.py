"""GET /healthz and `blogctl healthcheck` against a real listening server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import blog
import pytest
from aiohttp.test_utils import TestClient
from blog import ctl, health, keys
from blog.config import Settings


async def test_healthz_ok(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json()) == {"status": "ok"}


async def test_healthz_503_when_database_is_gone(client: TestClient) -> None:
    client.server.app[keys.DB].close()
    response = await client.get("/healthz")
    assert response.status == 503


async def test_healthcheck_command_against_live_server(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLOG_BIND", "0.0.0.0")
    monkeypatch.setenv("BLOG_PORT", str(client.port))
    assert await asyncio.to_thread(ctl.main, ["healthcheck"]) == 0


async def test_healthcheck_command_fails_when_nothing_listens(
    unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLOG_PORT", str(unused_tcp_port))
    assert await asyncio.to_thread(ctl.main, ["healthcheck", "--timeout", "1"]) == 1


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:4334/healthz"),
        ("127.0.0.1", "http://127.0.0.1:4334/healthz"),
        ("::", "http://[::1]:4334/healthz"),
        ("10.1.2.3", "http://10.1.2.3:4334/healthz"),
    ],
)
def test_healthcheck_url(bind: str, url: str) -> None:
    assert health.healthcheck_url(Settings(bind=bind)) == url


HEAVY = ("aiohttp", "argon2", "sqlite3", "blog.db", "blog.users")
PROBE = "import sys, blog.health; print(' '.join(sorted(sys.modules)))"


def test_the_health_check_stays_light() -> None:
    """It runs every 5 s for the life of the container: no aiohttp, no database."""
    env = {**os.environ, "PYTHONPATH": str(Path(blog.__file__).parents[1])}
    loaded = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "blog.health" in loaded  # the probe imported what the container runs
    assert [name for name in loaded if name.startswith(HEAVY)] == []


async def test_the_health_module_runs_as_a_command(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLOG_PORT", str(client.port))
    assert await asyncio.to_thread(health.main) == 0

"""GET /healthz and `blogctl healthcheck` against a real listening server."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient
from blog import ctl, keys
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
    assert ctl.healthcheck_url(Settings(bind=bind)) == url

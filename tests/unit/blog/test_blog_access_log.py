"""The access log names the client the trusted proxy reported, and the proxy beside it."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from blog.accesslog import ClientAccessLogger
from blog.forwarded import TrustedProxies, forwarded_middleware


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="hello")


# The test client connects from 127.0.0.1.
CASES = [
    # (trusted proxies, headers, the line logged)
    ((), {}, '127.0.0.1 "GET /feed?x=1 HTTP/1.1" 200 '),
    ((), {"X-Forwarded-For": "203.0.113.1"}, '127.0.0.1 "GET /feed?x=1 HTTP/1.1" 200 '),
    (
        ("127.0.0.1",),
        {"X-Forwarded-For": "203.0.113.1"},
        '203.0.113.1 "GET /feed?x=1 HTTP/1.1" 200 ',
    ),
]


@pytest.mark.parametrize(("trusted", "headers", "start"), CASES)
async def test_the_line_names_the_client(
    aiohttp_client, caplog: pytest.LogCaptureFixture, trusted, headers, start: str
) -> None:
    app = web.Application(middlewares=[forwarded_middleware(TrustedProxies(trusted))])
    app.router.add_get("/feed", ok)
    server = TestServer(app)
    await server.start_server(access_log_class=ClientAccessLogger)  # as python -m blog serve
    client = await aiohttp_client(server)
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        response = await client.get("/feed?x=1", headers=headers)
        assert response.status == 200
        await response.read()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert line.startswith(start), line
    assert line.endswith(" via 127.0.0.1") == bool(trusted), line


async def test_a_one_time_links_token_is_never_logged(
    aiohttp_client, caplog: pytest.LogCaptureFixture
) -> None:
    """New-user finding: a password link read from `docker compose logs blog` still
    worked. Any route's {token} is logged as [redacted]."""
    app = web.Application(middlewares=[forwarded_middleware(TrustedProxies(()))])
    app.router.add_get("/password-link/{token}", ok)
    server = TestServer(app)
    await server.start_server(access_log_class=ClientAccessLogger)
    client = await aiohttp_client(server)
    secret = "D9y3DCZ53NaSecretTokenm2I4"
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        response = await client.get(f"/password-link/{secret}?from=mail")
        await response.read()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert '"GET /password-link/[redacted]?from=mail HTTP/1.1" 200' in line
    assert secret not in line

"""Forwarding through the HTTPS listener: one table row per request and expectation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from proxy_testkit import LocalCA, RunningProxy, echoed_headers, proxied_backend


@dataclass
class Case:
    name: str
    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    status: int = 200
    # headers the backend must (value) or must not (None) have received
    backend_sees: dict[str, str | None] = field(default_factory=dict)
    # headers the client must (value, or "" for any) or must not (None) receive
    client_sees: dict[str, str | None] = field(default_factory=dict)
    body_contains: str = ""
    echoed: dict[str, Any] = field(default_factory=dict)


# What the backend sees when the proxy's own hop is the whole story.
OWN_HOP: dict[str, str | None] = {
    "x-forwarded-for": "127.0.0.1",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "localhost:{port}",
    "x-forwarded-port": "{port}",
    "forwarded": 'for=127.0.0.1;proto=https;host="localhost:{port}"',
}

CASES = [
    Case(
        "plain GET keeps Host and path with query",
        path="/a/b?x=1&y=%20",
        echoed={"method": "GET", "path": "/a/b?x=1&y=%20"},
        backend_sees={"host": "localhost:{port}"},
        client_sees={"Strict-Transport-Security": "max-age=31536000"},
    ),
    Case(
        "X-Forwarded-* and Forwarded set by the proxy",
        backend_sees=OWN_HOP,
    ),
    Case(
        "client forwarding headers are replaced, not trusted",
        headers={
            "X-Forwarded-For": "6.6.6.6",
            "X-Forwarded-Proto": "http",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Port": "1",
            "Forwarded": "for=6.6.6.6",
        },
        backend_sees=OWN_HOP,
    ),
    Case(
        "hop-by-hop headers and those named by Connection are removed",
        headers={
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "1",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Proxy-Authorization": "Basic eDp5",
            "X-End-To-End": "kept",
        },
        backend_sees={
            "x-secret-hop": None,
            "keep-alive": None,
            "te": None,
            "proxy-authorization": None,
            "x-end-to-end": "kept",
        },
    ),
    Case(
        "POST body with Content-Length is forwarded",
        method="POST",
        body=b"hello world",
        echoed={"body_length": 11, "body": "hello world"},
        backend_sees={"content-length": "11"},
    ),
    Case("the proxy answers /healthz itself", path="/healthz", body_contains="ok"),
    Case(
        "backend errors pass through unchanged",
        path="/status/418",
        status=418,
        body_contains="teapot body",
    ),
    Case(
        "backend hop-by-hop response headers are dropped",
        path="/hop",
        client_sees={"X-Backend-Hop": None, "X-Kept": "yes"},
    ),
    Case(
        "Location pointing at the backend is rewritten to the public origin",
        path="/redirect",
        status=302,
        client_sees={"Location": "https://localhost:{port}/landed?q=1"},
    ),
    Case(
        "Location elsewhere is left alone",
        path="/redirect-away",
        status=302,
        client_sees={"Location": "https://other.example/x"},
    ),
    Case(
        "Set-Cookie Domain naming the backend is dropped, others kept",
        path="/cookie",
        client_sees={"Set-Cookie": "sid=1; Path=/; HttpOnly"},
    ),
]


def backend_routes() -> list[aiohttp.web.RouteDef]:
    from aiohttp import web

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="teapot body")

    async def hop(request: web.Request) -> web.Response:
        return web.Response(
            text="x", headers={"Connection": "X-Backend-Hop", "X-Backend-Hop": "1", "X-Kept": "yes"}
        )

    async def redirect(request: web.Request) -> web.Response:
        # The backend's own address, as an app that ignores the Host header would use it.
        _, backend_port = request.transport.get_extra_info("sockname")[:2]
        origin = f"http://127.0.0.1:{backend_port}"
        return web.Response(status=302, headers={"Location": f"{origin}/landed?q=1"})

    async def redirect_away(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "https://other.example/x"})

    async def cookie(request: web.Request) -> web.Response:
        return web.Response(
            text="c", headers={"Set-Cookie": "sid=1; Domain=127.0.0.1; Path=/; HttpOnly"}
        )

    return [
        web.get("/status/{code}", status),
        web.get("/hop", hop),
        web.get("/redirect", redirect),
        web.get("/redirect-away", redirect_away),
        web.get("/cookie", cookie),
    ]


@pytest.fixture
async def proxy(server_cert: tuple[Path, Path]):
    async with proxied_backend(server_cert, backend_routes()) as running:
        yield running


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_forwarding(case: Case, proxy: RunningProxy, ca: LocalCA) -> None:
    port = proxy.https_port
    async with aiohttp.ClientSession(skip_auto_headers=("User-Agent",)) as client:
        async with client.request(
            case.method,
            f"https://localhost:{port}{case.path}",
            headers=case.headers,
            data=case.body,
            ssl=ca.client_context(),
            allow_redirects=False,
        ) as response:
            body = await response.read()
            assert response.status == case.status, body
            for name, expected in case.client_sees.items():
                if expected is None:
                    assert name not in response.headers
                else:
                    assert response.headers.get(name) == expected.format(port=port)
    text = body.decode()
    assert case.body_contains in text
    if case.echoed or case.backend_sees:
        import json

        payload = json.loads(text)
        for key, value in case.echoed.items():
            assert payload[key] == value
        seen = echoed_headers(payload)
        for name, expected in case.backend_sees.items():
            if expected is None:
                assert name not in seen
            else:
                assert seen.get(name) == [expected.format(port=port)]

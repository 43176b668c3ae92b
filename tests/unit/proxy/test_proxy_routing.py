"""Routes: first match wins on host (exact or wildcard), path prefix or regex, method."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from proxy_testkit import LocalCA, RunningProxy, base_document, config_from
from tlsproxy.config import parse_config
from tlsproxy.routing import Router

ROUTES = [
    {"hosts": ["api.example.org"], "methods": ["POST"], "backends": ["http://api-post:1"]},
    {"hosts": ["api.example.org"], "backends": ["http://api:1"]},
    {"hosts": ["*.example.org"], "path_prefix": "/static/", "backends": ["http://static:1"]},
    {"path_regex": "^/v[0-9]+/", "backends": ["http://versioned:1"]},
    {"hosts": ["blog.example.org"], "backends": ["http://blog:1"]},
]
# (host, path, method, expected backend host or None for 404)
MATCHES = [
    ("api.example.org", "/x", "POST", "api-post"),
    ("api.example.org", "/x", "GET", "api"),
    ("cdn.example.org", "/static/a.css", "GET", "static"),
    ("a.b.example.org", "/static/a.css", "GET", "static"),
    ("example.org", "/static/a.css", "GET", None),
    ("other.net", "/v2/items", "GET", "versioned"),
    ("other.net", "/version", "GET", None),
    ("blog.example.org", "/", "GET", "blog"),
    ("blog.example.org", "/static/x", "GET", "static"),
]


@pytest.mark.parametrize(("host", "path", "method", "expected"), MATCHES)
def test_first_matching_route_wins(host: str, path: str, method: str, expected: str | None) -> None:
    document = {"listeners": [{"kind": "http", "port": 80}], "routes": ROUTES}
    router = Router(parse_config(document, "t.toml", {}).routes)
    route = router.match(host, path, method)
    assert (route.backends[0].host if route else None) == expected


async def test_unrouted_request_gets_404_from_the_proxy(
    backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    document = base_document(*server_cert, backend_url)
    document["routes"] = [{"hosts": ["blog.example.org"], "backends": [backend_url]}]
    async with RunningProxy(config_from(document)) as proxy, aiohttp.ClientSession() as client:
        url = f"https://localhost:{proxy.https_port}/x"
        async with client.get(url, ssl=ca.client_context()) as response:
            assert response.status == 404
            assert "No route" in await response.text()
        async with client.get(
            url, headers={"Host": "blog.example.org"}, ssl=ca.client_context()
        ) as response:
            assert response.status == 200
            assert json.loads(await response.text())["path"] == "/x"

"""The HTTP listener that redirects to HTTPS, and the plain HTTP listener."""

from __future__ import annotations

from pathlib import Path

import pytest
from proxy_testkit import RunningProxy, base_document, config_from, raw_exchange, status_of

# (public HTTPS port, request target, Host header, expected Location or status)
REDIRECTS = [
    (443, "/", "blog.example.org", "https://blog.example.org/"),
    (443, "/a/b?x=1&y=2", "blog.example.org", "https://blog.example.org/a/b?x=1&y=2"),
    (443, "/p", "blog.example.org:8080", "https://blog.example.org/p"),
    (8443, "/p?q", "blog.example.org:80", "https://blog.example.org:8443/p?q"),
    (443, "/", "[::1]:80", "https://[::1]/"),
    (443, "/x", "192.168.1.20", "https://192.168.1.20/x"),
    # IPv6 literals stay bracketed, with the public HTTPS port after the bracket (issue 16)
    (8443, "/p?q", "[::1]:8080", "https://[::1]:8443/p?q"),
    (8443, "/", "[::1]", "https://[::1]:8443/"),
    (443, "/", "[2001:DB8::20]:80", "https://[2001:db8::20]/"),
    (443, "/", "[fd00::20]", "https://[fd00::20]/"),
    (443, "/", "[::ffff:192.168.1.20]", "https://[::ffff:192.168.1.20]/"),
]


@pytest.mark.parametrize(("public_port", "target", "host", "location"), REDIRECTS)
async def test_redirect_listener_sends_308_to_https(
    public_port: int, target: str, host: str, location: str, server_cert: tuple[Path, Path]
) -> None:
    document = base_document(*server_cert, "http://127.0.0.1:9")
    document["listeners"][1]["redirect_port"] = "${HTTPS_PORT:-443}"
    config = config_from(document, environ={"HTTPS_PORT": str(public_port)})
    async with RunningProxy(config) as proxy:
        raw = await raw_exchange(
            proxy.http_port,
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode(),
        )
    assert status_of(raw) == 308
    assert f"\r\nLocation: {location}\r\n".encode() in raw
    assert b"Strict-Transport-Security" not in raw  # HSTS only over HTTPS


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b'GET / HTTP/1.1\r\nHost: evil"><x\r\nConnection: close\r\n\r\n', 400),
        (b"GET / HTTP/1.1\r\nHost: a:b\r\nConnection: close\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a@b.example\r\nConnection: close\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: []\r\nConnection: close\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: [::1]junk\r\nConnection: close\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: [::1]:8a\r\nConnection: close\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: [:::::]\r\nConnection: close\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\nConnection: close\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: [::1\r\nConnection: close\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: ::1\r\nConnection: close\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200),
    ],
)
async def test_redirect_listener_edge_cases(
    request_bytes: bytes, status: int, server_cert: tuple[Path, Path]
) -> None:
    config = config_from(base_document(*server_cert, "http://127.0.0.1:9"))
    async with RunningProxy(config) as proxy:
        raw = await raw_exchange(proxy.http_port, request_bytes)
    assert status_of(raw) == status


async def test_plain_http_listener_forwards_without_hsts(
    backend_url: str, server_cert: tuple[Path, Path]
) -> None:
    document = base_document(*server_cert, backend_url)
    document["listeners"][1] = {"kind": "http", "address": "127.0.0.1", "port": 2}
    async with RunningProxy(config_from(document)) as proxy:
        raw = await raw_exchange(
            proxy.http_port, b"GET /plain HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        )
    assert status_of(raw) == 200
    assert b'"path": "/plain"' in raw
    assert b'["X-Forwarded-Proto", "http"]' in raw
    assert b"Strict-Transport-Security" not in raw

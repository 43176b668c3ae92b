"""Header trust rules: forwarding headers from untrusted peers are replaced, from
trusted proxies extended with our hop; routing and Set-Cookie/Location helpers."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import aiohttp
import pytest
from proxy_testkit import LocalCA, RunningProxy, base_document, config_from, echoed_headers
from tlsproxy.config import Backend
from tlsproxy.fields import Fields
from tlsproxy.forwarded import TrustPolicy, add_forwarding_fields
from tlsproxy.rewrite import BackendRewriter

INCOMING = {
    "X-Forwarded-For": "203.0.113.7, 10.0.0.2",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Host": "public.example",
    "X-Forwarded-Port": "8080",
    "Forwarded": "for=203.0.113.7;proto=http",
}

# (peer, trusted networks, incoming headers, expected outgoing headers)
TRUST_CASES = [
    (
        "10.0.0.3",
        [],
        INCOMING,
        {
            "X-Forwarded-For": "10.0.0.3",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "blog.example.org",
            "X-Forwarded-Port": "443",
            "Forwarded": "for=10.0.0.3;proto=https;host=blog.example.org",
        },
    ),
    (
        "10.0.0.3",
        ["10.0.0.0/8"],
        INCOMING,
        {
            "X-Forwarded-For": "203.0.113.7, 10.0.0.2, 10.0.0.3",
            "X-Forwarded-Proto": "http",
            "X-Forwarded-Host": "public.example",
            "X-Forwarded-Port": "8080",
            "Forwarded": "for=203.0.113.7;proto=http, "
                         "for=10.0.0.3;proto=https;host=blog.example.org",
        },
    ),
    (
        "192.168.1.9",
        ["10.0.0.0/8"],
        INCOMING,
        {
            "X-Forwarded-For": "192.168.1.9",
            "X-Forwarded-Proto": "https",
            "Forwarded": "for=192.168.1.9;proto=https;host=blog.example.org",
        },
    ),
    (
        "10.0.0.3",
        ["10.0.0.3/32"],
        {},
        {"X-Forwarded-For": "10.0.0.3", "X-Forwarded-Proto": "https"},
    ),
    (
        "2001:db8::5",
        [],
        {},
        {"X-Forwarded-For": "2001:db8::5",
         "Forwarded": 'for="[2001:db8::5]";proto=https;host=blog.example.org'},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("peer", "networks", "incoming", "expected"), TRUST_CASES)
def test_forwarding_headers_trust_rules(
    peer: str, networks: list[str], incoming: dict[str, str], expected: dict[str, str]
) -> None:
    policy = TrustPolicy([ipaddress.ip_network(n) for n in networks])
    out = Fields()
    add_forwarding_fields(
        out,
        Fields.of(incoming.items()),
        peer=peer,
        proto="https",
        host="blog.example.org",
        port=443,
        trusted=policy.trusts(peer),
    )
    for name, value in expected.items():
        assert out.get_all(name.lower()) == [value]


async def test_trusted_proxy_chain_reaches_the_backend(
    backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    document = base_document(*server_cert, backend_url, server={"trusted_proxies": ["127.0.0.1"]})
    async with RunningProxy(config_from(document)) as proxy, aiohttp.ClientSession() as client:
        port = proxy.https_port
        async with client.get(
            f"https://localhost:{port}/",
            headers={"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"},
            ssl=ca.client_context(),
        ) as response:
            seen = echoed_headers(json.loads(await response.text()))
    assert seen["x-forwarded-for"] == ["198.51.100.1, 127.0.0.1"]
    assert seen["forwarded"] == [f'for=127.0.0.1;proto=https;host="localhost:{port}"']


BACKEND = Backend("http://blog:4334", "http", "blog", 4334)
LOCATIONS = [
    ("http://blog:4334/login?next=/", "https://example.org/login?next=/"),
    ("http://BLOG:4334", "https://example.org/"),
    ("http://blog:4334?x", "https://example.org?x"),
    ("http://blog:43345/x", "http://blog:43345/x"),
    ("http://blog/x", "http://blog/x"),
    ("/relative", "/relative"),
    ("https://elsewhere.example/x", "https://elsewhere.example/x"),
]


@pytest.mark.parametrize(("location", "expected"), LOCATIONS)
def test_location_rewrite(location: str, expected: str) -> None:
    assert BackendRewriter(BACKEND).location(location, "https://example.org") == expected


COOKIES = [
    ("a=1; Domain=blog; Path=/", "a=1; Path=/"),
    ("a=1; domain=.Blog; Secure", "a=1; Secure"),
    ("a=1; Domain=example.org", "a=1; Domain=example.org"),
    ("a=1; Path=/", "a=1; Path=/"),
]


@pytest.mark.parametrize(("cookie", "expected"), COOKIES)
def test_set_cookie_domain_rewrite(cookie: str, expected: str) -> None:
    assert BackendRewriter(BACKEND).set_cookie(cookie) == expected

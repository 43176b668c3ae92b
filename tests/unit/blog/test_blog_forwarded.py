"""Client address from trusted proxies only, read right to left; host names resolved late."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from blog import forwarded
from blog.forwarded import CLIENT, TrustedProxies, forwarded_middleware, parse_ip


async def echo_client(request: web.Request) -> web.Response:
    info = request[CLIENT]
    return web.json_response(
        {
            "ip": str(info.ip),
            "scheme": request.scheme,
            "host": request.host,
            "local": info.direct_local,
        }
    )


async def app_client(aiohttp_client, proxies: TrustedProxies) -> TestClient:
    app = web.Application(middlewares=[forwarded_middleware(proxies)])
    app.router.add_get("/", echo_client)
    return await aiohttp_client(app)


# The test client connects from 127.0.0.1.
# fmt: off
CASES = [
    # (trusted entries, headers, expected client ip)
    ((), {}, "127.0.0.1"),
    ((), {"X-Forwarded-For": "203.0.113.1"}, "127.0.0.1"),  # untrusted peer: header ignored
    (("127.0.0.1",), {"X-Forwarded-For": "203.0.113.1"}, "203.0.113.1"),
    (("127.0.0.0/8",), {"X-Forwarded-For": "198.51.100.9, 203.0.113.1"}, "203.0.113.1"),
    (
        ("127.0.0.1", "10.0.0.0/8"),
        {"X-Forwarded-For": "198.51.100.9, 203.0.113.1, 10.1.1.1"},
        "203.0.113.1",
    ),
    (("127.0.0.1",), {"X-Forwarded-For": "1.1.1.1, not-an-ip"}, "127.0.0.1"),
    (("127.0.0.1",), {"X-Forwarded-For": "[2001:db8::1]:443"}, "2001:db8::1"),
    (("127.0.0.1",), {}, "127.0.0.1"),
    (("localhost",), {"X-Forwarded-For": "203.0.113.5"}, "203.0.113.5"),  # name, resolved now
]
# fmt: on


@pytest.mark.parametrize(("trusted", "headers", "expected"), CASES)
async def test_client_address(aiohttp_client, trusted, headers, expected: str) -> None:
    client = await app_client(aiohttp_client, TrustedProxies(trusted))
    body = await (await client.get("/", headers=headers)).json()
    assert body["ip"] == expected


async def test_forwarded_proto_and_host_only_from_trusted_peer(aiohttp_client) -> None:
    headers = {
        "X-Forwarded-For": "203.0.113.1",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "blog.example",
    }
    trusted = await app_client(aiohttp_client, TrustedProxies(["127.0.0.1"]))
    body = await (await trusted.get("/", headers=headers)).json()
    assert (body["scheme"], body["host"], body["local"]) == ("https", "blog.example", False)
    untrusted = await app_client(aiohttp_client, TrustedProxies([]))
    body = await (await untrusted.get("/", headers=headers)).json()
    assert body["scheme"] == "http" and body["host"] != "blog.example"


async def test_bad_forwarded_host_is_ignored(aiohttp_client) -> None:
    client = await app_client(aiohttp_client, TrustedProxies(["127.0.0.1"]))
    body = await (await client.get("/", headers={"X-Forwarded-Host": "evil/<x>"})).json()
    assert body["host"].startswith("127.0.0.1")


async def test_proxy_name_that_resolves_only_later() -> None:
    """The kit starts the proxy after the blog: the name must be retried, not cached forever."""
    answers: list[list[str] | OSError] = [OSError("no such host"), ["172.20.0.5"]]

    async def resolver(name: str) -> list[str]:
        answer = answers.pop(0)
        if isinstance(answer, OSError):
            raise answer
        return answer

    proxies = TrustedProxies(["proxy"], resolver=resolver)
    address = ipaddress.ip_address("172.20.0.5")
    assert not await proxies.contains(address)
    proxies._cache.clear()  # the short failure TTL has passed
    assert await proxies.contains(address)
    assert await proxies.contains(address)  # served from cache: no third lookup
    assert answers == []


async def test_slow_resolver_is_cut_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """Docker's DNS stalls ~10 s on unknown names in an internal network: bounded here."""
    monkeypatch.setattr(forwarded, "RESOLVE_TIMEOUT", 0.05)

    async def stalled(name: str) -> list[str]:
        await asyncio.sleep(30)
        return ["172.20.0.5"]

    proxies = TrustedProxies(["proxy"], resolver=stalled)
    async with asyncio.timeout(5):
        assert not await proxies.contains(ipaddress.ip_address("172.20.0.5"))


async def test_no_lookup_without_forwarding_headers(aiohttp_client) -> None:
    """Health checks and direct requests carry no X-Forwarded-*: nothing to resolve."""
    lookups: list[str] = []

    async def resolver(name: str) -> list[str]:
        lookups.append(name)
        return ["127.0.0.1"]

    client = await app_client(aiohttp_client, TrustedProxies(["proxy"], resolver=resolver))
    assert (await client.get("/")).status == 200
    assert lookups == []
    await client.get("/", headers={"X-Forwarded-For": "198.51.100.7"})
    assert lookups == ["proxy"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", "10.0.0.1"),
        ("10.0.0.1:80", "10.0.0.1"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("[::1]:8080", "::1"),
        ("garbage", None),
        ("", None),
    ],
)
def test_parse_ip(text: str, expected: str | None) -> None:
    parsed = parse_ip(text)
    assert (str(parsed) if parsed else None) == expected

"""Client address from trusted proxies only, read right to left; host names resolved late."""

from __future__ import annotations

import asyncio
import ipaddress
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request
from blog import forwarded
from blog.forwarded import CLIENT, TrustedProxies, client_info, forwarded_middleware, parse_ip


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


async def test_a_recreated_proxy_is_looked_up_again_on_a_miss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The proxy container came back with a new address: no 30 s of refusals."""
    monkeypatch.setattr(forwarded, "REFRESH_ON_MISS", 0.0)
    answers = [["172.20.0.5"], ["172.20.0.9"]]

    async def resolver(name: str) -> list[str]:
        return answers.pop(0)

    proxies = TrustedProxies(["proxy"], resolver=resolver)
    assert await proxies.contains(ipaddress.ip_address("172.20.0.5"))
    assert await proxies.contains(ipaddress.ip_address("172.20.0.9"))


def request_from(peer: str, headers: dict[str, str] | None = None) -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (
        (peer, 40000) if key == "peername" else default
    )
    return make_mocked_request("GET", "/", headers=headers or {}, transport=transport)


@pytest.mark.parametrize(
    ("peer", "headers", "answered"),
    [
        ("172.20.0.5", {"X-Forwarded-For": "203.0.113.9"}, True),  # the proxy
        ("172.20.0.5", {}, True),  # the proxy's own health probe
        ("127.0.0.1", {}, True),  # the container's health check
        ("172.20.0.1", {}, False),  # the host, on the bridge's gateway address
        ("172.20.0.1", {"X-Forwarded-For": "203.0.113.9"}, False),  # ... claiming a client
        ("10.1.2.3", {}, False),
    ],
)
async def test_with_trusted_proxies_only_they_and_loopback_are_answered(
    peer: str, headers: dict[str, str], answered: bool
) -> None:
    async def resolver(name: str) -> list[str]:
        return ["172.20.0.5"]

    proxies = TrustedProxies(["proxy"], resolver=resolver)
    request = request_from(peer, headers)
    if answered:
        assert (await client_info(request, proxies)).ip is not None
    else:
        with pytest.raises(web.HTTPForbidden) as refused:
            await client_info(request, proxies)
        assert "only through its reverse proxy" in (refused.value.text or "")


async def test_without_trusted_proxies_every_peer_is_answered() -> None:
    assert (await client_info(request_from("10.1.2.3"), TrustedProxies([]))).ip is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", "10.0.0.1"),
        ("10.0.0.1:80", "10.0.0.1"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("[::1]:8080", "::1"),
        ("garbage", None),
        ("", None),
        # A zone index's free text would reach the access log (attack round 2).
        ("fe80::1%x client=9.9.9.9 user=admin", None),
        ("[fe80::1%eth0]:80", None),
    ],
)
def test_parse_ip(text: str, expected: str | None) -> None:
    parsed = parse_ip(text)
    assert (str(parsed) if parsed else None) == expected

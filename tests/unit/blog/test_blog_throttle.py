"""Login throttling per address and per account, without a long owner lockout."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from blog import keys
from blog.throttle import ACCOUNT_MAX_DELAY, ADDRESS_LIMIT, ADDRESS_PENALTY, LoginThrottle
from blog_testkit import PASSWORD, add_user, csrf_from


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_address_is_blocked_after_limit() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for n in range(ADDRESS_LIMIT):
        assert throttle.retry_after("198.51.100.1", f"user{n}") == 0
        throttle.failure("198.51.100.1", f"user{n}")
    assert throttle.retry_after("198.51.100.1", "anyone") > ADDRESS_PENALTY - 1
    assert throttle.retry_after("198.51.100.2", "anyone") == 0  # other addresses unaffected
    clock.now += ADDRESS_PENALTY + 1
    assert throttle.retry_after("198.51.100.1", "anyone") == 0


def test_account_delay_grows_but_stays_capped() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    delays = []
    for n in range(40):  # a botnet: every guess from a new address
        throttle.failure(f"203.0.113.{n}", "Owner")
        delays.append(throttle.retry_after("192.0.2.1", "owner"))
        clock.now += delays[-1]
    assert delays[:5] == [0, 0, 0, 0, 0]
    assert delays[5] == 1 and delays[6] == 2 and delays[7] == 4
    assert max(delays) == ACCOUNT_MAX_DELAY  # the owner waits a minute at most


def test_success_clears_counters() -> None:
    throttle = LoginThrottle(Clock())
    for _ in range(8):
        throttle.failure("192.0.2.1", "owner")
    throttle.success("192.0.2.1", "owner")
    assert throttle.retry_after("192.0.2.1", "owner") == 0


async def attempt(client: TestClient, name: str, password: str, address: str):
    token = await csrf_from(client, "/login")
    return await client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token},
        headers={"X-Forwarded-For": address},
        allow_redirects=False,
    )


@pytest.fixture
async def proxied(make_client) -> TestClient:
    client = await make_client(trusted_proxies=("127.0.0.1",))
    add_user(client, "alice")
    return client


async def test_http_address_throttle_uses_forwarded_client(proxied: TestClient) -> None:
    for n in range(ADDRESS_LIMIT):
        assert (await attempt(proxied, f"guess{n}", "wrong pass", "198.51.100.1")).status == 401
    blocked = await attempt(proxied, "alice", PASSWORD, "198.51.100.1")
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 60
    # The owner, from her own address, is not locked out by the attacker's address.
    assert (await attempt(proxied, "alice", PASSWORD, "192.0.2.10")).status == 303


async def test_http_account_throttle_is_short(proxied: TestClient) -> None:
    for n in range(6):
        await attempt(proxied, "alice", "wrong pass", f"203.0.113.{n}")
    throttled = await attempt(proxied, "alice", PASSWORD, "192.0.2.10")
    assert throttled.status == 429
    assert 0 < int(throttled.headers["Retry-After"]) <= ACCOUNT_MAX_DELAY + 1
    # After the short delay the right password works (move the clock, do not sleep).
    throttle = proxied.server.app[keys.THROTTLE]
    throttle._accounts["alice"].blocked_until = 0
    assert (await attempt(proxied, "alice", PASSWORD, "192.0.2.10")).status == 303


def test_failures_without_an_account_count_only_for_the_address() -> None:
    """Wrong setup links: no shared account record a crowd of guessers could slow."""
    throttle = LoginThrottle(Clock())
    for n in range(ADDRESS_LIMIT * 2):
        throttle.failure(f"203.0.113.{n}", None)
    assert throttle.retry_after("192.0.2.1", None) == 0
    assert throttle._accounts == {}
    for _ in range(ADDRESS_LIMIT):
        throttle.failure("198.51.100.1", None)
    assert throttle.retry_after("198.51.100.1", None) > ADDRESS_PENALTY - 1
    throttle.success("198.51.100.1", None)
    assert throttle.retry_after("198.51.100.1", None) == 0

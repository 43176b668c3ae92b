"""Login throttling: budgets that hold under concurrency, reset only what a success proves,
key IPv6 by /64, and never lock the owner out of a browser she logged in from before."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from blog import devices, keys
from blog.throttle import (
    ACCOUNT_LIMIT,
    ADDRESS_LIMIT,
    DEVICE_LIMIT,
    MAX_TRACKED,
    PAIR_LIMIT,
    WINDOW,
    LoginThrottle,
    address_key,
)
from blog_testkit import PASSWORD, add_user, csrf_from


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def fail(throttle: LoginThrottle, address: str, account: str | None, times: int = 1) -> None:
    for _ in range(times):
        assert throttle.begin(ip(address), account).admitted


def test_a_burst_is_charged_before_any_password_is_checked() -> None:
    """200 attempts begun before any finishes: only the pair budget's worth get checked."""
    throttle = LoginThrottle(Clock())
    burst = [throttle.begin(ip("198.51.100.1"), "owner") for _ in range(200)]
    assert sum(a.admitted for a in burst) == PAIR_LIMIT
    assert all(a.retry_after > WINDOW - 1 for a in burst[PAIR_LIMIT:])


@pytest.mark.parametrize(
    ("kind", "limit", "spread"),
    [
        ("pair", PAIR_LIMIT, lambda n: ("198.51.100.1", "owner")),
        ("account", ACCOUNT_LIMIT, lambda n: (f"203.0.113.{n}", "owner")),
        ("address", ADDRESS_LIMIT, lambda n: ("198.51.100.1", f"user{n}")),
    ],
)
def test_each_budget_admits_its_limit_then_waits_for_the_window(kind, limit, spread) -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for n in range(limit):
        fail(throttle, *spread(n))
    refused = throttle.begin(ip(spread(limit)[0]), spread(limit)[1])
    assert not refused.admitted, kind
    clock.now += refused.retry_after
    assert throttle.begin(ip(spread(limit)[0]), spread(limit)[1]).admitted


def test_one_address_cannot_use_up_an_account_for_other_addresses() -> None:
    throttle = LoginThrottle(Clock())
    fail(throttle, "198.51.100.1", "owner", PAIR_LIMIT)
    assert not throttle.begin(ip("198.51.100.1"), "owner").admitted
    assert throttle.begin(ip("192.0.2.10"), "owner").admitted


def test_a_success_resets_only_that_account() -> None:
    """Logging in to one's own account gives no new guesses against anyone else's."""
    throttle = LoginThrottle(Clock())
    fail(throttle, "198.51.100.1", "victim", PAIR_LIMIT)
    for n in range(ADDRESS_LIMIT - PAIR_LIMIT - 1):
        fail(throttle, "198.51.100.1", f"other{n}")
    own = throttle.begin(ip("198.51.100.1"), "attacker")
    throttle.succeeded(own)
    assert not throttle.begin(ip("198.51.100.1"), "victim").admitted  # pair still used up
    fail(throttle, "198.51.100.1", "someone")  # the success gave back only its own charge
    assert not throttle.begin(ip("198.51.100.1"), "another").admitted  # address budget spent


def test_a_success_resets_the_account_for_every_address() -> None:
    throttle = LoginThrottle(Clock())
    fail(throttle, "198.51.100.1", "Owner", PAIR_LIMIT)
    throttle.succeeded(throttle.begin(ip("192.0.2.10"), "owner"))
    assert throttle.begin(ip("198.51.100.1"), "OWNER").admitted


@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", True),
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
        ("198.51.100.1", "198.51.100.2", False),
        ("::ffff:198.51.100.1", "198.51.100.1", False),  # forwarded.parse_ip unmaps these
    ],
)
def test_ipv6_clients_are_keyed_by_their_64(first: str, second: str, shared: bool) -> None:
    assert (address_key(ip(first)) == address_key(ip(second))) is shared
    throttle = LoginThrottle(Clock())
    fail(throttle, first, "owner", PAIR_LIMIT)
    assert throttle.begin(ip(second), "owner").admitted is not shared


def test_a_known_browser_has_its_own_budget() -> None:
    """Everyone at the owner's (shared) address used up every budget; her browser still gets in."""
    throttle = LoginThrottle(Clock())
    for n in range(ACCOUNT_LIMIT):
        fail(throttle, f"203.0.113.{n}", "owner")
    for n in range(ADDRESS_LIMIT):
        fail(throttle, "192.0.2.10", f"user{n}")
    assert not throttle.begin(ip("192.0.2.10"), "owner").admitted
    for _ in range(DEVICE_LIMIT):
        assert throttle.begin(ip("192.0.2.10"), "owner", "browser-1").admitted
    assert not throttle.begin(ip("192.0.2.10"), "owner", "browser-1").admitted  # a stolen cookie
    assert throttle.begin(ip("192.0.2.10"), "owner", "browser-2").admitted


def test_setup_link_tries_count_only_for_the_address() -> None:
    """Wrong setup links: no shared account budget a crowd of guessers could use up."""
    throttle = LoginThrottle(Clock())
    for n in range(ADDRESS_LIMIT * 2):
        fail(throttle, f"203.0.113.{n}", None)
    fail(throttle, "198.51.100.1", None, ADDRESS_LIMIT)
    assert not throttle.begin(ip("198.51.100.1"), None).admitted
    assert throttle.begin(ip("192.0.2.1"), None).admitted


def test_tables_stay_bounded_and_forget_the_oldest() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for n in range(MAX_TRACKED + 5):
        clock.now += 0.01
        throttle.begin(ipaddress.IPv4Address(n + 1), f"name{n}")
    assert all(len(table) <= MAX_TRACKED for table in throttle._tables.values())


def test_a_flood_of_names_cannot_reset_an_account_under_attack(monkeypatch) -> None:
    """Attack finding 07: 10,000 made-up names (cheap: an empty password runs no hash)
    used to push the real account's budget out of the full table, admitting 10 more
    guesses each time. The budgets of existing accounts are never forgotten."""
    import blog.throttle as throttle_module

    clock = Clock()
    throttle = LoginThrottle(clock, is_account=lambda name: name == "alice")
    for n in range(ACCOUNT_LIMIT):  # each guess from another /64: only the account budget
        assert throttle.begin(ip(f"2001:db8:0:{n:x}::1"), "alice").admitted
    assert not throttle.begin(ip("2001:db8:1::1"), "alice").admitted
    prunes = []
    real_prune = throttle_module._prune
    monkeypatch.setattr(throttle_module, "_prune", lambda *a: (prunes.append(1), real_prune(*a))[1])
    for n in range(2 * MAX_TRACKED):
        clock.now += 0.001
        throttle.begin(ip(f"2001:db8:2:{n // ADDRESS_LIMIT:x}::1"), f"nobody{n}")
    assert not throttle.begin(ip("2001:db8:3::1"), "Alice").admitted
    # Pruning forgets a batch at a time: a flood does not sort the table at every name.
    assert 0 < len(prunes) <= 2 * MAX_TRACKED // (MAX_TRACKED // 8) + 1
    assert all(len(table) <= MAX_TRACKED for table in throttle._tables.values())


def test_a_name_that_is_no_account_is_throttled_like_one() -> None:
    """The answers must not tell which names exist: both get ACCOUNT_LIMIT guesses."""
    for exists in (True, False):
        throttle = LoginThrottle(Clock(), is_account=lambda name, exists=exists: exists)
        admitted = [
            throttle.begin(ip(f"198.51.100.{n}"), "someone").admitted
            for n in range(ACCOUNT_LIMIT + 1)
        ]
        assert admitted == [True] * ACCOUNT_LIMIT + [False]


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        (lambda v: v, True),
        (lambda v: v[:-1] + ("0" if v[-1] != "0" else "1"), False),  # MAC altered
        (lambda v: "mallory" + v[v.index(":") :], False),  # another account's name
        (lambda v: "", False),
        (lambda v: "a:b:c:d:e", False),
    ],
)
def test_known_browser_cookie_is_signed_and_bound_to_its_account(change, valid) -> None:
    key = b"k" * 32
    value = change(devices.issue(key, "Owner", 1000))
    assert (devices.verify(key, value, "owner", 1001) is not None) is valid
    assert devices.verify(b"x" * 32, value, "owner", 1001) is None  # another blog's key


def test_known_browser_cookie_expires() -> None:
    value = devices.issue(b"k" * 32, "owner", 1000)
    assert devices.verify(b"k" * 32, value, "owner", 1000 + devices.LIFETIME + 1) is None


# --- through the HTTP application ---------------------------------------------------------


async def attempt(
    client: TestClient, name: str, password: str, address: str, token: str | None = None
) -> ClientResponse:
    token = token or await csrf_from(client, "/login")
    return await client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token},
        # As the kit's proxy sends them: over plain HTTP no password is checked at all.
        headers={"X-Forwarded-For": address, "X-Forwarded-Proto": "https"},
        allow_redirects=False,
    )


@pytest.fixture
async def proxied(make_client) -> TestClient:
    client = await make_client(trusted_proxies=("127.0.0.1",))
    add_user(client, "alice")
    return client


async def test_concurrent_wrong_guesses_then_the_right_one(proxied: TestClient) -> None:
    """The issue's burst: 60 simultaneous wrong guesses, then the password, one address."""
    token = await csrf_from(proxied, "/login")
    burst = [attempt(proxied, "alice", f"wrong {n}", "198.51.100.1", token) for n in range(60)]
    statuses = [r.status for r in await asyncio.gather(*burst)]
    assert statuses.count(401) == PAIR_LIMIT, statuses
    assert statuses.count(429) == 60 - PAIR_LIMIT, statuses
    assert (await attempt(proxied, "alice", PASSWORD, "198.51.100.1", token)).status == 429


async def test_retry_after_says_when_to_come_back(proxied: TestClient) -> None:
    for n in range(PAIR_LIMIT):
        assert (await attempt(proxied, "alice", f"wrong {n}", "198.51.100.1")).status == 401
    refused = await attempt(proxied, "alice", PASSWORD, "198.51.100.1")
    assert refused.status == 429
    assert WINDOW - 5 <= int(refused.headers["Retry-After"]) <= WINDOW + 1
    assert "Try again in" in await refused.text()
    # Elsewhere the owner is not held out by that address's guesses.
    assert (await attempt(proxied, "alice", PASSWORD, "192.0.2.10")).status == 303


async def test_the_owner_is_never_locked_out_of_a_known_browser(make_client) -> None:
    owner = await make_client(trusted_proxies=("127.0.0.1",))
    add_user(owner, "alice")
    assert (await attempt(owner, "alice", PASSWORD, "192.0.2.10")).status == 303
    assert any(c.key == devices.COOKIE_NAME for c in owner.session.cookie_jar)
    # A botnet uses up the account's budget; a neighbour behind her NAT the address's.
    throttle = owner.server.app[keys.THROTTLE]
    for n in range(ACCOUNT_LIMIT):
        throttle.begin(ip(f"203.0.113.{n}"), "alice")
    for n in range(ADDRESS_LIMIT):
        throttle.begin(ip("192.0.2.10"), f"user{n}")
    assert (await attempt(owner, "alice", PASSWORD, "192.0.2.10")).status == 303  # her browser
    owner.session.cookie_jar.clear(lambda c: c.key == devices.COOKIE_NAME)
    assert (await attempt(owner, "alice", PASSWORD, "192.0.2.10")).status == 429  # unknown


async def test_wrong_current_password_on_the_password_page_is_throttled(
    admin_client: TestClient,
) -> None:
    """Every password check goes through the throttle, not only the login form."""
    statuses = []
    for _ in range(DEVICE_LIMIT + 1):
        token = await csrf_from(admin_client, "/dashboard/password")
        form = {"current_password": "wrong one", "new_password": "x" * 12}
        form |= {"confirm_password": "x" * 12, "csrf_token": token}
        response = await admin_client.post("/dashboard/password", data=form)
        statuses.append(response.status)
    assert statuses == [400] * DEVICE_LIMIT + [429], statuses

"""Several backends per route: weighted spread, priority failover and recovery,
passive and active health, failover of requests that never reached a backend."""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from proxy_testkit import (
    LocalCA,
    RunningProxy,
    backend_app,
    base_document,
    closed_port_url,
    config_from,
)
from tlsproxy.backend_health import HealthBoard
from tlsproxy.balancer import Balancer
from tlsproxy.config import parse_config


def balancer_for(backends: list[Any], **route: Any) -> Balancer:
    document = {
        "listeners": [{"kind": "http", "port": 1}],
        "routes": [{"backends": backends, **route}],
    }
    config = parse_config(document, "test.toml", {})
    return Balancer(config.routes[0], HealthBoard(config.routes))


def picks(balancer: Balancer, count: int) -> list[str]:
    return [balancer.candidates()[0].backend.host for _ in range(count)]


def weighted(host: str, weight: int, priority: int = 1) -> dict[str, Any]:
    return {"url": f"http://{host}:80", "weight": weight, "priority": priority}


# (backends, policy, expected share of each host) -- like Pound's `stats` checks.
SPREADS = [
    ([weighted("a", 1), weighted("b", 3)], "random", {"a": 0.25, "b": 0.75}),
    ([weighted("a", 1), weighted("b", 1)], "random", {"a": 0.5, "b": 0.5}),
    (
        [weighted("a", 2), weighted("b", 1), weighted("c", 1)],
        "random",
        {"a": 0.5, "b": 0.25, "c": 0.25},
    ),
    ([weighted("a", 1), weighted("b", 3)], "round_robin", {"a": 0.25, "b": 0.75}),
    ([weighted("a", 1), weighted("b", 1), weighted("z", 9, 2)], "random", {"a": 0.5, "b": 0.5}),
]


@pytest.mark.parametrize(("backends", "policy", "shares"), SPREADS)
def test_traffic_is_spread_by_weight_within_the_best_priority(
    backends: list[Any], policy: str, shares: dict[str, float]
) -> None:
    counts = collections.Counter(picks(balancer_for(backends, balance=policy), 8000))
    assert set(counts) == set(shares)
    for host, share in shares.items():
        # 8000 draws: one standard deviation is at most 0.6 %, so 3 % is over 5 sigma.
        assert abs(counts[host] / 8000 - share) < 0.03, counts


def test_round_robin_is_smooth_not_bursty() -> None:
    balancer = balancer_for(
        [weighted("a", 5), weighted("b", 1), weighted("c", 1)], balance="round_robin"
    )
    assert picks(balancer, 14) == list("aabacaa") * 2


def test_lower_priority_serves_only_while_every_better_backend_is_down() -> None:
    balancer = balancer_for([weighted("a", 1), weighted("b", 1), weighted("spare", 1, 2)])
    board_state = {s.backend.host: s for s in balancer.states}
    assert set(picks(balancer, 50)) == {"a", "b"}
    board_state["a"].down_until = float("inf")
    assert set(picks(balancer, 50)) == {"b"}
    board_state["b"].probed_down = True
    assert set(picks(balancer, 50)) == {"spare"}
    board_state["spare"].down_until = float("inf")
    # Nothing usable: everything is tried anyway, best priority first.
    assert [s.backend.host for s in balancer.candidates()][-1] == "spare"
    board_state["a"].down_until = 0.0  # its retry interval is over
    assert set(picks(balancer, 50)) == {"a"}


def test_failover_order_is_the_other_usable_backends_best_priority_first() -> None:
    balancer = balancer_for([weighted("spare", 1, 2), weighted("a", 1)])
    assert [s.backend.host for s in balancer.candidates()] == ["a", "spare"]


# -- through the proxy ------------------------------------------------------------------


class Backend:
    """A named backend that can be stopped and started again on the same port, and
    whose /health answer and /reset behaviour can be switched."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.healthy = True
        self.resets = False  # /reset drops the connection without an answer
        self.port = 0
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def answer(request: web.Request) -> web.Response:
            return web.Response(text=self.name)

        async def health(request: web.Request) -> web.Response:
            return web.Response(status=200 if self.healthy else 503)

        async def reset(request: web.Request) -> web.Response:
            if not self.resets:
                return await answer(request)
            assert request.transport is not None
            request.transport.abort()
            await asyncio.sleep(0.05)
            return web.Response()

        async def length(request: web.Request) -> web.Response:
            return web.Response(text=f"{self.name} got {len(await request.read())} bytes")

        routes = [
            web.get("/health", health),
            web.route("*", "/reset", reset),
            web.post("/length", length),
        ]
        app = backend_app(routes, answer)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def one_two() -> AsyncIterator[tuple[Backend, Backend]]:
    one, two = Backend("one"), Backend("two")
    await one.start()
    await two.start()
    yield one, two
    await one.stop()
    await two.stop()


async def answers(proxy: RunningProxy, ca: LocalCA, count: int, path: str = "/") -> list[str]:
    url = f"https://localhost:{proxy.https_port}{path}"
    seen = []
    async with aiohttp.ClientSession() as client:
        for _ in range(count):
            async with client.get(url, ssl=ca.client_context()) as response:
                seen.append(f"{response.status} {await response.text()}")
    return seen


def backend_events(stderr: str) -> list[tuple[str, str, str]]:
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [(r["backend"], r["state"], r["check"]) for r in records if r["event"] == "backend"]


def primary_and_spare(primary: Backend, spare: Backend) -> list[dict[str, Any]]:
    return [{"url": primary.url, "priority": 1}, {"url": spare.url, "priority": 2}]


def route_document(cert: tuple[Path, Path], backends: list[Any], **route: Any) -> dict[str, Any]:
    document = base_document(*cert, "http://unused:1")
    document["routes"] = [{"backends": backends, **route}]
    return document


async def test_refused_backend_is_skipped_and_marked_down_once(
    one_two: tuple[Backend, Backend],
    server_cert: tuple[Path, Path],
    ca: LocalCA,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dead = closed_port_url()
    document = route_document(server_cert, [dead, one_two[0].url], balance="round_robin")
    async with RunningProxy(config_from(document)) as proxy:
        url = f"https://localhost:{proxy.https_port}/length"
        async with aiohttp.ClientSession() as client:
            async with client.post(url, data=b"x" * 1000, ssl=ca.client_context()) as response:
                # Round robin tried the dead one first; it never got the request, so
                # moving on is safe, body and all.
                assert await response.text() == "one got 1000 bytes"
        assert await answers(proxy, ca, 6) == ["200 one"] * 6
    assert backend_events(capsys.readouterr().err) == [(dead, "down", "passive")]


@pytest.mark.parametrize(
    ("method", "body", "expected"),
    [
        ("GET", None, "200 two"),
        ("DELETE", None, "200 two"),
        ("POST", None, "502 "),  # not idempotent: the backend may have acted on it
        ("PUT", b"data", "502 "),  # its body is gone: cannot be sent again
    ],
)
async def test_reset_before_the_response_moves_only_idempotent_requests_on(
    method: str,
    body: bytes | None,
    expected: str,
    one_two: tuple[Backend, Backend],
    server_cert: tuple[Path, Path],
    ca: LocalCA,
) -> None:
    one, two = one_two
    one.resets = True
    backends = primary_and_spare(one, two)
    async with RunningProxy(config_from(route_document(server_cert, backends))) as proxy:
        url = f"https://localhost:{proxy.https_port}/reset"
        async with aiohttp.ClientSession() as client:
            async with client.request(method, url, data=body, ssl=ca.client_context()) as response:
                text = await response.text()
    assert f"{response.status} {text if response.status == 200 else ''}" == expected


async def test_priority_failover_and_recovery_after_the_retry_interval(
    one_two: tuple[Backend, Backend],
    server_cert: tuple[Path, Path],
    ca: LocalCA,
    capsys: pytest.CaptureFixture[str],
) -> None:
    one, two = one_two
    backends = primary_and_spare(one, two)
    document = route_document(server_cert, backends, retry_interval=0.3)
    async with RunningProxy(config_from(document)) as proxy:
        assert await answers(proxy, ca, 3) == ["200 one"] * 3
        await one.stop()
        assert await answers(proxy, ca, 3) == ["200 two"] * 3
        await one.start()  # same port
        assert await answers(proxy, ca, 1) == ["200 two"]  # still within the interval
        await asyncio.sleep(0.4)
        assert await answers(proxy, ca, 3) == ["200 one"] * 3
    assert backend_events(capsys.readouterr().err) == [
        (one.url, "down", "passive"),
        (one.url, "up", "passive"),
    ]


async def wait_for_answer(proxy: RunningProxy, ca: LocalCA, wanted: str) -> list[str]:
    for _ in range(100):
        seen = await answers(proxy, ca, 1)
        if seen == [wanted]:
            break
        await asyncio.sleep(0.05)
    return seen


async def test_active_checks_take_a_backend_out_and_bring_it_back(
    one_two: tuple[Backend, Backend],
    server_cert: tuple[Path, Path],
    ca: LocalCA,
    capsys: pytest.CaptureFixture[str],
) -> None:
    one, two = one_two
    backends = primary_and_spare(one, two)
    check = {"path": "/health", "interval": 0.05, "timeout": 1, "fails": 2, "passes": 2}
    document = route_document(server_cert, backends, health_check=check)
    async with RunningProxy(config_from(document)) as proxy:
        assert await answers(proxy, ca, 2) == ["200 one"] * 2
        one.healthy = False  # it still accepts connections: only the probe can tell
        assert await wait_for_answer(proxy, ca, "200 two") == ["200 two"]
        assert await answers(proxy, ca, 3) == ["200 two"] * 3
        one.healthy = True
        assert await wait_for_answer(proxy, ca, "200 one") == ["200 one"]
    events = backend_events(capsys.readouterr().err)
    assert events == [(one.url, "down", "active"), (one.url, "up", "active")]


# -- session affinity -------------------------------------------------------------------


async def test_affinity_cookie_keeps_a_client_on_its_backend_until_it_is_down(
    one_two: tuple[Backend, Backend], server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    one, two = one_two
    document = route_document(
        server_cert, [one.url, two.url], balance="round_robin", affinity_cookie="kit_backend"
    )
    async with RunningProxy(config_from(document)) as proxy:
        # Clients without the cookie are spread as usual.
        fresh = [*await answers(proxy, ca, 1), *await answers(proxy, ca, 1)]
        assert sorted(fresh) == ["200 one", "200 two"]
        url = f"https://localhost:{proxy.https_port}/"
        ctx = ca.client_context()
        async with aiohttp.ClientSession() as client:  # keeps cookies like a browser
            seen = []
            for _ in range(6):
                async with client.get(url, ssl=ctx) as response:
                    seen.append(await response.text())
                    if len(seen) == 1:
                        pin = response.headers["Set-Cookie"]
                    else:
                        assert "Set-Cookie" not in response.headers  # already pinned
            assert len(set(seen)) == 1
            assert pin.startswith("kit_backend=")
            assert pin.endswith("; Path=/; HttpOnly; SameSite=Lax; Secure")
            assert "127.0.0.1" not in pin
            pinned = one if seen[0] == "one" else two
            await pinned.stop()
            async with client.get(url, ssl=ctx) as response:
                moved = await response.text()
                assert response.headers["Set-Cookie"] != pin  # pinned to the other one now
            assert moved != seen[0]
            async with client.get(url, ssl=ctx) as response:
                assert await response.text() == moved

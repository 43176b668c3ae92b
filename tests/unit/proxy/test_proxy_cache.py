"""The shared cache of a route (``cache = { ... }``, RFC 9111): which answers are
stored and for whom, collapsing, revalidation, stale answers, the size bound.

Each row of ``CASES`` is two requests for one path of a scripted backend, with the
cache's clock moved forward between them when the row says so; it gives how many
requests the backend saw and what the second answer's ``Cache-Status`` says.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict
from prometheus_client.parser import text_string_to_metric_families
from proxy_testkit import (
    LocalCA,
    RunningProxy,
    backend_app,
    base_document,
    config_from,
    raw_exchange,
    start_backend,
    status_of,
)
from tlsproxy.cache import COLLAPSE_WAIT, RouteCache
from tlsproxy.config import ConfigError

SESSION = "__Host-blog_session"
MAX_ENTRY = 4096
CACHE = {"bypass_cookies": [SESSION], "max_entry_bytes": MAX_ENTRY, "max_bytes": 64 * 1024}


@dataclass
class Reply:
    """What the scripted backend answers for one path."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"the page"
    delay: float = 0.0
    not_modified: str | None = None  # answer any If-None-Match with a 304 for this ETag


class ScriptedBackend:
    """Answers ``replies[path]``; a request whose If-None-Match names the reply's ETag
    gets a 304. Counts requests and keeps their headers, per path."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.hits: Counter[str] = Counter()
        self.seen: dict[str, list[dict[str, str]]] = {}

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.hits[path] += 1
        number = self.hits[path]
        self.seen.setdefault(path, []).append(dict(request.headers))
        reply = self.replies.get(path, Reply())
        if reply.delay:
            await asyncio.sleep(reply.delay)
        headers = {k: v.replace("{n}", str(number)) for k, v in reply.headers.items()}
        etag = headers.get("ETag")
        asked = request.headers.get("If-None-Match")
        if asked is not None and reply.not_modified is not None:
            return web.Response(status=304, headers={"ETag": reply.not_modified})
        if etag is not None and etag in (asked or ""):
            return web.Response(status=304, headers=headers)
        return web.Response(status=reply.status, body=reply.body, headers=headers)


@dataclass
class Stack:
    proxy: RunningProxy
    backend: ScriptedBackend
    runner: web.AppRunner
    ca: LocalCA
    offset: list[float]  # seconds added to the cache's clock

    @property
    def cache(self) -> RouteCache:
        return self.proxy.proxy.caches.by_name["route0"]

    def later(self, seconds: float) -> None:
        self.offset[0] += seconds

    async def get(
        self, path: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, CIMultiDict[str], bytes]:
        url = f"https://localhost:{self.proxy.https_port}{path}"
        headers = {"Host": "localhost", **(headers or {})}  # as the raw requests below
        async with (
            aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session,
            session.request(method, url, headers=headers, ssl=self.ca.client_context()) as answer,
        ):
            return answer.status, CIMultiDict(answer.headers), await answer.read()


@dataclasses.dataclass
class Options:
    cache: dict[str, Any] = field(default_factory=lambda: dict(CACHE))
    limits: dict[str, Any] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)


async def open_stack(cert: tuple[Path, Path], ca: LocalCA, options: Options) -> Stack:
    backend = ScriptedBackend()
    runner, url = await start_backend(backend_app(catch_all=backend.handle))
    document = base_document(*cert, url, limits=options.limits, server=options.server)
    document["routes"][0]["cache"] = options.cache
    proxy = RunningProxy(config_from(document))
    await proxy.__aenter__()
    stack = Stack(proxy, backend, runner, ca, [0.0])
    stack.cache.clock = lambda: time.monotonic() + stack.offset[0]
    return stack


async def close_stack(stack: Stack) -> None:
    await stack.proxy.__aexit__(None, None, None)
    await stack.runner.cleanup()


@pytest.fixture
async def make_stack(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> AsyncIterator[Callable[..., Awaitable[Stack]]]:
    made: list[Stack] = []

    async def make(**options: Any) -> Stack:
        stack = await open_stack(server_cert, ca, Options(**options))
        made.append(stack)
        return stack

    yield make
    for stack in made:
        await close_stack(stack)


@pytest.fixture
async def stack(server_cert: tuple[Path, Path], ca: LocalCA) -> AsyncIterator[Stack]:
    made = await open_stack(server_cert, ca, Options())
    yield made
    await close_stack(made)


def http_date(offset: float) -> str:
    return formatdate(time.time() + offset, usegmt=True)


FOREVER = {"Cache-Control": "max-age=600"}
ETAGGED = {"Cache-Control": "max-age=600", "ETag": '"v1"'}


@dataclass
class Case:
    name: str
    reply: Reply = field(default_factory=lambda: Reply(headers=dict(FOREVER)))
    first: dict[str, str] = field(default_factory=dict)  # the first request's headers
    second: dict[str, str] = field(default_factory=dict)
    method: str = "GET"  # the second request's
    later: float = 0.0  # seconds between the two, on the cache's clock
    hits: int = 1  # requests the backend saw for the two
    status: int | None = None  # the second answer's, when not the reply's
    cache_status: str | None = "hit"  # in the second answer's Cache-Status; None: no field


CASES = [
    # What the backend marks cacheable, and what it does not.
    Case("max-age is stored"),
    Case("s-maxage is stored", Reply(headers={"Cache-Control": "s-maxage=600"})),
    Case(
        "s-maxage wins over max-age",
        Reply(headers={"Cache-Control": "max-age=600, s-maxage=1", "ETag": '"v1"'}),
        later=2, hits=2, cache_status="fwd=stale; fwd-status=304",
    ),
    Case(
        "Expires after Date is stored",
        Reply(headers={"Expires": http_date(600)}),
    ),
    Case("an Expires that is no date is stale", Reply(headers={"Expires": "0"}), hits=2,
         cache_status=None),
    Case("an invalid max-age is stale", Reply(headers={"Cache-Control": "max-age=soon"}), hits=2,
         cache_status=None),
    Case(
        "public with a validator is stored, and revalidated before use",
        Reply(headers={"Cache-Control": "public", "ETag": '"v1"'}),
        hits=2, cache_status="fwd=stale; fwd-status=304; stored",
    ),
    Case(
        "no-cache is revalidated every time",
        Reply(headers={"Cache-Control": "public, max-age=600, no-cache", "ETag": '"v1"'}),
        hits=2, cache_status="fwd=stale; fwd-status=304",
    ),
    Case("private is not stored", Reply(headers={"Cache-Control": "max-age=600, private"}),
         hits=2, cache_status=None),
    Case('private="Set-Cookie" is not stored either',
         Reply(headers={"Cache-Control": 'max-age=600, private="Set-Cookie"'}), hits=2,
         cache_status=None),
    Case("no-store is not stored", Reply(headers={"Cache-Control": "max-age=600, no-store"}),
         hits=2, cache_status=None),
    Case("an answer that sets a cookie is never stored",
         Reply(headers={**FOREVER, "Set-Cookie": "theme=dark"}), hits=2, cache_status=None),
    Case("Vary: * is not stored", Reply(headers={**FOREVER, "Vary": "*"}), hits=2,
         cache_status=None),
    Case("a validator without a lifetime is not stored (no default_ttl)",
         Reply(headers={"ETag": '"v1"'}), hits=2, cache_status=None),
    Case("a 500 is not stored", Reply(status=500, headers=dict(FOREVER)), hits=2,
         cache_status=None),
    Case("a 206 is not stored", Reply(status=206, headers=dict(FOREVER)), hits=2,
         cache_status=None),
    Case("a 404 with a lifetime is stored", Reply(status=404, headers=dict(FOREVER))),
    Case("a body over max_entry_bytes is relayed, not stored",
         Reply(headers=dict(FOREVER), body=b"x" * (MAX_ENTRY + 1)), hits=2, cache_status=None),
    Case(
        "an Age over the lifetime is stale at once",
        Reply(headers={**FOREVER, "Age": "601"}), hits=2, cache_status="fwd=stale; stored",
    ),
    # Whose requests the cache answers.
    Case("a request with Authorization never gets a stored answer",
         second={"Authorization": "Basic YTpi"}, hits=2, cache_status=None),
    Case("an answer to Authorization is never stored",
         first={"Authorization": "Basic YTpi"}, hits=2, cache_status="fwd=uri-miss; stored"),
    Case("a session cookie never gets a stored answer",
         second={"Cookie": f"a=1; {SESSION}=secret"}, hits=2, cache_status=None),
    Case("an answer to a session cookie is never stored",
         first={"Cookie": f"{SESSION}=secret"}, hits=2, cache_status="fwd=uri-miss; stored"),
    Case("other cookies get the shared answer", second={"Cookie": "__Host-blog_csrf=t"}),
    Case("a range request goes to the backend", second={"Range": "bytes=0-2"}, hits=2,
         cache_status=None),
    Case("If-Match goes to the backend", second={"If-Match": '"v1"'}, hits=2, cache_status=None),
    Case("POST goes to the backend", method="POST", hits=2, cache_status=None),
    Case("a request with no-store is answered but not stored",
         first={"Cache-Control": "no-store"}, hits=2, cache_status="fwd=uri-miss; stored"),
    # How stored answers are used.
    Case("HEAD is answered from a stored GET", method="HEAD"),
    Case("a matching If-None-Match gets a 304 from memory", Reply(headers=dict(ETAGGED)),
         second={"If-None-Match": 'W/"v1"'}, status=304),
    Case("another If-None-Match gets the page from memory", Reply(headers=dict(ETAGGED)),
         second={"If-None-Match": '"v0"'}),
    Case(
        "If-Modified-Since after Last-Modified gets a 304",
        Reply(headers={**FOREVER, "Last-Modified": http_date(-60)}),
        second={"If-Modified-Since": http_date(0)}, status=304,
    ),
    Case("Vary: the same values get the stored variant",
         Reply(headers={**FOREVER, "Vary": "Accept-Language"}),
         first={"Accept-Language": "en"}, second={"Accept-Language": "en"}),
    Case("Vary: other values do not", Reply(headers={**FOREVER, "Vary": "Accept-Language"}),
         first={"Accept-Language": "en"}, second={"Accept-Language": "de"}, hits=2,
         cache_status="fwd=uri-miss; stored"),
    Case("Vary: an absent field is not an empty one",
         Reply(headers={**FOREVER, "Vary": "Accept-Language"}),
         second={"Accept-Language": ""}, hits=2, cache_status="fwd=uri-miss; stored"),
    Case("a stale answer is revalidated with its ETag",
         Reply(headers={"Cache-Control": "max-age=60", "ETag": '"v1"'}), later=61, hits=2,
         cache_status="fwd=stale; fwd-status=304; stored"),
    Case("a stale answer without a validator is fetched again",
         Reply(headers={"Cache-Control": "max-age=60"}), later=61, hits=2,
         cache_status="fwd=stale; stored"),
    Case(
        "stale-while-revalidate serves the stale answer and revalidates behind it",
        Reply(headers={"Cache-Control": "max-age=60, stale-while-revalidate=30", "ETag": '"v1"'}),
        later=70, hits=2, cache_status="detail=stale-while-revalidate",
    ),
    Case(
        "past stale-while-revalidate the client waits for the revalidation",
        Reply(headers={"Cache-Control": "max-age=60, stale-while-revalidate=30", "ETag": '"v1"'}),
        later=95, hits=2, cache_status="fwd=stale; fwd-status=304",
    ),
    Case(
        "must-revalidate is never served stale",
        Reply(headers={"Cache-Control": "max-age=60, must-revalidate, stale-while-revalidate=30",
                       "ETag": '"v1"'}),
        later=70, hits=2, cache_status="fwd=stale; fwd-status=304",
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_cache_semantics(case: Case, stack: Stack) -> None:
    path = "/page"
    stack.backend.replies[path] = case.reply
    first_method = "GET"
    status, _, body = await stack.get(path, case.first, first_method)
    assert (status, body) == (case.reply.status, case.reply.body)
    stack.later(case.later)
    status, headers, body = await stack.get(path, case.second, case.method)
    assert status == (case.status or case.reply.status)
    if status != 304 and case.method != "HEAD":
        assert body == case.reply.body
    else:
        assert body == b""
    if case.cache_status is None:
        assert "Cache-Status" not in headers
    else:
        assert case.cache_status in headers["Cache-Status"]
        assert headers["Cache-Status"].startswith("tlsproxy; ")
        assert int(headers["Age"]) >= 0
    for _ in range(100):  # a background revalidation may still be on its way
        if stack.backend.hits[path] >= case.hits:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.02)
    assert stack.backend.hits[path] == case.hits


async def test_a_revalidation_asks_with_the_stored_validators(stack: Stack) -> None:
    modified = http_date(-3600)
    stack.backend.replies["/v"] = Reply(
        headers={"Cache-Control": "max-age=60", "ETag": '"v1"', "Last-Modified": modified}
    )
    await stack.get("/v", {"If-None-Match": '"client-own"'})
    stack.later(61)
    status, _, body = await stack.get("/v")
    assert (status, body) == (200, b"the page")
    first, second = stack.backend.seen["/v"]
    # The client's own validators never reach the backend on a fill: it needs the page.
    assert "If-None-Match" not in first
    assert second["If-None-Match"] == '"v1"' and second["If-Modified-Since"] == modified


async def test_a_head_miss_fills_the_cache_with_a_get(stack: Stack) -> None:
    stack.backend.replies["/h"] = Reply(headers=dict(FOREVER))
    status, headers, body = await stack.get("/h", method="HEAD")
    assert (status, body, headers["Content-Length"]) == (200, b"", "8")
    status, headers, body = await stack.get("/h")
    assert (status, body) == (200, b"the page") and "hit" in headers["Cache-Status"]
    assert stack.backend.hits["/h"] == 1


async def test_a_browser_reload_does_not_skip_the_cache(stack: Stack) -> None:
    stack.backend.replies["/r"] = Reply(headers=dict(FOREVER))
    await stack.get("/r")
    reload = {"Cache-Control": "no-cache", "Pragma": "no-cache"}
    assert "hit" in (await stack.get("/r", reload))[1]["Cache-Status"]
    assert stack.backend.hits["/r"] == 1  # one client cannot send every request through


async def test_behind_a_trusted_proxy_the_origin_it_names_is_part_of_the_key(
    make_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await make_stack(server={"trusted_proxies": ["127.0.0.1/32"]})
    stack.backend.replies["/o"] = Reply(headers=dict(FOREVER))
    one = {"X-Forwarded-Host": "one.example", "X-Forwarded-Proto": "https"}
    await stack.get("/o", one)
    await stack.get("/o", {**one, "X-Forwarded-Host": "two.example"})
    assert stack.backend.hits["/o"] == 2  # the backend may build links from either
    assert "hit" in (await stack.get("/o", one))[1]["Cache-Status"]
    assert stack.backend.hits["/o"] == 2


async def test_a_304_updates_the_stored_fields(stack: Stack) -> None:
    stack.backend.replies["/u"] = Reply(
        headers={"Cache-Control": "max-age=60", "ETag": '"v1"', "X-Version": "{n}"}
    )
    _, headers, _ = await stack.get("/u")
    assert headers["X-Version"] == "1"
    stack.later(61)
    _, headers, _ = await stack.get("/u")
    assert headers["X-Version"] == "2"  # from the 304, with the stored body
    _, headers, body = await stack.get("/u")
    assert "hit" in headers["Cache-Status"] and headers["X-Version"] == "2"
    assert body == b"the page" and stack.backend.hits["/u"] == 2


async def test_a_304_naming_another_etag_fetches_the_page_again(stack: Stack) -> None:
    stack.backend.replies["/e"] = Reply(headers={"Cache-Control": "max-age=60", "ETag": '"v1"'})
    await stack.get("/e")
    # RFC 9111 4.3.4: a 304 for "v2" says nothing about the stored "v1".
    stack.backend.replies["/e"] = Reply(
        headers={"Cache-Control": "max-age=60", "ETag": '"v2"'}, body=b"new", not_modified='"v2"'
    )
    stack.later(61)
    status, headers, body = await stack.get("/e")
    assert (status, body, headers["ETag"]) == (200, b"new", '"v2"')
    assert "If-None-Match" not in stack.backend.seen["/e"][-1]


PAGE = Reply(headers=dict(FOREVER), body=b"shared page", delay=0.3)


async def test_concurrent_requests_for_one_page_make_one_backend_request(stack: Stack) -> None:
    stack.backend.replies["/busy"] = PAGE
    answers = await asyncio.gather(*(stack.get("/busy") for _ in range(20)))
    assert stack.backend.hits["/busy"] == 1
    assert {(status, body) for status, _, body in answers} == {(200, b"shared page")}
    statuses = Counter(headers["Cache-Status"].split(";")[2].strip() for _, headers, _ in answers)
    assert statuses == {"stored": 1, "collapsed": 19}
    assert stack.cache.stats.requests["collapsed"] == 19


async def test_waiting_requests_for_an_uncacheable_answer_each_get_their_own(
    stack: Stack,
) -> None:
    stack.backend.replies["/mine"] = Reply(
        headers={**FOREVER, "Set-Cookie": "id={n}"}, body=b"yours", delay=0.2
    )
    answers = await asyncio.gather(*(stack.get("/mine") for _ in range(8)))
    cookies = [headers["Set-Cookie"] for _, headers, _ in answers]
    assert len(set(cookies)) == 8  # nobody got another's cookie
    assert stack.backend.hits["/mine"] == 8
    # The next requests go straight to the backend, without waiting for one another.
    await asyncio.gather(*(stack.get("/mine") for _ in range(3)))
    assert stack.backend.hits["/mine"] == 11


async def test_a_request_waits_at_most_collapse_wait(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tlsproxy.cache.COLLAPSE_WAIT", 0.2)
    assert COLLAPSE_WAIT > 0.2
    stack.backend.replies["/slow"] = Reply(headers=dict(FOREVER), delay=1.0)
    first = asyncio.ensure_future(stack.get("/slow"))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    status, headers, _ = await stack.get("/slow")
    assert status == 200 and "Cache-Status" not in headers  # its own backend request
    assert time.monotonic() - started < 1.5
    assert (await first)[0] == 200
    assert stack.backend.hits["/slow"] == 2


async def test_a_fill_goes_on_when_its_client_leaves(stack: Stack, ca: LocalCA) -> None:
    stack.backend.replies["/left"] = Reply(headers=dict(FOREVER), delay=0.3)
    request = b"GET /left HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with pytest.raises(TimeoutError):
        await raw_exchange(stack.proxy.https_port, request, ca.client_context(), wait=0.1)
    await asyncio.sleep(0.4)
    status, headers, _ = await stack.get("/left")
    assert status == 200 and "hit" in headers["Cache-Status"]
    assert stack.backend.hits["/left"] == 1


async def test_stale_if_error_serves_the_last_good_page_while_the_backend_is_down(
    stack: Stack,
) -> None:
    stack.backend.replies["/up"] = Reply(
        headers={"Cache-Control": "max-age=60, stale-if-error=600", "ETag": '"v1"'}
    )
    await stack.get("/up")
    await stack.runner.cleanup()  # the backend stops
    stack.later(120)
    status, headers, body = await stack.get("/up")
    assert (status, body) == (200, b"the page")
    assert "detail=stale-if-error" in headers["Cache-Status"]
    assert int(headers["Age"]) >= 120
    # Within the route's retry_interval the backend is not asked again.
    assert stack.cache.stats.fills["failed"] == 1
    status, headers, _ = await stack.get("/up")
    assert status == 200 and stack.cache.stats.fills["failed"] == 1
    # Past stale-if-error: the error, not the page.
    stack.later(600)
    status, _, body = await stack.get("/up")
    assert status == 502 and b"the page" not in body
    # Without any stored page, the error too.
    assert (await stack.get("/never"))[0] == 502


async def test_stale_if_error_stands_in_for_a_server_error_answer(stack: Stack) -> None:
    stack.backend.replies["/e5"] = Reply(
        headers={"Cache-Control": "max-age=60, stale-if-error=600", "ETag": '"v1"'}
    )
    await stack.get("/e5")
    stack.backend.replies["/e5"] = Reply(status=503, body=b"down for maintenance")
    stack.later(61)
    status, headers, body = await stack.get("/e5")
    assert (status, body) == (200, b"the page")
    assert "detail=stale-if-error" in headers["Cache-Status"]
    assert stack.cache.stats.fills["failed"] == 1


async def test_a_304_with_a_content_length_keeps_the_stored_framing(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    answers = [
        b'HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nETag: "v1"\r\n'
        b"Content-Length: 8\r\n\r\nthe page",
        b'HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=60\r\nETag: "v1"\r\n'
        b"Content-Length: 8\r\nX-Fresh: yes\r\n\r\n",
    ]
    answer = (await three_requests(server_cert, ca, answers, later=61))[1]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status_of(answer) == 200 and body == b"the page"
    assert head.lower().count(b"content-length") == 1 and b"X-Fresh: yes" in head


async def test_a_304_without_a_date_freshens_for_the_whole_lifetime(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """A renewed answer is as old as the 304, not as the old Date it keeps."""
    answers = [
        b'HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nETag: "v1"\r\n'
        b"Date: Mon, 30 Nov 2026 04:00:00 GMT\r\nContent-Length: 8\r\n\r\nthe page",
        b'HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=60\r\nETag: "v1"\r\n\r\n',
    ]
    third = (await three_requests(server_cert, ca, answers, later=3600))[2]
    assert b"Cache-Status: tlsproxy; hit" in third and third.endswith(b"the page")


async def three_requests(
    cert: tuple[Path, Path], ca: LocalCA, answers: list[bytes], later: float
) -> list[bytes]:
    """GET / three times through a cached route to a backend answering its connections
    with ``answers`` in turn (bytes as they are), the cache's clock moved ``later``
    seconds after the first."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if answers:
            writer.write(answers.pop(0))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(reply, "127.0.0.1", 0)
    document = base_document(*cert, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    document["routes"][0]["cache"] = {}
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    received = []
    async with RunningProxy(config_from(document)) as proxy:
        cache = proxy.proxy.caches.by_name["route0"]
        received.append(await raw_exchange(proxy.https_port, request, ca.client_context()))
        cache.clock = lambda: time.monotonic() + later
        for _ in range(2):
            received.append(await raw_exchange(proxy.https_port, request, ca.client_context()))
    server.close()
    return received


async def test_the_cache_is_counted_in_the_metrics(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    backend = ScriptedBackend()
    backend.replies["/m"] = Reply(headers=dict(FOREVER), body=b"12345")
    runner, url = await start_backend(backend_app(catch_all=backend.handle))
    document = base_document(
        *server_cert, url, metrics={"enabled": True, "address": "127.0.0.1", "port": 1}
    )
    document["routes"][0]["cache"] = {}
    config = config_from(document)
    config = dataclasses.replace(config, metrics=dataclasses.replace(config.metrics, port=0))
    async with RunningProxy(config) as proxy, aiohttp.ClientSession() as session:
        for path in ("/m", "/m", "/m", "/other"):
            url = f"https://localhost:{proxy.https_port}{path}"
            async with session.get(url, ssl=ca.client_context()) as answer:
                await answer.read()
        metrics_url = f"http://127.0.0.1:{proxy.proxy.metrics_port}/metrics"
        async with session.get(metrics_url) as answer:
            text = await answer.text()
    await runner.cleanup()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    route = ("route", "route0")
    expected = {
        ("tlsproxy_cache_requests_total", (("result", "hit"), route)): 2,
        ("tlsproxy_cache_requests_total", (("result", "miss"), route)): 2,
        ("tlsproxy_cache_requests_total", (("result", "bypass"), route)): 0,
        ("tlsproxy_cache_fills_total", (("result", "stored"), route)): 1,
        ("tlsproxy_cache_fills_total", (("result", "uncacheable"), route)): 1,
        ("tlsproxy_cache_served_bytes_total", (route,)): 5 * 3,
        ("tlsproxy_cache_entries", (route,)): 1,
    }
    assert {key: samples.get(key) for key in expected} == expected
    assert samples[("tlsproxy_cache_bytes", (route,))] > 5


async def test_waiting_requests_share_the_backends_failure(stack: Stack) -> None:
    await stack.runner.cleanup()
    answers = await asyncio.gather(*(stack.get("/down") for _ in range(5)))
    assert {status for status, _, _ in answers} == {502}


async def test_memory_is_bounded_by_max_bytes_least_recently_used_first(stack: Stack) -> None:
    body = b"b" * 3000
    for number in range(40):  # about 160 KiB of pages for a 64 KiB bound
        stack.backend.replies[f"/p{number}"] = Reply(headers=dict(FOREVER), body=body)
        await stack.get(f"/p{number}")
        await stack.get("/p0")  # kept in use
    store = stack.cache.store
    assert store.bytes <= 64 * 1024
    assert 10 <= len(store) < 40
    assert stack.cache.stats.evictions == 40 - len(store)
    assert "hit" in (await stack.get("/p0"))[1]["Cache-Status"]
    assert "fwd=uri-miss" in (await stack.get("/p1"))[1]["Cache-Status"]  # evicted


def slow_read(port: int, ca: LocalCA, request: bytes) -> bytes:
    """Send ``request``, wait before reading, then read to the end (a blocking client:
    uvloop's asyncio TLS client drops the last bytes when the peer closes first)."""
    with socket.socket() as raw:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)  # a small window
        raw.connect(("127.0.0.1", port))
        tls = ca.client_context().wrap_socket(raw, server_hostname="localhost")
        tls.sendall(request)
        time.sleep(0.3)  # the proxy fills its buffer and waits for the reader
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
        tls.close()
        return b"".join(chunks)


async def test_a_large_stored_body_reaches_a_slow_reader_whole(
    make_stack: Callable[..., Awaitable[Stack]],
) -> None:
    big = 8 * 1024 * 1024  # more than the kernel's socket buffers hold
    stack = await make_stack(cache={"max_entry_bytes": big, "max_bytes": 2 * big})
    payload = bytes(range(256)) * (big // 256)
    stack.backend.replies["/big"] = Reply(headers=dict(FOREVER), body=payload)
    assert (await stack.get("/big"))[2] == payload
    request = b"GET /big HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    answer = await asyncio.to_thread(slow_read, stack.proxy.https_port, stack.ca, request)
    head, _, received = answer.partition(b"\r\n\r\n")
    assert b"Cache-Status: tlsproxy; hit" in head
    assert len(received) == len(payload) and received == payload


async def test_pipelined_requests_are_answered_from_memory_in_order(
    stack: Stack, ca: LocalCA
) -> None:
    for path in ("/a", "/b"):
        stack.backend.replies[path] = Reply(headers=dict(FOREVER), body=path.encode() * 3)
        await stack.get(path)
    requests = b"".join(
        f"GET {p} HTTP/1.1\r\nHost: localhost\r\n{c}\r\n".encode()
        for p, c in (("/a", ""), ("/b", ""), ("/a", "Connection: close\r\n"))
    )
    answer = await raw_exchange(stack.proxy.https_port, requests, ca.client_context())
    bodies = [part.split(b"\r\n\r\n", 1)[1][:6] for part in answer.split(b"HTTP/1.1 ")[1:]]
    assert bodies == [b"/a/a/a", b"/b/b/b", b"/a/a/a"]


async def test_an_http_1_0_client_gets_a_stored_answer_and_the_connection_closes(
    stack: Stack, ca: LocalCA
) -> None:
    stack.backend.replies["/old"] = Reply(headers=dict(FOREVER))
    await stack.get("/old")
    answer = await raw_exchange(
        stack.proxy.https_port, b"GET /old HTTP/1.0\r\nHost: localhost\r\n\r\n",
        ca.client_context(),
    )  # fmt: skip
    assert status_of(answer) == 200 and answer.endswith(b"\r\n\r\nthe page")
    assert b"Content-Length: 8" in answer and b"Cache-Status: tlsproxy; hit" in answer


async def test_a_reload_keeps_the_pages_of_an_unchanged_route(stack: Stack) -> None:
    stack.backend.replies["/kept"] = Reply(headers=dict(FOREVER))
    await stack.get("/kept")
    cache = stack.cache
    await stack.proxy.proxy.reload(stack.proxy.proxy.config)
    assert stack.cache is cache
    assert "hit" in (await stack.get("/kept"))[1]["Cache-Status"]
    changed = dataclasses.replace(
        stack.proxy.proxy.config,
        routes=(dataclasses.replace(stack.proxy.proxy.config.routes[0], preserve_host=False),),
    )
    await stack.proxy.proxy.reload(changed)
    assert stack.cache is not cache and stack.cache.stats is cache.stats
    stack.cache.clock = cache.clock
    assert "fwd=uri-miss" in (await stack.get("/kept"))[1]["Cache-Status"]


CONFIG_ERRORS = [
    ({"cache": {}, "affinity_cookie": "kit"}, "cannot be combined with affinity_cookie"),
    ({"cache": {"bypass_cookies": ["a b"]}}, "is not a cookie name"),
    ({"cache": {"max_bytes": 1024}}, "max_bytes: must be an integer"),
    ({"cache": {"max_bytes": 100_000, "max_entry_bytes": 200_000}}, "max_entry_bytes"),
    ({"cache": {"default_ttl": 0}}, "default_ttl: must be a number of seconds > 0"),
    ({"cache": {"size": 1}}, "unknown key"),
]


@pytest.mark.parametrize(("route", "message"), CONFIG_ERRORS)
def test_bad_cache_settings_are_refused(
    route: dict[str, Any], message: str, server_cert: tuple[Path, Path]
) -> None:
    document = base_document(*server_cert, "http://127.0.0.1:1")
    document["routes"][0].update(route)
    with pytest.raises(ConfigError, match=message):
        config_from(document)


def test_defaults_cache_nothing_a_cookie_comes_with(server_cert: tuple[Path, Path]) -> None:
    document = base_document(*server_cert, "http://127.0.0.1:1")
    document["routes"][0]["cache"] = {}
    settings = config_from(document).routes[0].cache
    assert settings is not None
    assert settings.bypass_cookies == ("*",) and settings.default_ttl == 0

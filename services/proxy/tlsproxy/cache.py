"""The shared HTTP cache of a route (RFC 9111), in memory: the handler gives it every
request of a route with ``cache = { ... }`` once access was granted.

A request's way through it, top to bottom (``RouteCache.handle``):

1. A request the cache must not touch (``cache_rules.bypass_reason``: not GET/HEAD,
   ``Authorization``, a session cookie, a client certificate, a range or a
   precondition) is forwarded as if there were no cache, and nothing is stored.
2. A fresh stored response answers it (``hit``); a client's ``If-None-Match`` or
   ``If-Modified-Since`` is evaluated against it (304).
3. A stale one is served while a revalidation runs in the background, within its
   ``stale-while-revalidate`` time (RFC 5861), or, once a revalidation failed,
   within its ``stale-if-error`` time.
4. Otherwise one ``Fill`` goes to the backend for the key (a GET; conditional with
   the stored validators when there is a stale response) and every other request
   for that key waits for it (collapsing, at most ``COLLAPSE_WAIT`` seconds). When
   the fill's response is stored, each of them is answered from it; a 304 freshens
   the stored response (RFC 9111 4.3.4); a response that cannot be stored goes to
   the request that started the fill as it streams, and the waiting ones, and the
   key for ``PASS_SECONDS``, go to the backend themselves.

The fill is the ``Exchange``'s client (it offers the few calls an exchange makes of a
``ClientConnection``), so backend choice, retries, time limits and response
rewriting are the same as without a cache; the client connection's body sink is a
``CacheRequest``. Routes without a cache never reach this module.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from .cache_rules import (
    CLIENT_CONDITIONALS,
    NOT_MODIFIED_FIELDS,
    NOT_UPDATED_FIELDS,
    UNSTORED_FIELDS,
    CookieRule,
    Policy,
    VaryKey,
    bypass_reason,
    initial_age,
    not_modified,
    request_forbids_storing,
    response_policy,
    same_validator,
    vary_key,
    vary_names,
)
from .cache_store import CacheStore, Entry
from .client_connection import NO_BODY
from .errors import Answer, error_answer
from .exchange import Exchange
from .fields import Fields
from .metrics import CacheReport

if TYPE_CHECKING:
    from .balancer import Balancer
    from .client_connection import ClientConnection
    from .config import CacheSettings, Route
    from .handler import ProxyHandler
    from .request import RequestHead

COLLAPSE_WAIT = 5.0  # seconds a request waits for another's fill (nginx's proxy_cache_lock_timeout)
PASS_SECONDS = 10.0  # after an answer that could not be stored, the key skips the cache this long
PUMP_BYTES = 64 * 1024  # a stored body goes out in pieces of this, as fast as the client reads
SERVER_ERRORS = frozenset((500, 502, 503, 504))  # what stale-if-error stands in for (RFC 5861 4)
CACHE_NAME = "tlsproxy"  # our member of Cache-Status (RFC 9211)
# What the backend learns of the origin from a trusted proxy in front of us.
_ORIGIN_FIELDS = ("x-forwarded-proto", "x-forwarded-host", "x-forwarded-port")

# CacheRequest roles
_NEW, _WAITING, _LEADING, _RELAYED, _SENDING, _DONE = range(6)


# How the cache answered a request, each counted once: fresh from memory; stale (while
# revalidating, or while the backend fails); by a fill it started; after waiting for
# another request's fill; or without the cache (request rules, a pass mark, a wait
# that took too long).
REQUEST_RESULTS = ("hit", "stale", "miss", "collapsed", "bypass")
# What became of a fill: stored; a 304 that freshened the stored response; an answer
# that could not be stored; no answer from the backend.
FILL_RESULTS = ("stored", "revalidated", "uncacheable", "failed")


@dataclass
class CacheStats:
    """Counters of one route's cache, kept across reloads by ``RouteCaches``."""

    requests: Counter[str] = field(default_factory=Counter)  # by REQUEST_RESULTS
    fills: Counter[str] = field(default_factory=Counter)  # by FILL_RESULTS
    served_bytes: int = 0  # body bytes answered from memory
    evictions: int = 0  # stored responses dropped for the size bound


class RouteCache:
    """The cache of one route; see the module docstring."""

    def __init__(self, route: Route, stats: CacheStats | None = None) -> None:
        settings = route.cache
        assert settings is not None
        self.route = route
        self.settings: CacheSettings = settings
        self.cookies = CookieRule.of(settings.bypass_cookies)
        self.store = CacheStore(settings.max_bytes)
        self.stats = stats or CacheStats()
        self.fills: dict[tuple[str, VaryKey], Fill] = {}
        self.clock = time.monotonic  # tests move time forward here

    def report(self) -> CacheReport:
        """The figures the metrics show for this route."""
        stats = self.stats
        return CacheReport(
            requests={result: stats.requests[result] for result in REQUEST_RESULTS},
            fills={result: stats.fills[result] for result in FILL_RESULTS},
            served_bytes=stats.served_bytes,
            evictions=stats.evictions,
            stored_bytes=self.store.bytes,
            entries=len(self.store),
        )

    def handle(
        self,
        forwarder: ProxyHandler,
        client: ClientConnection,
        request: RequestHead,
        balancer: Balancer,
        fields: Fields,
        public_origin: str,
    ) -> None:
        """Answer ``request`` from memory, a fill, or a plain forward (``fields``: those
        going to the backend, ``public_origin``: ``scheme://host`` for rewrites)."""
        if bypass_reason(request, fields, self.cookies) is not None:
            self.stats.requests["bypass"] += 1
            forwarder.forward(client, request, balancer, fields, public_origin)
            return
        origin = f"{forwarder.scheme}://{request.host.text}"
        if forwarder.trust.trusts(client.peer):  # the origin the proxy in front tells
            origin = " ".join(fields.get(f) or "" for f in _ORIGIN_FIELDS)
        key = origin + request.target.origin_form
        visit = CacheRequest(self, forwarder, client, request, balancer, fields, public_origin, key)
        client.attach(visit)
        self.answer(visit)

    def answer(self, visit: CacheRequest, collapsed: str | None = None) -> None:
        """Answer ``visit`` from the store, or make it wait for or start a fill.
        ``collapsed``: it waited for a fill whose ``fwd`` reason this is."""
        if visit.role != _NEW:
            return  # its client went away while it waited its turn
        now = self.clock()
        key = visit.key
        if self.store.passing(key, now):
            visit.count("bypass")
            visit.forward()
            return
        variant = self.store.variant(key, visit.request.fields)
        entry = self.store.find(key, variant)
        if entry is not None:
            if _fresh(entry, now):
                visit.count("hit")
                status = f"fwd={collapsed}; collapsed" if collapsed else "hit"
                visit.serve(entry, f"{status}; ttl={int(entry.ttl(now))}", now)
                return
            if self._serve_stale(visit, key, variant, entry, now):
                return
        fill = self.fills.get((key, variant))
        if fill is not None:
            visit.count("collapsed")
            fill.wait(visit)
            return
        if request_forbids_storing(visit.request.fields):
            visit.count("bypass")
            visit.forward()
            return
        visit.count("miss")
        self._start_fill(visit, key, variant, entry)

    def _serve_stale(
        self, visit: CacheRequest, key: str, variant: VaryKey, entry: Entry, now: float
    ) -> bool:
        """Serve ``entry`` stale if its policy allows it now (RFC 5861)."""
        if entry.policy.never_stale:  # no-cache, must-revalidate
            return False
        late = -entry.ttl(now)
        if entry.failed_until > now and entry.serves_on_error(now):
            detail = "stale-if-error"
        elif late <= entry.policy.stale_while_revalidate:
            detail = "stale-while-revalidate"
            if (key, variant) not in self.fills:
                self._start_fill(None, key, variant, entry, visit)
        else:
            return False
        visit.count("stale")
        visit.serve(entry, f"hit; ttl={math.floor(-late)}; detail={detail}", now)
        return True

    def _start_fill(
        self,
        leader: CacheRequest | None,
        key: str,
        variant: VaryKey,
        stale: Entry | None,
        on_behalf: CacheRequest | None = None,
    ) -> None:
        """A GET for ``key`` to the backend, answering ``leader`` (None: a background
        revalidation started by ``on_behalf``'s request)."""
        origin = leader or on_behalf
        assert origin is not None
        fields = origin.fields.without(CLIENT_CONDITIONALS)
        if stale is not None:
            if stale.etag is not None:
                fields.add("If-None-Match", stale.etag)
            if stale.last_modified is not None:
                fields.add("If-Modified-Since", stale.last_modified)
        request = dataclasses.replace(origin.request, method="GET", expect_continue=False)
        fill = Fill(self, key, variant, stale, leader, origin.request.fields)
        self.fills[(key, variant)] = fill
        if leader is not None:
            leader.lead(fill)
        exchange = Exchange(
            origin.forwarder,
            cast("ClientConnection", fill),  # the calls an exchange makes of its client
            request,
            origin.balancer,
            origin.balancer.candidates(None),
            fields,
            origin.public_origin,
            None,
        )
        fill.exchange = exchange
        exchange.start()

    # -- a fill's outcomes -----------------------------------------------------------
    def stored(self, fill: Fill, entry: Entry, fwd: str) -> None:
        """``fill`` got a storable response (``entry``), or freshened one."""
        self._forget(fill)
        names = tuple(name for name, _ in entry.vary)
        self.stats.evictions += self.store.put(fill.key, names, entry)
        self.store.clear_pass(fill.key)
        now = self.clock()
        leader = fill.leader
        if leader is not None and leader.role == _LEADING:
            leader.serve(entry, f"fwd={fwd}; stored; ttl={int(entry.ttl(now))}", now)
        self._release(fill.waiters, fwd)

    def not_stored(self, fill: Fill, reason: str) -> None:
        """``fill``'s response cannot be stored: the key skips the cache a while."""
        self._forget(fill)
        self.stats.fills["uncacheable"] += 1
        self.store.mark_pass(fill.key, self.clock() + PASS_SECONDS)
        if fill.stale is not None:
            self.store.remove(fill.key, fill.variant)
        self._release(fill.waiters, None)

    def failed(self, fill: Fill, status: int) -> None:
        """The backend did not answer ``fill`` (``status``: 502, 503 or 504): a stale
        response is served where ``stale-if-error`` allows (and the backend is not
        asked again for ``retry_interval``), else the error."""
        self._forget(fill)
        self.stats.fills["failed"] += 1
        now = self.clock()
        stale = fill.stale
        if stale is not None and stale.serves_on_error(now):
            stale.failed_until = now + self.route.retry_interval
            self._release(fill.visits(), None)
            return
        for visit in fill.visits():
            if visit.role in (_LEADING, _WAITING):
                visit.give(error_answer(status))

    def restart(self, fill: Fill) -> None:
        """A 304 for another response than the stored one (RFC 9111 4.3.4): that one is
        dropped, and everybody asks again."""
        self._forget(fill)
        self.store.remove(fill.key, fill.variant)
        self._release(fill.visits(), None)

    def _forget(self, fill: Fill) -> None:
        if self.fills.get((fill.key, fill.variant)) is fill:
            del self.fills[(fill.key, fill.variant)]

    def _release(self, visits: Iterable[CacheRequest], fwd: str | None) -> None:
        """Answer waiting requests again, once the fill's callbacks have returned (the
        backend connection it used is back in the pool by then)."""
        loop = asyncio.get_running_loop()
        for visit in visits:
            if visit.role in (_WAITING, _LEADING):
                visit.role = _NEW
                loop.call_soon(self.answer, visit, fwd)


class _Encoded(Fields):
    """Stored fields and the bytes they go out as, encoded when stored (plus ours)."""

    __slots__ = ("wire",)

    def __init__(self, fields: Fields, wire: bytes) -> None:
        super().__init__(fields.lines)  # shared, never changed
        self.wire = wire

    def encode(self) -> bytes:
        return self.wire


def _fresh(entry: Entry, now: float) -> bool:
    return not entry.policy.always_revalidate and entry.ttl(now) > 0


class CacheRequest:
    """One client request the cache answers: the client connection's body sink while
    it waits for a fill, leads one, or while a stored body goes out."""

    def __init__(
        self,
        cache: RouteCache,
        forwarder: ProxyHandler,
        client: ClientConnection,
        request: RequestHead,
        balancer: Balancer,
        fields: Fields,
        public_origin: str,
        key: str,
    ) -> None:
        self.cache = cache
        self.forwarder = forwarder
        self.client = client
        self.request = request
        self.balancer = balancer
        self.fields = fields
        self.public_origin = public_origin
        self.key = key
        self.role = _NEW
        self.counted = False
        self.fill: Fill | None = None
        self.wait_until = 0.0  # loop time
        self.body = b""
        self.sent = 0
        self.congested = False

    def count(self, result: str) -> None:
        """Count this request under ``result`` (REQUEST_RESULTS), once: one that waited
        stays ``collapsed`` however it is answered then."""
        if not self.counted:
            self.counted = True
            self.cache.stats.requests[result] += 1

    # -- how it is answered ------------------------------------------------------------
    def forward(self) -> None:
        """To the backend as if there were no cache."""
        self.role = _DONE
        self.forwarder.forward(
            self.client, self.request, self.balancer, self.fields, self.public_origin
        )

    def wait(self, fill: Fill) -> None:
        self.role = _WAITING
        self.fill = fill
        self.wait_until = self.client.loop.time() + COLLAPSE_WAIT
        self.client.rearm(self.wait_until)

    def lead(self, fill: Fill) -> None:
        self.role = _LEADING
        self.fill = fill

    def relay(self) -> ClientConnection | None:
        """The fill's response goes to this request as it streams (it cannot be
        stored); None if the client is gone."""
        if self.role != _LEADING:
            return None
        self.role = _RELAYED
        return self.client

    def give(self, answer: Answer) -> None:
        """One of the proxy's own answers (the backend failed)."""
        self.role = _DONE
        self.client.answer(answer)

    def serve(self, entry: Entry, status: str, now: float) -> None:
        """Answer with ``entry``: a 304 when the client's own validators match it."""
        self.role = _SENDING
        client = self.client
        ours = f"Age: {int(entry.age(now))}\r\nCache-Status: {CACHE_NAME}; {status}\r\n".encode()
        client.cork()
        if not_modified(self.request.fields, entry.etag, entry.last_modified):
            kept = Fields([line for line in entry.fields.lines if line[0] in NOT_MODIFIED_FIELDS])
            client.send_head(304, "Not Modified", _Encoded(kept, kept.encode() + ours), NO_BODY)
            self._finish()
            return
        length = NO_BODY if entry.status == 204 else len(entry.body)
        fields = _Encoded(entry.fields, entry.head + ours)
        client.send_head(entry.status, entry.reason, fields, length)
        if self.request.method == "HEAD" or length == NO_BODY:
            self._finish()
            return
        self.cache.stats.served_bytes += len(entry.body)
        self.body = entry.body
        self._pump()

    def _pump(self) -> None:
        """Send the stored body in pieces while the client takes them (flow control:
        ``client_congested``), so a slow reader holds no copy of a large body."""
        client = self.client
        body = self.body
        while self.sent < len(body) and not self.congested and self.role == _SENDING:
            if self.sent == 0 and len(body) <= PUMP_BYTES:
                piece = body
            else:
                piece = body[self.sent : self.sent + PUMP_BYTES]
            self.sent += len(piece)
            client.send_body(piece)
            client.uncork()
        if self.sent >= len(body) and self.role == _SENDING:
            self._finish()

    def _finish(self) -> None:
        self.role = _DONE
        self.body = b""
        self.client.end_response()
        self.client.uncork()

    # -- BodySink: what the client connection tells -------------------------------------
    def request_body(self, data: bytes) -> None:
        pass  # the cache only takes requests without a body

    def request_end(self) -> None:
        pass

    def request_broken(self, status: int) -> None:
        """Not expected (the cache takes no request with a body): an error while nothing
        was sent, else the connection is cut."""
        role = self.role
        self._leave()
        if role in (_NEW, _WAITING, _LEADING):
            self.give(error_answer(status, close=True))
        elif role != _DONE:
            self.client_lost()  # a relayed exchange stops too
            self.client.abort()

    def client_congested(self, congested: bool) -> None:
        if self.role == _RELAYED and self.fill is not None and self.fill.exchange is not None:
            self.fill.exchange.client_congested(congested)
            return
        self.congested = congested
        if congested:
            self.client.rearm(self.client.loop.time() + self.forwarder.limits.send_timeout)
        elif self.role == _SENDING:
            self.client.loop.call_soon(self._pump)

    def client_lost(self) -> None:
        if self.role == _RELAYED and self.fill is not None and self.fill.exchange is not None:
            self.fill.exchange.client_lost()
        self._leave()
        self.role = _DONE

    def _leave(self) -> None:
        """Stop waiting for (or leading) a fill; the fill itself goes on for the cache."""
        fill = self.fill
        if fill is None:
            return
        if self.role == _WAITING:
            fill.waiters.remove(self)
        elif self.role == _LEADING:
            fill.leader = None

    def next_deadline(self, now: float) -> float | None:
        if self.role == _WAITING:
            if now >= self.wait_until:  # the fill takes too long: to the backend ourselves
                self._leave()
                self.forward()
                return None
            return self.wait_until
        if self.role == _SENDING and self.client.blocked_since:
            deadline = self.client.blocked_since + self.forwarder.limits.send_timeout
            if now >= deadline:  # the client stopped reading
                self.role = _DONE
                self.client.abort()
                return None
            return deadline
        return None  # a fill keeps its own time limits


class Fill:
    """A GET sent to the backend for the cache (a miss, or the revalidation of a
    stale response): the ``Exchange``'s client. It records the response while it may
    be stored; once it cannot be, it relays the rest to the request that started it
    (if any) and the exchange streams on as without a cache."""

    def __init__(
        self,
        cache: RouteCache,
        key: str,
        variant: VaryKey,
        stale: Entry | None,
        leader: CacheRequest | None,
        request_fields: Fields,
    ) -> None:
        # -- what is filled
        self.cache = cache
        self.key = key
        self.variant = variant
        self.stale = stale  # the stored response being revalidated, if any
        self.leader = leader
        self.request_fields = request_fields  # for the new response's Vary values
        self.waiters: list[CacheRequest] = []
        self.exchange: Exchange | None = None
        # -- what an Exchange reads of its client
        self.loop = asyncio.get_running_loop()
        self.request_complete = True
        self.sent_at = cache.clock()
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = math.inf
        # -- the response
        self.head: tuple[int, str, Fields, int] | None = None
        self.received_at = 0.0
        self.policy: Policy | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.relay_to: ClientConnection | None = None
        self.error = 0  # a 5xx answer that the stale response replaces
        self.discarding = False
        self.done = False

    def wait(self, visit: CacheRequest) -> None:
        self.waiters.append(visit)
        visit.wait(self)

    def visits(self) -> list[CacheRequest]:
        """The requests waiting for this fill, the one that started it first."""
        return [self.leader, *self.waiters] if self.leader is not None else self.waiters

    # -- the response, from the exchange ------------------------------------------------
    def send_head(self, status: int, reason: str, fields: Fields, length: int) -> None:
        if self.relay_to is not None:
            self.relay_to.send_head(status, reason, fields, length)
            return
        self.head = (status, reason, fields, length)
        self.received_at = self.cache.clock()
        self.chunks, self.size = [], 0
        if status == 304 and self.stale is not None:
            return  # freshens the stored response at its end
        if status in SERVER_ERRORS and self.stale is not None:
            if self.stale.serves_on_error(self.received_at):
                self.error = status  # RFC 5861 4: the stale response, not the error
                return
        max_entry = self.cache.settings.max_entry_bytes
        verdict = response_policy(status, fields, self.cache.settings.default_ttl)
        if isinstance(verdict, str):
            self._not_stored(verdict)
        elif length > max_entry:
            self._not_stored("too large")
        else:
            self.policy = verdict

    def send_body(self, data: bytes) -> None:
        if self.relay_to is not None:
            self.relay_to.send_body(data)
        elif not self.discarding and not self.done and not self.error:
            self.chunks.append(data)
            self.size += len(data)
            if self.size > self.cache.settings.max_entry_bytes:
                self._not_stored("too large")

    def end_response(self) -> None:
        if self.relay_to is not None:
            self.relay_to.end_response()
        self._stop_timer()
        if self.relay_to is not None or self.discarding or self.done:
            self.done = True
            return
        self.done = True
        if self.error:
            self.cache.failed(self, self.error)
            return
        assert self.head is not None
        status, reason, fields, _ = self.head
        if status == 304 and self.stale is not None:
            self._freshen(fields)
            return
        assert self.policy is not None
        entry = self._entry(status, reason, fields, b"".join(self.chunks), self.policy)
        self.cache.stats.fills["stored"] += 1
        self.cache.stored(self, entry, "stale" if self.stale is not None else "uri-miss")

    def _entry(
        self, status: int, reason: str, fields: Fields, body: bytes, policy: Policy
    ) -> Entry:
        """The stored response; its age is that of the response just received (a 304's
        own ``Date`` and ``Age`` when it freshens one)."""
        assert self.head is not None
        received = self.head[2]
        return Entry(
            status,
            reason,
            fields.without(UNSTORED_FIELDS),
            body,
            policy,
            vary_key(vary_names(fields), self.request_fields),
            stored_at=self.received_at,
            initial_age=initial_age(received, self.sent_at, self.received_at, time.time()),
        )

    def _freshen(self, update: Fields) -> None:
        """RFC 9111 4.3.4: the stored response with the 304's fields replacing its own."""
        stale = self.stale
        assert stale is not None
        if not same_validator(stale.etag, update.get("etag")):
            self.cache.restart(self)
            return
        replaced = {line[0] for line in update.lines} - NOT_UPDATED_FIELDS
        merged = Fields([line for line in stale.fields.lines if line[0] not in replaced])
        merged.lines += [line for line in update.lines if line[0] in replaced]
        verdict = response_policy(stale.status, merged, self.cache.settings.default_ttl)
        if isinstance(verdict, str):
            self._answer_once(stale.status, stale.reason, merged, stale.body, verdict)
            return
        entry = self._entry(stale.status, stale.reason, merged, stale.body, verdict)
        self.cache.stats.fills["revalidated"] += 1
        self.cache.stored(self, entry, "stale; fwd-status=304")

    def _answer_once(self, status: int, reason: str, fields: Fields, body: bytes, why: str) -> None:
        """A freshened response that may no longer be stored goes to the leader only."""
        leader = self.leader
        self.cache.not_stored(self, why)
        client = leader.relay() if leader is not None else None
        if client is not None:
            client.cork()
            length = NO_BODY if status == 204 else len(body)
            client.send_head(status, reason, fields.without(UNSTORED_FIELDS), length)
            client.send_body(body)
            client.end_response()
            client.uncork()

    def _not_stored(self, why: str) -> None:
        """The response cannot be stored: relayed to the leader from here on (what
        arrived so far first), or dropped with its backend connection."""
        leader = self.leader
        self.cache.not_stored(self, why)
        client = leader.relay() if leader is not None else None
        if client is None:
            self.discarding = True
            if self.exchange is not None:
                self.exchange.client_lost()  # nobody wants the rest: the connection is cut
            return
        assert self.head is not None
        status, reason, fields, length = self.head
        self.relay_to = client
        client.cork()  # undone by the backend connection's uncork after this read
        fields.add("Cache-Status", f"{CACHE_NAME}; fwd={'stale' if self.stale else 'uri-miss'}")
        client.send_head(status, reason, fields, length)
        chunks, self.chunks = self.chunks, []
        for chunk in chunks:
            client.send_body(chunk)

    # -- failures, from the exchange ----------------------------------------------------
    def answer(self, answer: Answer) -> None:
        """The exchange gives up with one of the proxy's own answers (502, 503, 504)."""
        self._stop_timer()
        if self.relay_to is not None:
            self.relay_to.answer(answer)
        elif not self.done and not self.discarding:
            self.cache.failed(self, answer.status)
        self.done = True

    def abort(self) -> None:
        self._stop_timer()
        if self.relay_to is not None:
            self.relay_to.abort()
        elif not self.done and not self.discarding:
            self.cache.failed(self, 502)
        self.done = True

    def retract_response(self) -> bool:
        """Nothing recorded has left yet: the exchange may retry or answer an error."""
        if self.relay_to is not None:
            return self.relay_to.retract_response()
        self.head = None
        self.chunks, self.size = [], 0
        self.error = 0
        return True

    # -- the rest of what an Exchange asks of its client ---------------------------------
    @property
    def blocked_since(self) -> float:
        return self.relay_to.blocked_since if self.relay_to is not None else 0.0

    @property
    def log_extra(self) -> tuple[str, str]:
        return ("none", "none")

    @log_extra.setter
    def log_extra(self, value: tuple[str, str]) -> None:
        if self.leader is not None:
            self.leader.client.log_extra = value

    def send_continue(self) -> None:
        pass  # a fill has no request body

    def backend_congested(self, congested: bool) -> None:
        pass

    def send_interim(self, status: int, reason: str, fields: Fields) -> None:
        if self.relay_to is not None:
            self.relay_to.send_interim(status, reason, fields)

    def cork(self) -> None:
        if self.relay_to is not None:
            self.relay_to.cork()

    def uncork(self) -> None:
        if self.relay_to is not None:
            self.relay_to.uncork()

    def rearm(self, when: float) -> None:
        """The exchange's time limits: checked on our own timer (no client drives it)."""
        if when >= self.timer_at or self.done:
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at = when
        self.timer = self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        self.timer_at = math.inf
        exchange = self.exchange
        if exchange is None or self.done:
            return
        deadline = exchange.next_deadline(self.loop.time())
        if deadline is not None:
            self.rearm(deadline)

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.timer_at = math.inf


class RouteCaches:
    """The caches of the running configuration, by route; a reload keeps a route's
    stored responses when the route did not change, and its counters always."""

    def __init__(self) -> None:
        self.by_name: dict[str, RouteCache] = {}

    def for_routes(self, routes: Iterable[Route]) -> dict[int, RouteCache]:
        """A cache for each route with ``cache``, keyed by ``id(route)``."""
        caches: dict[int, RouteCache] = {}
        by_name: dict[str, RouteCache] = {}
        for route in routes:
            if route.cache is None:
                continue
            old = self.by_name.get(route.name)
            if old is not None and old.route == route:
                cache = old
            else:
                cache = RouteCache(route, old.stats if old is not None else None)
            caches[id(route)] = by_name[route.name] = cache
        self.by_name = by_name
        return caches

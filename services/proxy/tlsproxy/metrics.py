"""Prometheus metrics: counted in plain dicts on the request path, exposed on a
separate plain-HTTP listener (``[metrics]``, off by default).

prometheus_client does the exposition (text format, escaping, OpenMetrics when
asked) through a custom collector; the request path never touches its locked metric
objects, only integer dicts, because the event loop is single-threaded. With
``[metrics]`` off no ``Metrics`` exists and the handlers skip recording entirely.
"""

from __future__ import annotations

import bisect
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, exposition
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class _Latency:
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0


@dataclass(frozen=True)
class CacheReport:
    """One route's cache when scraped: counters (``requests`` by outcome, ``fills`` by
    result, ``served_bytes``, ``evictions``) and what it holds now."""

    requests: dict[str, int]
    fills: dict[str, int]
    served_bytes: int
    evictions: int
    stored_bytes: int
    entries: int


@dataclass(frozen=True)
class Snapshot:
    """Gauges read from the running proxy when scraped."""

    open_connections: int
    backends_up: dict[str, bool]
    certificate_expiry: dict[str, float]  # certificate file -> notAfter, Unix seconds
    caches: dict[str, CacheReport] = field(default_factory=dict)  # by route name


class Metrics:
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.snapshot = snapshot
        self.requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: defaultdict[str, _Latency] = defaultdict(_Latency)
        self.handshakes = 0
        self.handshake_failures = 0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))  # type: ignore[arg-type]

    def request_done(self, route: str, backend: str, status: int, started: float) -> None:
        """One answered request: ``route`` and ``backend`` are ``"none"`` when the proxy
        answered itself; ``started`` is the wall-clock time its head arrived."""
        self.requests[(route, str(status), backend)] += 1
        seconds = time.time() - started
        latency = self.latency[route]
        latency.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency.total += seconds

    def watch_handshake(self, protocol: object) -> HandshakeWatch:
        """A TLS connection was accepted; its handshake is counted as failed if the
        protocol is dropped before ``completed`` (asyncio never tells it otherwise)."""
        watch = HandshakeWatch(self)
        weakref.finalize(protocol, watch.gone)
        return watch

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The scrape body and its content type, in the format ``accept`` prefers."""
        encoder, content_type = exposition.choose_encoder(accept)
        return encoder(self.registry), content_type


class HandshakeWatch:
    __slots__ = ("done", "metrics")

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.done = False

    def completed(self) -> None:
        self.done = True
        self.metrics.handshakes += 1

    def gone(self) -> None:
        if not self.done:
            self.metrics.handshake_failures += 1


class _Collector:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        requests = CounterMetricFamily(
            "tlsproxy_requests",
            "Requests answered, by route, status and backend",
            labels=["route", "status", "backend"],
        )
        for labels, count in sorted(m.requests.items()):
            requests.add_metric(labels, count)
        yield requests
        latency = HistogramMetricFamily(
            "tlsproxy_request_duration_seconds",
            "Time from request headers to the end of the response",
            labels=["route"],
        )
        for route, values in sorted(m.latency.items()):
            cumulative, buckets = 0, []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), values.counts, strict=True):
                cumulative += count
                buckets.append((_bound(bound), cumulative))
            latency.add_metric([route], buckets, values.total)
        yield latency
        yield CounterMetricFamily(
            "tlsproxy_tls_handshakes", "TLS handshakes completed", value=m.handshakes
        )
        yield CounterMetricFamily(
            "tlsproxy_tls_handshake_failures",
            "TLS connections closed before their handshake completed",
            value=m.handshake_failures,
        )
        snapshot = m.snapshot()
        yield GaugeMetricFamily(
            "tlsproxy_open_connections",
            "Open client connections",
            value=snapshot.open_connections,
        )
        yield _gauge(
            "tlsproxy_backend_up",
            "1 when the backend may be chosen",
            "backend",
            {url: 1.0 if up else 0.0 for url, up in snapshot.backends_up.items()},
        )
        yield _gauge(
            "tlsproxy_certificate_expiry_timestamp_seconds",
            "notAfter of each served certificate, in Unix seconds",
            "certificate",
            snapshot.certificate_expiry,
        )
        yield from _cache_families(snapshot.caches)


def _cache_families(caches: dict[str, CacheReport]) -> Iterator[Metric]:
    requests = CounterMetricFamily(
        "tlsproxy_cache_requests",
        "Requests of cached routes, by how the cache answered them",
        labels=["route", "result"],
    )
    fills = CounterMetricFamily(
        "tlsproxy_cache_fills",
        "Requests the cache sent to the backend, by what became of the answer",
        labels=["route", "result"],
    )
    served = CounterMetricFamily(
        "tlsproxy_cache_served_bytes", "Body bytes answered from memory", labels=["route"]
    )
    evictions = CounterMetricFamily(
        "tlsproxy_cache_evictions", "Stored answers dropped for the size bound", labels=["route"]
    )
    stored = GaugeMetricFamily(
        "tlsproxy_cache_bytes", "Bytes the cache holds (bodies, fields, overhead)", labels=["route"]
    )
    entries = GaugeMetricFamily("tlsproxy_cache_entries", "Answers stored", labels=["route"])
    for route, report in sorted(caches.items()):
        for result, count in report.requests.items():
            requests.add_metric([route, result], count)
        for result, count in report.fills.items():
            fills.add_metric([route, result], count)
        served.add_metric([route], report.served_bytes)
        evictions.add_metric([route], report.evictions)
        stored.add_metric([route], report.stored_bytes)
        entries.add_metric([route], report.entries)
    yield from (requests, fills, served, evictions, stored, entries)


def _gauge(name: str, documentation: str, label: str, values: dict[str, float]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(value)

"""The workloads, one row each: what the client does and which figures it yields.

``per`` names the unit of work the proxy's CPU time is divided by (a request, a
MiB moved, a new TLS connection); ``client`` names the load generator mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Client = Literal["keepalive", "close", "resumed", "upload"]
Per = Literal["request", "MiB", "connection"]
# "blog_cached": the blog through a route whose proxy keeps pages (ours: ``cache``,
# nginx: ``proxy_cache``); the ceiling is the blog itself either way.
Backend = Literal["bench", "blog", "blog_cached"]
MIB = 1024 * 1024
CONNECTIONS = 50


@dataclass(frozen=True)
class Unit:
    throughput: str  # label of the rate
    cost: str  # label of the CPU cost
    cost_scale: float  # seconds of CPU per unit -> cost label's unit


UNITS: dict[Per, Unit] = {
    "request": Unit("req/s", "µs/req", 1e6),
    "MiB": Unit("MiB/s", "ms/MiB", 1e3),
    "connection": Unit("conn/s", "µs/conn", 1e6),
}


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    path: str
    client: Client
    per: Per
    backend: Backend = "bench"
    conditional: bool = False  # send the validators of a first answer (expect 304s)
    full_only: bool = False

    @property
    def blog(self) -> bool:
        """Whether the blog answers it (its CPU is measured too)."""
        return self.backend != "bench"

    @property
    def unit(self) -> Unit:
        return UNITS[self.per]


WORKLOADS: tuple[Workload, ...] = (
    Workload("small", "1 KiB responses, keep-alive", "/small", "keepalive", "request"),
    Workload("mib", "1 MiB responses, keep-alive", "/mib", "keepalive", "MiB"),
    Workload("newconn", "new TLS connection per request", "/small", "close", "connection"),
    Workload("resumed", "resumed TLS session per request", "/small", "resumed", "connection"),
    Workload("upload", "upload streamed through", "/upload", "upload", "MiB"),
    Workload("blog_front", "blog front page", "/", "keepalive", "request", "blog"),
    Workload("blog_front_304", "blog front page, 304", "/", "keepalive", "request", "blog", True),
    Workload(
        "blog_front_cached", "blog front page, cached", "/", "keepalive", "request", "blog_cached"
    ),
    Workload("blog_feed", "blog Atom feed", "/feed.atom", "keepalive", "request", "blog"),
    Workload(
        "blog_feed_304", "blog Atom feed, 304", "/feed.atom", "keepalive", "request", "blog", True
    ),
)

"""Starting, reloading and draining the proxy: listening sockets, generations, signals.

A *generation* is everything built from one configuration: TLS contexts, listener
handlers, servers and the backend pool. The listening sockets outlive
generations: a reload (SIGHUP, or renewed certificate files) builds a new generation
on duplicates of the same sockets, then the old one stops accepting and each of its
connections closes once its current request or WebSocket is finished. Nothing is
re-bound, so no connection attempt is refused during the switch, and a configuration
or certificate that fails to load leaves the old generation serving.

``Proxy`` is usable in-process (tests start it on port 0 and read the ports back);
``serve`` is the command-line entry that runs until SIGTERM/SIGINT, then stops
accepting, lets in-flight requests finish within ``server.shutdown_grace`` seconds
and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .accesslog import AccessLog
from .backend_health import ActiveChecks, HealthBoard
from .backend_pool import BackendPool
from .cache import RouteCache, RouteCaches
from .certwatch import CertificateWatcher
from .client_connection import ClientConnection, ListenerContext
from .config import Config, ConfigError, Listener, load_config
from .connection_limits import ConnectionGate
from .errors import Answer, ErrorPage, error_answer
from .events import log_event
from .handler import ProxyHandler
from .listener import ListenerHandler, hsts_value
from .metrics import Metrics, Snapshot
from .redirect import RedirectHandler
from .tls import CertificateLoadError, certificate_expiry, listener_context
from .tls_transport import TLSListener

METRICS_CONNECTIONS = 64  # scrapers are few


class ReloadError(RuntimeError):
    """A new configuration that cannot replace the running one without a restart."""


def _contexts(config: Config) -> list[ssl.SSLContext | None]:
    return [
        listener_context(lst, config.tls.profile) if lst.kind == "https" else None
        for lst in config.listeners
    ]


def bind_socket(
    address: str, port: int, reuse_port: bool = False, listen: bool = True
) -> socket.socket:
    """A bound TCP socket (listening unless ``listen`` is false), IPv6 only for v6."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:  # one of several workers on this port (``workers``)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        if listen:
            sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class _Generation:
    config: Config
    pool: BackendPool
    health: HealthBoard
    checks: ActiveChecks
    listeners: list[ListenerContext] = field(default_factory=list)
    certificate_expiry: dict[str, float] = field(default_factory=dict)
    servers: list[asyncio.Server | TLSListener] = field(default_factory=list)

    def stop_accepting(self) -> None:
        for server in self.servers:
            server.close()

    def connections(self) -> list[ClientConnection]:
        return [c for listener in self.listeners for c in listener.connections]

    def retire_connections(self) -> None:
        """Idle connections close now, busy ones after their current exchange."""
        for listener in self.listeners:
            listener.retired = True
        for connection in self.connections():
            connection.retire()


class MetricsHandler(ListenerHandler):
    """The scrape endpoint: ``[metrics] path`` answers GET and HEAD, anything else 404."""

    def __init__(self, config: Config, metrics: Metrics) -> None:
        settings = config.metrics
        super().__init__(config, Listener("http", settings.address, settings.port))
        self.metrics = metrics
        self.path = settings.path

    def handle(self, client: ClientConnection, request: object) -> None:
        from .request import RequestHead

        assert isinstance(request, RequestHead)
        if request.target.path != self.path or request.method not in ("GET", "HEAD"):
            client.answer(error_answer(404))
            return
        body, content_type = self.metrics.exposition(request.fields.get("accept") or "")
        answer = Answer(200, body)
        answer.fields.add("Content-Type", content_type)
        client.answer(answer)


class Proxy:
    """All listeners of the running configuration, sharing one backend pool."""

    def __init__(
        self, config: Config, access_log: AccessLog | None = None, reuse_port: bool = False
    ) -> None:
        self.config = config
        self._reuse_port = reuse_port
        self.access_log = access_log or AccessLog(
            config.server.access_log, redact=config.server.access_log_redact
        )
        self._sockets: list[socket.socket] = []
        self._current: _Generation | None = None
        self._retired: list[_Generation] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._reload_lock = asyncio.Lock()
        limits = config.limits
        # Shared by every listener and every generation of a reload.
        self.gate = ConnectionGate(limits.max_connections, limits.max_connections_per_client)
        # Built before anything listens, so a bad certificate stops the start cleanly.
        self._first_contexts = _contexts(config)
        self.metrics = Metrics(self._snapshot) if config.metrics.enabled else None
        self.caches = RouteCaches()  # stored responses outlive a reload of an unchanged route
        self._metrics_server: asyncio.Server | None = None

    @property
    def ports(self) -> list[int]:
        return [int(s.getsockname()[1]) for s in self._sockets]

    @property
    def pool(self) -> BackendPool | None:
        """The backend pool new requests use (None before ``start``)."""
        return self._current.pool if self._current else None

    @property
    def metrics_port(self) -> int | None:
        if self._metrics_server is None:
            return None
        return int(self._metrics_server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        for listener in self.config.listeners:
            self._sockets.append(bind_socket(listener.address, listener.port, self._reuse_port))
        if self.metrics is not None:
            await self._start_metrics()
        pool = BackendPool(self.config.limits)
        self._current = await self._start_generation(self.config, self._first_contexts, pool)
        watcher = CertificateWatcher(lambda: self.config, self._reload_same)
        self._spawn(watcher.run())

    async def _start_metrics(self) -> None:
        assert self.metrics is not None
        settings = self.config.metrics
        context = ListenerContext(
            handler=MetricsHandler(self.config, self.metrics),
            limits=self.config.limits,
            gate=ConnectionGate(METRICS_CONNECTIONS, METRICS_CONNECTIONS),
            access_log=AccessLog("off"),
            scheme="http",
            hsts=None,
            metrics=None,
            connections=set(),
        )
        sock = bind_socket(settings.address, settings.port)
        self._metrics_server = await asyncio.get_running_loop().create_server(
            lambda: ClientConnection(context), sock=sock
        )

    def _snapshot(self) -> Snapshot:
        generation = self._current
        if generation is None:
            return Snapshot(0, {}, {})
        now = time.monotonic()
        return Snapshot(
            open_connections=self.gate.open,
            backends_up={url: s.usable(now) for url, s in generation.health.states.items()},
            certificate_expiry=generation.certificate_expiry,
            caches={name: cache.report() for name, cache in self.caches.by_name.items()},
        )

    async def _start_generation(
        self, config: Config, contexts: list[ssl.SSLContext | None], pool: BackendPool
    ) -> _Generation:
        health = HealthBoard(config.routes)
        checks = ActiveChecks(config.routes, health)
        generation = _Generation(config, pool, health, checks)
        if self.metrics is not None:
            for certificate in (c for lst in config.listeners for c in lst.certificates):
                expiry = certificate_expiry(certificate)
                if expiry is not None:
                    generation.certificate_expiry[str(certificate.cert)] = expiry
        limits = config.limits
        error_page = ErrorPage(config.errors) if config.errors is not None else None
        self.gate.limit = limits.max_connections
        self.gate.per_client = limits.max_connections_per_client
        loop = asyncio.get_running_loop()
        caches = self.caches.for_routes(config.routes)
        for listener, ctx, sock in zip(config.listeners, contexts, self._sockets, strict=True):
            context = ListenerContext(
                handler=self._handler(config, listener, pool, health, caches),
                limits=limits,
                gate=self.gate,
                access_log=self.access_log,
                scheme="https" if ctx is not None else "http",
                hsts=hsts_value(config) if ctx is not None else None,
                metrics=self.metrics,
                connections=set(),
                error_page=error_page,
                counted_at_accept=ctx is not None,
            )
            own = sock.dup()  # each generation closes only its own descriptor
            own.setblocking(False)
            server: asyncio.Server | TLSListener
            if ctx is not None:
                server = TLSListener(
                    loop, own, ctx, _factory(context), limits.header_timeout, self.gate
                )
            else:
                server = await loop.create_server(_factory(context), sock=own, backlog=1024)
            generation.listeners.append(context)
            generation.servers.append(server)
        generation.checks.start()
        return generation

    def _handler(
        self,
        config: Config,
        listener: Listener,
        pool: BackendPool,
        health: HealthBoard,
        caches: dict[int, RouteCache],
    ) -> ListenerHandler:
        if listener.kind == "redirect":
            return RedirectHandler(config, listener)
        return ProxyHandler(config, listener, pool, health, caches)

    # -- live changes ---------------------------------------------------------------
    async def reload(self, config: Config) -> None:
        """Serve new connections with ``config``; raise (and keep serving) if it cannot."""
        async with self._reload_lock:
            old = self._current
            assert old is not None, "reload() before start()"
            if config.metrics != self.config.metrics:
                raise ReloadError("the [metrics] settings changed; restart the proxy to apply that")
            if config.server.workers != self.config.server.workers:
                raise ReloadError("server.workers changed; restart the proxy to apply that")
            if not self._same_sockets(config):
                raise ReloadError(
                    "the listener addresses or ports changed; restart the proxy to apply that"
                )
            contexts = _contexts(config)  # CertificateLoadError: nothing changed yet
            same_pool = config.limits == old.config.limits
            pool = old.pool if same_pool else BackendPool(config.limits)
            self._current = await self._start_generation(config, contexts, pool)
            self.config = config
            old.stop_accepting()
            await old.checks.stop()
            old.retire_connections()
            self._retired.append(old)
            self._spawn(self._drain(old))

    def _same_sockets(self, config: Config) -> bool:
        """Whether ``config`` listens where we do (port 0 matches the port it got)."""
        if len(config.listeners) != len(self.config.listeners):
            return False
        return all(
            new.address == old.address and new.port in (old.port, bound)
            for new, old, bound in zip(
                config.listeners, self.config.listeners, self.ports, strict=True
            )
        )

    async def reload_from(self, path: str, reason: str = "SIGHUP") -> bool:
        """Reload from a file; log the outcome; False when the old setup stays."""
        try:
            config = load_config(path, syntax=self.config.syntax)
            await self.reload(config)
        except (ConfigError, CertificateLoadError, ReloadError, OSError) as exc:
            log_event("reload", reason=reason, outcome="rejected", source=path, error=str(exc))
            return False
        log_event("reload", reason=reason, outcome="applied", source=path)
        return True

    async def _reload_same(self, reason: str) -> None:
        """Reload the running configuration (its certificate files changed)."""
        try:
            await self.reload(self.config)
        except (CertificateLoadError, ReloadError, OSError) as exc:
            log_event("certificates", reason=reason, outcome="rejected", error=str(exc))
        else:
            log_event("certificates", reason=reason, outcome="applied")

    async def _drain(self, old: _Generation) -> None:
        # Connections leave their listener's set as they close; this poll runs only
        # while an old generation drains.
        while old.connections():  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        for server in old.servers:
            await server.wait_closed()
        self._retired.remove(old)
        # Generations share a pool while the limits stay the same: close it with the last.
        others = (g for g in (self._current, *self._retired) if g is not None)
        if all(g.pool is not old.pool for g in others):
            old.pool.close()

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- shutdown ---------------------------------------------------------------------
    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting, let in-flight requests finish for ``grace`` seconds, close."""
        grace = self.config.server.shutdown_grace if grace is None else grace
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        generations = [g for g in (self._current, *self._retired) if g is not None]
        for generation in generations:
            generation.stop_accepting()
            await generation.checks.stop()
            generation.retire_connections()
        deadline = time.monotonic() + grace
        # Connections leave their sets as they close, with no event to wait on.
        while any(g.connections() for g in generations) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        for generation in generations:
            for connection in generation.connections():
                connection.abort()
        for generation in generations:
            for server in generation.servers:
                await server.wait_closed()
        for pool in {id(g.pool): g.pool for g in generations}.values():
            pool.close()
        if self._metrics_server is not None:
            self._metrics_server.close()
            await self._metrics_server.wait_closed()
            self._metrics_server = None
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        self._current = None
        self._retired.clear()


def _factory(context: ListenerContext) -> Callable[[], ClientConnection]:
    def make() -> ClientConnection:
        return ClientConnection(context)

    return make


def handle_signals(proxy: Proxy, source: str) -> asyncio.Event:
    """SIGTERM and SIGINT set the returned event; SIGHUP reloads ``source``."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[bool]] = set()

    def on_sighup() -> None:
        task = asyncio.ensure_future(proxy.reload_from(source))
        reloads.add(task)  # keep a reference until it is done
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_sighup)
    return stop


def _tune_garbage_collector() -> None:
    """Start-up objects (modules, configuration, TLS contexts) live as long as the
    process: frozen, no full collection walks them again. The thresholds stay at
    Python's defaults: collecting young objects 14 times less often saved about 8 %
    CPU per small request but kept 15-20 MiB more resident after bursts of large
    responses (bench/), and the memory bound matters more."""
    gc.freeze()


async def serve(config: Config, reuse_port: bool = False) -> int:
    proxy = Proxy(config, reuse_port=reuse_port)
    try:
        await proxy.start()
    except OSError as exc:
        print(f"tlsproxy: cannot listen: {exc}", file=sys.stderr)
        await proxy.stop(0)
        return 1
    for listener in config.listeners:
        print(f"tlsproxy: listening on {listener.label}", file=sys.stderr)
    if proxy.metrics_port is not None:
        where = f"{config.metrics.address}:{proxy.metrics_port}{config.metrics.path}"
        print(f"tlsproxy: metrics on http {where}", file=sys.stderr)
    _tune_garbage_collector()
    stop = handle_signals(proxy, config.source)
    await stop.wait()
    print(
        f"tlsproxy: stopping; draining requests for up to {proxy.config.server.shutdown_grace:g}s",
        file=sys.stderr,
    )
    await proxy.stop()
    print("tlsproxy: stopped", file=sys.stderr)
    return 0

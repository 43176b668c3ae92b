"""Starting, running and draining the proxy: listeners, the backend pool, signals.

``Proxy`` is usable in-process (tests start it on port 0 and read the ports back);
``serve`` is the command-line entry that runs until SIGTERM/SIGINT, then stops
accepting, lets in-flight requests finish within ``server.shutdown_grace`` seconds
and exits.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
import sys
from dataclasses import dataclass

import aiohttp

from .accesslog import AccessLog
from .config import Config, Listener
from .handler import ProxyHandler
from .listener import ListenerHandler
from .protocol import ConnectionGate, ProxyServer
from .redirect import RedirectHandler
from .tls import listener_context
from .upstream import client_session


@dataclass
class _Running:
    listener: Listener
    web_server: ProxyServer
    server: asyncio.Server
    ssl_context: ssl.SSLContext | None

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])


class Proxy:
    """All listeners of one configuration, sharing one backend pool."""

    def __init__(self, config: Config, access_log: AccessLog | None = None) -> None:
        self.config = config
        self.access_log = access_log or AccessLog(config.server.access_log)
        self.running: list[_Running] = []
        self.session: aiohttp.ClientSession | None = None
        # Built before anything listens, so a bad certificate stops the start cleanly.
        self._contexts = [
            listener_context(lst, config.tls.profile) if lst.kind == "https" else None
            for lst in config.listeners
        ]

    @property
    def ports(self) -> list[int]:
        return [r.port for r in self.running]

    async def start(self) -> None:
        config = self.config
        self.session = client_session(config.limits)
        gate = ConnectionGate(config.limits.max_connections)
        limits = config.limits
        for listener, ctx in zip(config.listeners, self._contexts, strict=True):
            handler = self._handler(listener)
            web_server = ProxyServer(
                handler,
                protocol_options={
                    "gate": gate,
                    "header_timeout": limits.header_timeout,
                    "access_log_writer": self.access_log,
                    "hsts": handler.hsts,
                },
                keepalive_timeout=limits.idle_timeout,
                max_line_size=limits.max_header_bytes,
                max_field_size=limits.max_header_bytes,
                max_headers=limits.max_header_count,
                access_log=None,
                auto_decompress=False,  # bodies are relayed as sent
                read_bufsize=64 * 1024,
            )
            family = socket.AF_INET6 if ":" in listener.address else socket.AF_INET
            server = await asyncio.get_running_loop().create_server(
                web_server,
                listener.address,
                listener.port,
                family=family,
                ssl=ctx,
                reuse_address=True,
                backlog=1024,
                ssl_handshake_timeout=limits.header_timeout if ctx else None,
            )
            self.running.append(_Running(listener, web_server, server, ctx))

    def _handler(self, listener: Listener) -> ListenerHandler:
        if listener.kind == "redirect":
            return RedirectHandler(self.config, listener, self.access_log)
        assert self.session is not None
        return ProxyHandler(self.config, listener, self.access_log, self.session)

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting, drain in-flight requests for ``grace`` seconds, close."""
        grace = self.config.server.shutdown_grace if grace is None else grace
        for running in self.running:
            running.server.close()
        await asyncio.gather(*(r.web_server.shutdown(grace) for r in self.running))
        for running in self.running:
            await running.server.wait_closed()
        self.running.clear()
        if self.session is not None:
            await self.session.close()
            self.session = None


async def serve(config: Config) -> int:
    proxy = Proxy(config)
    try:
        await proxy.start()
    except OSError as exc:
        print(f"tlsproxy: cannot listen: {exc}", file=sys.stderr)
        await proxy.stop(0)
        return 1
    for running in proxy.running:
        if running.listener.kind == "http":
            print(
                f"tlsproxy: WARNING: {running.listener.label} serves plain HTTP: "
                "traffic on it is neither encrypted nor authenticated",
                file=sys.stderr,
            )
        print(f"tlsproxy: listening on {running.listener.label}", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print(
        f"tlsproxy: stopping; draining requests for up to {config.server.shutdown_grace:g}s",
        file=sys.stderr,
    )
    await proxy.stop()
    print("tlsproxy: stopped", file=sys.stderr)
    return 0

"""Keep-alive connections to the backends: idle ones per backend, and new ones made
within ``limits.backend_connect_timeout``.

An idle connection is taken newest first (the one least likely to have been closed
by the backend meanwhile) and only while it is younger than ``KEEPALIVE_SECONDS``;
one that the backend closed, or on which bytes arrived while idle, has already left
the pool (``BackendConnection``).
"""

from __future__ import annotations

import asyncio

from .backend_connection import (
    BackendConnection,
    BackendConnectTimeout,
    BackendUnreachable,
)
from .backend_tls import backend_context
from .config import Backend, Limits

KEEPALIVE_SECONDS = 30.0  # below common backends' own (aiohttp 75 s, gunicorn 2 s is lower)
MAX_IDLE_PER_BACKEND = 256
# Backends close idle connections after their own keep-alive time (2 s at the least,
# gunicorn's default); a connection idle for less has not met it yet.
RECENT_SECONDS = 1.0


class BackendPool:
    """The backend connections of one configuration generation."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._loop = asyncio.get_running_loop()
        self._idle: dict[Backend, list[BackendConnection]] = {}
        self.closed = False

    def take_idle(self, backend: Backend, recent: bool = False) -> BackendConnection | None:
        """The newest usable idle connection to ``backend``, or None; with ``recent``,
        only one idle for less than ``RECENT_SECONDS`` (a request that may not be
        retried should not meet a connection the backend is about to close)."""
        idle = self._idle.get(backend)
        if not idle:
            return None
        now = self._loop.time()
        if recent and idle[-1].idle_since < now - RECENT_SECONDS:
            return None
        oldest = now - KEEPALIVE_SECONDS
        while idle:
            connection = idle.pop()
            if connection.idle_since >= oldest and not connection.closed:
                return connection
            connection.close()
        return None

    def put_idle(self, connection: BackendConnection) -> None:
        idle = self._idle.setdefault(connection.backend, [])
        if self.closed or len(idle) >= MAX_IDLE_PER_BACKEND:
            connection.close()
            return
        idle.append(connection)

    def forget(self, connection: BackendConnection) -> None:
        """A connection closed: it is no longer idle here."""
        idle = self._idle.get(connection.backend)
        if idle and connection in idle:
            idle.remove(connection)

    async def connect(self, backend: Backend) -> BackendConnection:
        """A new connection; raises ``BackendConnectTimeout`` (the backend did not accept
        in time) or ``BackendUnreachable`` (refused, unreachable, unknown name)."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._limits.backend_connect_timeout):
                ctx = backend_context(backend)  # https://: TLS, verified (backend_tls)
                _, connection = await loop.create_connection(
                    lambda: BackendConnection(self, backend),
                    backend.host,
                    backend.port,
                    ssl=ctx,
                    server_hostname=backend.host if ctx is not None else None,
                )
        except TimeoutError as exc:
            raise BackendConnectTimeout(f"no connection to {backend.url} in time") from exc
        except OSError as exc:
            raise BackendUnreachable(f"cannot connect to {backend.url}: {exc}") from exc
        return connection

    def close(self) -> None:
        self.closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()

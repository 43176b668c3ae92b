"""Backend health: passive marks from failed exchanges, active probes, state events.

One ``HealthBoard`` per running configuration holds a ``BackendHealth`` per backend
URL, shared by every route that names it. A failed connect marks a backend down for
its route's ``retry_interval`` (passive); an optional periodic GET per route marks it
down after ``fails`` failures in a row and up after ``passes`` successes (active).
Every change of state is one JSON event on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httptools

from .backend_tls import backend_context
from .config import Backend, HealthCheck, Route
from .events import log_event


@dataclass(slots=True)
class BackendHealth:
    backend: Backend
    down_until: float = 0.0  # passive: monotonic time before which it is not chosen
    probed_down: bool = False  # active: the probes' verdict
    fails: int = 0
    passes: int = 0

    def usable(self, now: float) -> bool:
        return not self.probed_down and now >= self.down_until


class HealthBoard:
    """The health of every backend of one configuration."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.states: dict[str, BackendHealth] = {}
        for route in routes:
            for backend in route.backends:
                self.states.setdefault(backend.url, BackendHealth(backend))

    def failed(self, state: BackendHealth, retry_interval: float, cause: BaseException) -> None:
        """A connect (or an idempotent exchange) failed: not chosen for a while."""
        now = time.monotonic()
        if state.usable(now):
            log_event(
                "backend",
                backend=state.backend.url,
                state="down",
                check="passive",
                error=f"{type(cause).__name__}: {cause}",
                retry_in=retry_interval,
            )
        state.down_until = now + retry_interval

    def answered(self, state: BackendHealth) -> None:
        """An exchange succeeded; only called when the backend was marked down."""
        state.down_until = 0.0
        if not state.probed_down:
            log_event("backend", backend=state.backend.url, state="up", check="passive")

    def probed(self, state: BackendHealth, ok: bool, check: HealthCheck, detail: str) -> None:
        if ok:
            state.fails, state.passes = 0, state.passes + 1
            if state.passes >= check.passes and (state.probed_down or state.down_until):
                state.probed_down, state.down_until = False, 0.0
                log_event("backend", backend=state.backend.url, state="up", check="active")
        else:
            state.passes, state.fails = 0, state.fails + 1
            if state.fails >= check.fails and not state.probed_down:
                state.probed_down = True
                log_event(
                    "backend", backend=state.backend.url, state="down", check="active", error=detail
                )


class ActiveChecks:
    """The probe tasks of one configuration: started with it, cancelled when replaced."""

    def __init__(self, routes: Iterable[Route], board: HealthBoard) -> None:
        self.board = board
        self.targets = [
            (board.states[b.url], route.health_check)
            for route in routes
            if route.health_check is not None
            for b in route.backends
        ]
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.ensure_future(self._loop(s, c)) for s, c in self.targets]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks = []

    async def _loop(self, state: BackendHealth, check: HealthCheck) -> None:
        while True:
            ok, detail = await probe(state.backend, check.path, check.timeout)
            self.board.probed(state, ok, check, detail)
            await asyncio.sleep(check.interval)


class _StatusReader:
    """Takes the status code from a response head (llhttp), ignoring the rest."""

    def __init__(self) -> None:
        self.status = 0

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    parser: httptools.HttpResponseParser


async def probe(backend: Backend, path: str, within: float) -> tuple[bool, str]:
    """One ``GET path`` on a new connection: healthy on a 2xx or 3xx answer whose head
    arrives within ``within`` seconds. Returns (healthy, what was seen)."""
    reader = _StatusReader()
    reader.parser = httptools.HttpResponseParser(reader)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {backend.authority}\r\n"
        "User-Agent: tlsproxy-health-check\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    writer = None
    try:
        async with asyncio.timeout(within):
            ctx = backend_context(backend)
            stream, writer = await asyncio.open_connection(
                backend.host,
                backend.port,
                ssl=ctx,
                server_hostname=backend.host if ctx is not None else None,
            )
            writer.write(request)
            while not reader.status:
                data = await stream.read(16 * 1024)
                if not data:
                    return False, "closed before a response head"
                reader.parser.feed_data(data)
    except (TimeoutError, OSError, httptools.HttpParserError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        if writer is not None:
            writer.close()
    return reader.status < 400, f"status {reader.status}"

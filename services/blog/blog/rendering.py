"""Markdown rendering in worker processes: never on the event loop, bounded in time.

The server hands every render (preview and save) to one of RENDER_WORKERS processes
and awaits the answer, so readers are served while an author's text renders. A
render that takes longer than RENDER_SECONDS is cut off by killing its worker (a
thread could not be stopped; a process can), and a new worker takes its place on
the next render. Workers fork from multiprocessing's fork server, which has the
renderer imported once, so a replacement starts in milliseconds.

Requests wait for a free worker at most QUEUE_SECONDS, then get 503: a flood of
previews slows other previews, never reading.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from .markup import MarkupError, render_markdown

log = logging.getLogger("blog.rendering")

RENDER_WORKERS = 2
RENDER_SECONDS = 10.0
QUEUE_SECONDS = 30.0
START_SECONDS = 30.0

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["blog.markup"])

Work = Callable[[str], str]


class RenderTimeout(MarkupError):
    """The render ran out of time and its worker was stopped."""


class RenderBusy(Exception):
    """Every worker stayed busy for QUEUE_SECONDS; the client may retry later (503)."""


def _serve(conn: Connection, work: Work) -> None:
    """A worker's loop: source in, ("ok", html) or ("refused", MarkupError) out."""
    conn.send(("ready", None))  # started and imported: the time limit counts from here on
    while True:
        try:
            source = conn.recv()
        except EOFError:
            return
        try:
            outcome: tuple[str, object] = ("ok", work(source))
        except MarkupError as exc:
            outcome = ("refused", exc)
        except Exception as exc:  # any failure the input causes is a refusal, not a crash
            outcome = ("refused", MarkupError(f"The text could not be rendered ({exc!r})."))
        conn.send(outcome)


class _Worker:
    def __init__(self, work: Work) -> None:
        self.conn, child = _context.Pipe()
        self.process: BaseProcess = _context.Process(
            target=_serve, args=(child, work), daemon=True, name="blog-render"
        )
        self.process.start()
        child.close()
        if not self.conn.poll(START_SECONDS) or self.conn.recv()[0] != "ready":
            self.stop()
            raise RuntimeError(f"a render worker did not start within {START_SECONDS} s")

    def run(self, source: str, seconds: float) -> tuple[str, object]:
        """Blocking: send, wait at most `seconds`, receive. Runs in a thread."""
        self.conn.send(source)
        if not self.conn.poll(seconds):
            raise TimeoutError
        return self.conn.recv()  # type: ignore[no-any-return]

    def stop(self) -> None:
        # The pipe is left to the garbage collector: a thread may still be reading it.
        self.process.kill()
        self.process.join()


class RenderPool:
    """At most `workers` render processes, started on first use.

    `work` is the function the workers run (markup.render_markdown; tests pass
    others). `seconds` bounds one render; `queue_seconds` the wait for a worker.
    """

    def __init__(
        self,
        work: Work = render_markdown,
        workers: int = RENDER_WORKERS,
        seconds: float = RENDER_SECONDS,
        queue_seconds: float = QUEUE_SECONDS,
    ) -> None:
        self.work = work
        self.seconds = seconds
        self.queue_seconds = queue_seconds
        self._slots = asyncio.Semaphore(workers)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self.in_progress = 0  # renders asked for and not yet answered (waiting ones too)

    async def render(self, source: str) -> str:
        """Sanitized HTML for `source`.

        Raises MarkupError (its .status: 400 or 413) when the text is refused, including
        RenderTimeout, and RenderBusy when no worker came free in time.
        """
        self.in_progress += 1
        try:
            try:
                await asyncio.wait_for(self._slots.acquire(), self.queue_seconds)
            except TimeoutError:
                raise RenderBusy from None
            try:
                return await self._render_in_worker(source)
            finally:
                self._slots.release()
        finally:
            self.in_progress -= 1

    async def _render_in_worker(self, source: str) -> str:
        worker = self._idle.pop() if self._idle else await self._start()
        try:
            kind, value = await asyncio.to_thread(worker.run, source, self.seconds)
        except BaseException as exc:  # timeout, a dead worker, or the request cancelled
            await self._discard(worker)
            if isinstance(exc, TimeoutError):
                log.warning("a render took over %s s; its worker was stopped", self.seconds)
                raise RenderTimeout(
                    f"The text took longer than {self.seconds:g} s to render; it probably"
                    " repeats or nests something a great many times. Simplify it."
                ) from None
            if isinstance(exc, (EOFError, OSError)):  # the worker died (its memory limit?)
                log.warning("a render worker stopped while rendering: %r", exc)
                raise MarkupError(
                    "The renderer stopped while rendering this text; simplify it."
                ) from None
            raise
        self._idle.append(worker)
        if kind == "refused":
            assert isinstance(value, MarkupError)
            raise value
        return str(value)

    async def _start(self) -> _Worker:
        worker = await asyncio.to_thread(_Worker, self.work)
        self._all.add(worker)
        return worker

    async def _discard(self, worker: _Worker) -> None:
        self._all.discard(worker)
        await asyncio.to_thread(worker.stop)

    async def close(self) -> None:
        """Stop every worker (the application's cleanup)."""
        workers, self._all, self._idle = list(self._all), set(), []
        for worker in workers:
            await asyncio.to_thread(worker.stop)

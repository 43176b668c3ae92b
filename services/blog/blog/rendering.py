"""CPU-heavy work in worker processes: never on the event loop, bounded in time.

The server hands every Markdown render (preview and save) to one of RENDER_WORKERS
processes, and every uploaded image (imaging.py) to the IMAGE_WORKERS process, and
awaits the answer, so readers are served meanwhile. A job that takes longer than its
pool's time limit is cut off by killing its worker (a thread could not be stopped; a
process can), and a new worker takes its place on the next job. Workers fork from
multiprocessing's fork server, which has the renderer and Pillow imported once, so a
replacement starts in milliseconds.

Requests wait for a free worker at most QUEUE_SECONDS, then get 503: a flood of
previews slows other previews, never reading.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from .imaging import reencode
from .markup import MarkupError, render_markdown
from .media import MediaError
from .refusal import Refusal

log = logging.getLogger("blog.rendering")

RENDER_WORKERS = 2
RENDER_SECONDS = 10.0
IMAGE_WORKERS = 1  # a decoded photo takes up to 100 MB: one at a time
IMAGE_SECONDS = 20.0
QUEUE_SECONDS = 30.0
START_SECONDS = 30.0

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["blog.markup", "blog.imaging"])

Work = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Wording:
    """What the author is told when a job fails outside the work function's own refusals:
    `timeout` may name {seconds}, `failed` the {error}; `busy` when no worker comes free."""

    timeout: str
    died: str
    failed: str
    busy: str


TEXT = Wording(
    timeout="The text took longer than {seconds:g} s to render; it probably repeats or nests"
    " something a great many times. Simplify it.",
    died="The renderer stopped while rendering this text; simplify it.",
    failed="The text could not be rendered ({error!r}).",
    busy="Every renderer is busy; send the form again in a minute.",
)


class RenderBusy(Exception):
    """Every worker stayed busy for QUEUE_SECONDS; the client may retry later (503). The
    message says what to do."""

    retry_after = 60


def _serve(conn: Connection, work: Work, refusal: type[Refusal], wording: Wording) -> None:
    """A worker's loop: a job in, ("ok", result) or ("refused", Refusal) out."""
    conn.send(("ready", None))  # started and imported: the time limit counts from here on
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        try:
            outcome: tuple[str, object] = ("ok", work(job))
        except Refusal as exc:
            outcome = ("refused", exc)
        except Exception as exc:  # any failure the input causes is a refusal, not a crash
            outcome = ("refused", refusal(wording.failed.format(error=exc)))
        conn.send(outcome)


class _Worker:
    def __init__(self, work: Work, refusal: type[Refusal], wording: Wording) -> None:
        self.conn, child = _context.Pipe()
        self.process: BaseProcess = _context.Process(
            target=_serve, args=(child, work, refusal, wording), daemon=True, name="blog-worker"
        )
        self.process.start()
        child.close()
        if not self.conn.poll(START_SECONDS) or self.conn.recv()[0] != "ready":
            self.stop()
            raise RuntimeError(f"a render worker did not start within {START_SECONDS} s")

    def run(self, job: object, seconds: float) -> tuple[str, object]:
        """Blocking: send, wait at most `seconds`, receive. Runs in a thread."""
        self.conn.send(job)
        if not self.conn.poll(seconds):
            raise TimeoutError
        return self.conn.recv()  # type: ignore[no-any-return]

    def stop(self) -> None:
        # The pipe is left to the garbage collector: a thread may still be reading it.
        self.process.kill()
        self.process.join()


class WorkerPool:
    """At most `workers` processes running `work`, started on first use.

    `work` takes one picklable job and returns a picklable result, or raises a Refusal
    saying why the input is refused; any other failure, a job over `seconds` and a
    worker that dies are reported as `refusal` with the `wording`. `queue_seconds`
    bounds the wait for a free worker.
    """

    def __init__(
        self,
        work: Work,
        workers: int,
        seconds: float,
        queue_seconds: float = QUEUE_SECONDS,
        refusal: type[Refusal] = MarkupError,
        wording: Wording = TEXT,
    ) -> None:
        self.work = work
        self.seconds = seconds
        self.queue_seconds = queue_seconds
        self.refusal = refusal
        self.wording = wording
        self._slots = asyncio.Semaphore(workers)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self.in_progress = 0  # renders asked for and not yet answered (waiting ones too)

    async def run(self, job: object) -> object:
        """The work's result for `job`.

        Raises Refusal (its .status: 400 or 413) when the input is refused, ran out of
        time or killed its worker, and RenderBusy when no worker came free in time.
        """
        self.in_progress += 1
        try:
            try:
                await asyncio.wait_for(self._slots.acquire(), self.queue_seconds)
            except TimeoutError:
                raise RenderBusy(self.wording.busy) from None
            try:
                return await self._run_in_worker(job)
            finally:
                self._slots.release()
        finally:
            self.in_progress -= 1

    async def _run_in_worker(self, job: object) -> object:
        worker = self._idle.pop() if self._idle else await self._start()
        try:
            kind, value = await asyncio.to_thread(worker.run, job, self.seconds)
        except BaseException as exc:  # timeout, a dead worker, or the request cancelled
            await self._discard(worker)
            if isinstance(exc, TimeoutError):
                log.warning("a job took over %s s; its worker was stopped", self.seconds)
                raise self.refusal(self.wording.timeout.format(seconds=self.seconds)) from None
            if isinstance(exc, (EOFError, OSError)):  # the worker died (its memory limit?)
                log.warning("a worker stopped while working: %r", exc)
                raise self.refusal(self.wording.died) from None
            raise
        self._idle.append(worker)
        if kind == "refused":
            assert isinstance(value, Refusal)
            raise value
        return value

    async def _start(self) -> _Worker:
        worker = await asyncio.to_thread(_Worker, self.work, self.refusal, self.wording)
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


IMAGES = Wording(
    timeout="The image took longer than {seconds:g} s to process; upload a smaller one.",
    died="The image could not be processed (it needs more memory than the blog has);"
    " upload a smaller one.",
    failed="The image could not be processed ({error!r}); is it damaged?",
    busy="The image worker is busy; send the image again in a minute.",
)


def image_pool() -> WorkerPool:
    """The worker that re-encodes uploads (imaging.reencode)."""
    return WorkerPool(reencode, IMAGE_WORKERS, IMAGE_SECONDS, refusal=MediaError, wording=IMAGES)


class RenderPool(WorkerPool):
    """The Markdown renderers: `work` is markup.render_markdown (tests pass others)."""

    def __init__(
        self,
        work: Work = render_markdown,
        workers: int = RENDER_WORKERS,
        seconds: float = RENDER_SECONDS,
        queue_seconds: float = QUEUE_SECONDS,
    ) -> None:
        super().__init__(work, workers, seconds, queue_seconds)

    async def render(self, source: str) -> str:
        """Sanitized HTML for `source`; raises MarkupError or RenderBusy (see run)."""
        return str(await self.run(source))

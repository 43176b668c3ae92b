"""Work no request waits for: the trash empties itself, old autosaves and ended sessions go.

Runs at start and then every INTERVAL_SECONDS in the server's event loop; each step is
one indexed DELETE. blogctl does not run it: the server does when it next starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator

from aiohttp import web

from . import autosave, keys, posts, sessions
from .config import Settings

log = logging.getLogger("blog")
INTERVAL_SECONDS = 3600


def tidy(conn: sqlite3.Connection, settings: Settings, now: int) -> None:
    """Delete what has outlived its time: the trash after posts.TRASH_DAYS, autosaves after
    autosave.KEEP_DAYS, sessions past their idle or absolute lifetime."""
    emptied = posts.empty_trash(conn, now)
    if emptied:
        log.info("the trash deleted %d entries for good after %d days", emptied, posts.TRASH_DAYS)
    autosave.purge_old(conn, now)
    sessions.purge_expired(
        conn, now, settings.session_idle_seconds, settings.session_absolute_seconds
    )


async def _every_interval(app: web.Application) -> None:
    while True:
        try:
            tidy(app[keys.DB], app[keys.SETTINGS], posts.now_seconds())
        except sqlite3.Error:
            log.exception("housekeeping failed; it is tried again in an hour")
        await asyncio.sleep(INTERVAL_SECONDS)


async def housekeeping_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_every_interval(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

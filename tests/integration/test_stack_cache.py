"""The proxy's cache in the kit (issue 21): readers share kept pages, an author never
gets one of them and never leaves one for them, and a new post reaches readers
within the documented bound (docs/proxy.md, *Cache*: 15 seconds)."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
from multidict import CIMultiDict

from .conftest import Kit
from .stack_probes import record
from .test_blog_through_proxy import STALENESS_BOUND, log_in, publish, seen_after

AUTHOR_ONLY = ("Log out (", 'href="/dashboard"')  # the nav of a logged-in page


def session(kit: Kit) -> aiohttp.ClientSession:
    """A client with its own cookie jar: a reader until it logs in."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=kit.ssl_context()))


async def fetch(client: aiohttp.ClientSession, url: str) -> tuple[str, CIMultiDict[str]]:
    async with client.get(url) as response:
        assert response.status == 200, url
        return await response.text(), response.headers.copy()


def made_for_an_author(page: str) -> bool:
    return any(mark in page for mark in AUTHOR_ONLY)


async def test_an_author_and_readers_never_get_each_others_pages(
    stack: Kit, owner: tuple[str, str]
) -> None:
    async with session(stack) as author, session(stack) as reader:
        await log_in(author, stack, *owner)
        # A page the cache holds for readers is not what the author gets...
        path = stack.url(f"/search?q=cache-{uuid.uuid4().hex[:8]}")
        await fetch(reader, path)
        page, headers = await fetch(reader, path)
        assert "hit" in headers["Cache-Status"] and not made_for_an_author(page)
        page, headers = await fetch(author, path)
        assert made_for_an_author(page) and "Cache-Status" not in headers
        assert headers["Cache-Control"] == "no-store"
        # ...and what the author got first is not kept for readers.
        path = stack.url(f"/search?q=author-{uuid.uuid4().hex[:8]}")
        page, _ = await fetch(author, path)
        assert made_for_an_author(page)
        page, headers = await fetch(reader, path)
        assert not made_for_an_author(page) and "fwd=uri-miss" in headers["Cache-Status"]
        # All at once on one new page (collapsing must not mix them either).
        path = stack.url(f"/search?q=together-{uuid.uuid4().hex[:8]}")
        answers = await asyncio.gather(
            *(fetch(author if n % 3 == 0 else reader, path) for n in range(18))
        )
        for n, (page, _) in enumerate(answers):
            assert made_for_an_author(page) is (n % 3 == 0), n
    record("cache", "author and readers kept apart")


async def test_a_new_post_reaches_readers_within_the_documented_bound(
    stack: Kit, owner: tuple[str, str]
) -> None:
    title = f"Fresh through the cache {uuid.uuid4().hex[:8]}"
    async with session(stack) as author, session(stack) as reader:
        await log_in(author, stack, *owner)
        await fetch(reader, stack.url("/"))
        _, headers = await fetch(reader, stack.url("/"))
        assert "hit" in headers["Cache-Status"]  # the front page is kept
        started = time.monotonic()
        await publish(author, stack, title, "Shared widely.")
        published = time.monotonic() - started  # the publication happened within this
        elapsed = await seen_after(reader, stack, ("/", "/feed.atom"), title)
    assert set(elapsed) == {"/", "/feed.atom"}, "the new post never reached the reader"
    late = max(elapsed.values()) + published
    assert late <= STALENESS_BOUND + 1  # one revalidation's time on top
    record("cache", f"new post seen by a reader after at most {late:.1f} s")

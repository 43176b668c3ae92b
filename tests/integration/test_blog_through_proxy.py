"""An author's day over HTTPS through the proxy: log in, write, read it back, log out."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import aiohttp

from .conftest import Kit

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_token(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        assert response.status == 200, url
        found = CSRF.search(await response.text())
    assert found, f"no csrf_token in {url}"
    return found.group(1)


async def log_in(session: aiohttp.ClientSession, kit: Kit, user: str, password: str) -> None:
    token = await csrf_token(session, kit.url("/login"))
    form = {"username": user, "password": password, "csrf_token": token}
    async with session.post(kit.url("/login"), data=form, allow_redirects=False) as response:
        assert response.status == 303, await response.text()
        assert response.headers["Location"] == "/dashboard"
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith("__Host-blog_session=")
        for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
            assert flag in cookie


async def publish(session: aiohttp.ClientSession, kit: Kit, title: str, body_md: str) -> None:
    token = await csrf_token(session, kit.url("/dashboard/posts/new"))
    form = {"title": title, "kind": "post", "body_md": body_md, "tags": "kit",
            "action": "publish", "csrf_token": token}  # fmt: skip
    async with session.post(kit.url("/dashboard/posts/new"), data=form) as response:
        assert response.status == 200


# How late readers may see a change through the proxy's cache (docs/proxy.md, *Cache*):
# the blog's max-age=5 plus stale-while-revalidate=10.
STALENESS_BOUND = 15.0


async def seen_after(
    reader: aiohttp.ClientSession, kit: Kit, paths: tuple[str, ...], text: str
) -> dict[str, float]:
    """Seconds until each of ``paths`` showed ``text`` to ``reader``, asking every quarter
    second for a little longer than ``STALENESS_BOUND``; paths that never did are absent."""
    started = time.monotonic()
    seen: dict[str, float] = {}
    while len(seen) < len(paths) and time.monotonic() - started < STALENESS_BOUND + 3:
        for path in paths:
            if path not in seen:
                async with reader.get(kit.url(path)) as response:
                    if response.status == 200 and text in await response.text():
                        seen[path] = time.monotonic() - started
        await asyncio.sleep(0.25)
    return seen


async def test_owner_logs_in_writes_a_post_and_readers_see_it(
    stack: Kit, owner: tuple[str, str], https: aiohttp.ClientSession
) -> None:
    await log_in(https, stack, *owner)
    title = f"Written through the proxy {uuid.uuid4().hex[:8]}"
    await publish(https, stack, title, "Hello **over TLS**.")

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=stack.ssl_context())
    ) as reader:  # a reader with no session: pages kept by the proxy for a few seconds
        seen = await seen_after(reader, stack, ("/", "/feed.atom"), title)
    assert set(seen) == {"/", "/feed.atom"}

    token = await csrf_token(https, stack.url("/dashboard"))
    async with https.post(stack.url("/logout"), data={"csrf_token": token}) as response:
        assert response.status == 200
    async with https.get(stack.url("/dashboard"), allow_redirects=False) as response:
        assert response.status in (302, 303)  # logged out: sent to the login page


async def test_wrong_password_is_refused(
    stack: Kit, owner: tuple[str, str], https: aiohttp.ClientSession
) -> None:
    token = await csrf_token(https, stack.url("/login"))
    form = {"username": owner[0], "password": "not the password", "csrf_token": token}
    async with https.post(stack.url("/login"), data=form, allow_redirects=False) as response:
        assert response.status == 401
        assert "__Host-blog_session" not in response.headers.get("Set-Cookie", "")


async def test_post_survives_blog_restart(
    stack: Kit, owner: tuple[str, str], https: aiohttp.ClientSession
) -> None:
    """The data lives on the named volume, not in the container."""
    await log_in(https, stack, *owner)
    title = f"Kept on the volume {uuid.uuid4().hex[:8]}"
    await publish(https, stack, title, "durable")
    stack.compose("up", "-d", "--wait", "--force-recreate", "--no-deps", "blog")
    async with https.get(stack.url("/")) as front:
        assert front.status == 200
        assert title in await front.text()

"""Faults: a stopped or killed blog, a restarted proxy, the whole stack down and up.

Every test leaves the stack running and healthy (`up -d --wait`), and looks its
containers up afresh, since these tests restart and recreate them.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
import docker

from .conftest import Kit, service_container
from .stack_probes import get_request, record, send_raw
from .test_blog_through_proxy import csrf_token, log_in

CONNECT_TIMEOUT = 5  # [limits] backend_connect_timeout in services/proxy/proxy.toml
# Start what is stopped, recreate nothing: an image rebuilt while the session runs must
# not swap the containers under the tests.
ACKNOWLEDGED_BEFORE_KILL = 30
BRING_BACK = ("up", "-d", "--wait", "--no-recreate", "--no-deps")


def started_at(client: docker.DockerClient, kit: Kit, service: str) -> str:
    container = service_container(client, kit, service)
    return str(container.attrs["State"]["StartedAt"])


def wait_until_served(kit: Kit, timeout: float = 60.0) -> int:
    """Poll the front page through the proxy until the blog answers; the last status."""
    deadline = time.monotonic() + timeout
    status: int | None = None
    while time.monotonic() < deadline:
        try:
            status = send_raw(kit, get_request("/"), timeout=10).status
        except OSError:
            status = None  # proxy not listening yet
        if status == 200:
            return status
        time.sleep(0.5)
    raise AssertionError(f"not served again within {timeout} s (last status {status})")


def session(kit: Kit) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=kit.ssl_context()))


async def publish(https: aiohttp.ClientSession, kit: Kit, title: str, token: str) -> int | None:
    """Publish a post; the id the blog acknowledged with its 303, None when not acknowledged."""
    form = {"title": title, "kind": "post", "body_md": title, "action": "publish"}
    async with https.post(
        kit.url("/dashboard/posts/new"),
        data={**form, "csrf_token": token},
        allow_redirects=False,
    ) as response:
        if response.status != 303:
            return None
        return int(response.headers["Location"].split("/")[3].split("?")[0])


def test_blog_stopped_gets_502_or_503_within_connect_timeout_then_served_again(
    stack: Kit, docker_client: docker.DockerClient
) -> None:
    proxy_started = started_at(docker_client, stack, "proxy")
    stack.compose("stop", "blog")
    try:
        # The socket timeout bounds the wait: the answer must come within the connect timeout.
        answer = send_raw(stack, get_request("/"), timeout=CONNECT_TIMEOUT + 3)
        assert answer.status in (502, 503), answer
        assert answer.leaks() == [], answer.body  # no backend name, address or error text
    finally:
        stack.compose(*BRING_BACK, "blog")
    assert wait_until_served(stack) == 200
    assert started_at(docker_client, stack, "proxy") == proxy_started  # nobody touched it
    record("faults survived", "blog stopped")


def test_proxy_restarted_serves_again_without_touching_the_blog(
    stack: Kit, docker_client: docker.DockerClient
) -> None:
    blog_started = started_at(docker_client, stack, "blog")
    stack.compose("restart", "proxy")
    try:
        assert wait_until_served(stack) == 200
    finally:
        stack.compose(*BRING_BACK)
    assert started_at(docker_client, stack, "blog") == blog_started
    record("faults survived", "proxy restarted")


async def test_blog_sigkilled_during_write_burst_loses_no_acknowledged_write(
    stack: Kit, owner: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    acknowledged: dict[int, str] = {}
    killed = asyncio.Event()
    enough_acknowledged = asyncio.Event()  # kill mid-burst, once some writes are through
    async with session(stack) as https:
        await log_in(https, stack, *owner)
        token = await csrf_token(https, stack.url("/dashboard/posts/new"))

        async def writer(name: int) -> None:
            for n in range(100):
                title = f"burst {name}-{n} {uuid.uuid4().hex[:8]}"
                try:
                    post_id = await publish(https, stack, title, token)
                except aiohttp.ClientError:
                    post_id = None
                if post_id is not None:
                    acknowledged[post_id] = title
                    if len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL:
                        enough_acknowledged.set()
                elif killed.is_set():
                    return

        async def killer() -> None:
            await enough_acknowledged.wait()
            blog = service_container(docker_client, stack, "blog")
            await asyncio.to_thread(blog.kill)  # SIGKILL
            killed.set()

        try:
            await asyncio.wait_for(asyncio.gather(killer(), *(writer(i) for i in range(4))), 120)
        finally:
            await asyncio.to_thread(stack.compose, *BRING_BACK, "blog")
        assert killed.is_set() and acknowledged
        await asyncio.to_thread(wait_until_served, stack)

        lost = []
        for post_id, title in acknowledged.items():
            async with https.get(stack.url(f"/dashboard/posts/{post_id}")) as response:
                if response.status != 200 or title not in await response.text():
                    lost.append(title)
    for _ in acknowledged:
        record("writes acknowledged", "post")
    for title in lost:
        record("writes lost", title)
    assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged writes lost"
    record("faults survived", "blog SIGKILL during a write burst")


async def test_post_survives_compose_down_and_up(stack: Kit, owner: tuple[str, str]) -> None:
    """`make down` / `make up`: the containers go, the named volume and the post stay."""
    title = f"Survives down and up {uuid.uuid4().hex[:8]}"
    async with session(stack) as https:
        await log_in(https, stack, *owner)
        token = await csrf_token(https, stack.url("/dashboard/posts/new"))
        assert await publish(https, stack, title, token) is not None
    await asyncio.to_thread(stack.compose, "down")
    await asyncio.to_thread(stack.compose, "up", "-d", "--wait")
    async with session(stack) as reader, reader.get(stack.url("/")) as front:
        assert front.status == 200
        assert title in await front.text()
    record("faults survived", "compose down and up")

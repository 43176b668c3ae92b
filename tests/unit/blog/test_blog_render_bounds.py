"""Markdown rendering is bounded in size, nesting and time, and never holds the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from blog.markup import MAX_DEPTH, MAX_SOURCE_BYTES, exceeds_depth, render_markdown
from blog.rendering import RenderPool
from blog_testkit import add_user, csrf_from, login
from render_jobs import render_by_dying, render_slowly_unless_quick, render_when_released


async def admin_rendering_with(make_client, pool: RenderPool) -> TestClient:
    client = await make_client(renderer=pool)
    add_user(client, "alice")
    assert (await login(client, "alice")).status == 303
    return client


async def until_rendering(pool: RenderPool) -> None:
    while not pool.in_progress:  # noqa: ASYNC110 - a public counter, no event to wait on
        await asyncio.sleep(0.01)


async def submit(client: TestClient, body: str, action: str = "preview"):
    token = await csrf_from(client, "/dashboard/posts/new")
    form = {"title": "T", "kind": "post", "body_md": body, "action": action, "csrf_token": token}
    return await client.post("/dashboard/posts/new", data=form, allow_redirects=False)


# The inputs and others of their kind: (body, status, words of the message).
REFUSED = [
    (">" * 100_000 + " x", 400, "nests more than"),
    ("<blockquote>" * 100_000, 413, "the limit is 256 KiB"),
    ("<blockquote>" * 20_000, 400, "nests more than"),  # under the size limit
    ("<b>" * 80_000, 400, "nests more than"),
    ("".join("  " * i + "- x\n" for i in range(40)), 400, "nests more than"),
    ("a" * (MAX_SOURCE_BYTES + 1), 413, "the limit is 256 KiB"),
    ("é" * (MAX_SOURCE_BYTES // 2 + 1), 413, "the limit is 256 KiB"),  # bytes, not characters
]


@pytest.mark.parametrize("action", ["preview", "publish"])
@pytest.mark.parametrize(("body", "status", "words"), REFUSED, ids=range(len(REFUSED)))
async def test_over_a_bound_is_refused_with_the_reason_and_the_text_kept(
    admin_client: TestClient, db: sqlite3.Connection, body, status, words, action
) -> None:
    response = await submit(admin_client, body, action)
    page = await response.text()
    assert response.status == status
    assert words in page
    assert body[:50].replace(">", "&gt;").replace("<", "&lt;") in page  # the text is kept
    assert db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0


@pytest.mark.parametrize(
    "body",
    [
        ">" * (MAX_DEPTH - 1) + " deepest",  # blockquotes and a paragraph: exactly the limit
        "a" * MAX_SOURCE_BYTES,
        "<ul>" + "<li>item" * 500 + "</ul>",  # optional end tags are not counted as nesting
        "<p>one<p>two<div>three</div>" * 300,
        "<table><tr><td>a<td>b<tr><th>c</table>" * 300,
        "<b/>" * 20 + "text",
    ],
)
async def test_within_the_bounds_renders(admin_client: TestClient, body: str) -> None:
    response = await submit(admin_client, body)
    assert response.status == 200, (await response.text())[:300]


def test_depth_gauge_counts_what_a_browser_would_open() -> None:
    assert not exceeds_depth("<div>" * MAX_DEPTH)
    assert exceeds_depth("<div>" * (MAX_DEPTH + 1))
    assert not exceeds_depth("<div></div>" * 10_000)
    assert not exceeds_depth("<br><img src=x><hr>" * 10_000)
    assert not exceeds_depth("<script>" + "<div>" * 100 + "</script>")  # raw text, no elements


def test_markdown_deeper_than_the_renderer_keeps_is_refused_not_cut() -> None:
    """markdown-it drops what lies past its nesting limit; the text must not vanish unseen."""
    with pytest.raises(ValueError, match="nests more than"):
        render_markdown(">" * (MAX_DEPTH + 10) + " the last words")


async def test_the_event_loop_serves_others_while_a_render_runs(
    make_client, tmp_path: Path
) -> None:
    """No timing: the render waits for a file only the test creates, after GET / answered."""
    pool = RenderPool(work=render_when_released)
    client = await admin_rendering_with(make_client, pool)
    gate = tmp_path / "release"
    preview = asyncio.ensure_future(submit(client, str(gate)))
    await until_rendering(pool)
    front = await client.get("/")
    assert front.status == 200
    assert not preview.done()  # the render is still running, in its worker
    gate.touch()
    response = await preview
    assert response.status == 200 and "released" in await response.text()


async def test_a_render_over_time_is_stopped_and_the_next_one_works(make_client) -> None:
    pool = RenderPool(work=render_slowly_unless_quick, workers=1, seconds=1.0)
    client = await admin_rendering_with(make_client, pool)
    response = await submit(client, "slow")
    assert response.status == 400
    assert "took longer than 1 s to render" in await response.text()
    quick = await submit(client, "quick")
    assert quick.status == 200 and "<p>quick</p>" in await quick.text()


async def test_when_every_worker_stays_busy_the_answer_is_503(make_client, tmp_path: Path) -> None:
    pool = RenderPool(work=render_when_released, workers=1, queue_seconds=0.2)
    client = await admin_rendering_with(make_client, pool)
    gate = tmp_path / "release"
    first = asyncio.ensure_future(submit(client, str(gate)))
    await until_rendering(pool)
    second = await submit(client, str(gate))
    assert second.status == 503 and second.headers["Retry-After"] == "60"
    gate.touch()
    assert (await first).status == 200


async def test_a_worker_that_dies_is_a_refusal_and_is_replaced(make_client) -> None:
    pool = RenderPool(work=render_by_dying, workers=1)
    client = await admin_rendering_with(make_client, pool)
    for _ in range(2):  # the second render gets a new worker
        response = await submit(client, "anything")
        assert response.status == 400
        assert "The renderer stopped while rendering this text" in await response.text()

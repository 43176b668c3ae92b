"""The site's time zone: scheduling read in it, dates shown in it with the zone named,
feeds with its exact offset. The clock is injected (posts.now_seconds)."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser
import pytest
from aiohttp.test_utils import TestClient
from blog import keys, posts, timefmt
from blog.config import ConfigError, load_settings
from blog_testkit import add_user, form_fields, login, save_entry


def utc(*fields: int) -> int:
    return int(datetime(*fields, tzinfo=UTC).timestamp())


@pytest.fixture
async def paris_admin(make_client) -> TestClient:
    client = await make_client(timezone="Europe/Paris", public_url="https://blog.example")
    add_user(client, "alice", "admin")
    assert (await login(client, "alice")).status == 303
    return client


@pytest.mark.parametrize(
    ("wall_clock", "instant", "offset"),
    [
        ("2027-01-15T09:00", utc(2027, 1, 15, 8, 0), "+01:00"),  # winter: CET
        ("2027-07-15T09:00", utc(2027, 7, 15, 7, 0), "+02:00"),  # summer: CEST
    ],
)
async def test_a_post_scheduled_at_nine_in_paris_appears_at_the_right_utc_instant(
    paris_admin: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    wall_clock: str,
    instant: int,
    offset: str,
) -> None:
    monkeypatch.setattr(posts, "now_seconds", lambda: utc(2027, 1, 1, 0, 0))
    saved = await save_entry(
        paris_admin, "/dashboard/posts/new", title="Breakfast", publish_at=wall_clock
    )
    assert saved.status == 303
    db = paris_admin.server.app[keys.DB]
    post = posts.get_by_slug(db, "breakfast")
    assert post is not None and post.published_at == instant
    editor = await (await paris_admin.get(saved.headers["Location"])).text()
    assert form_fields(editor)["publish_at"] == wall_clock  # shown as 09:00 again
    assert "09:00 Europe/Paris" in editor  # "it will be published at ..."

    paris_admin.session.cookie_jar.clear()  # a reader, one second before
    monkeypatch.setattr(posts, "now_seconds", lambda: instant - 1)
    assert (await paris_admin.get("/posts/breakfast")).status == 404
    monkeypatch.setattr(posts, "now_seconds", lambda: instant)
    page = await paris_admin.get("/posts/breakfast")
    assert page.status == 200
    body = await page.text()
    assert "09:00 Europe/Paris" in body
    assert f'datetime="{wall_clock}:00{offset}"' in body

    atom = await (await paris_admin.get("/feed.atom")).text()
    assert f"<published>{wall_clock}:00{offset}</published>" in atom
    parsed = feedparser.parse(atom).entries[0].published_parsed  # back to the same instant
    assert datetime(*parsed[:6], tzinfo=UTC).timestamp() == instant
    rss = await (await paris_admin.get("/feed.rss")).text()
    assert f"09:00:00 {offset.replace(':', '')}</pubDate>" in rss


async def test_dates_default_to_utc_and_say_so(client: TestClient) -> None:
    db = client.server.app[keys.DB]
    posts.create_post(
        db, title="Noon", body_md="x", status="published", published_at=utc(2026, 1, 2, 12, 0)
    )
    assert "12:00 UTC" in await (await client.get("/posts/noon")).text()


def test_the_clocks_gaps_and_overlaps_read_as_before_the_change() -> None:
    paris = timefmt.zoneinfo.ZoneInfo("Europe/Paris")
    # 02:30 on 28 March 2027 does not exist in Paris; read with the winter offset.
    assert timefmt.parse_local_input("2027-03-28T02:30", paris) == utc(2027, 3, 28, 1, 30)
    # 02:30 on 31 October 2027 happens twice; the first (summer time) is taken.
    assert timefmt.parse_local_input("2027-10-31T02:30", paris) == utc(2027, 10, 31, 0, 30)


@pytest.mark.parametrize("value", ["Mars/Olympus", "../../etc/passwd", "Europe"])
def test_an_unknown_zone_in_the_environment_stops_the_start(value: str) -> None:
    with pytest.raises(ConfigError, match="BLOG_TIMEZONE"):
        load_settings({"BLOG_TIMEZONE": value})


async def test_an_author_sees_the_zone_the_editor_reads_times_in(paris_admin: TestClient) -> None:
    editor = await (await paris_admin.get("/dashboard/posts/new")).text()
    assert "Publish at (Europe/Paris time;" in editor

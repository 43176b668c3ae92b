"""Publication times are bounded (timefmt.EARLIEST..LATEST, 1970 to 9998 UTC) at every
way in, and a stored time outside the bound (an older database) never breaks a page."""

from __future__ import annotations

import sqlite3
import zoneinfo

import pytest
from aiohttp.test_utils import TestClient
from blog import importing, keys, posts, timefmt
from blog_testkit import form_fields, save_entry
from test_blog_sharing import save_settings

PAGES = ("/", "/feed.atom", "/feed.rss", "/archive", "/sitemap.xml")


@pytest.mark.parametrize(
    "typed",
    ["0001-01-01T00:00+14:00", "9999-12-31T23:59-14:00", "1969-12-31T23:59", "9999-06-01T00:00"],
)
async def test_the_editor_refuses_a_time_outside_the_range_and_keeps_the_text(
    admin_client: TestClient, typed: str
) -> None:
    response = await save_entry(
        admin_client, "/dashboard/posts/new", title="Old", body_md="kept body", publish_at=typed
    )
    assert response.status == 400
    page = await response.text()
    assert "between 1 January 1970 and 31 December 9998" in page
    fields = form_fields(page)
    assert fields["publish_at"] == typed and fields["body_md"] == "kept body"
    assert posts.get_by_slug(admin_client.server.app[keys.DB], "old") is None


@pytest.mark.parametrize("stored", [-62135596800 - 86400, -1, timefmt.LATEST + 1, 253402300799])
@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo", "Pacific/Kiritimati"])
async def test_a_stored_time_outside_the_range_is_shown_without_an_error(
    admin_client: TestClient, stored: int, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db: sqlite3.Connection = admin_client.server.app[keys.DB]
    assert (await save_settings(admin_client, timezone=zone)).status == 303
    post = posts.create_post(db, title="Edge", body_md="x", status="published", published_at=0)
    with db:
        db.execute("UPDATE posts SET published_at = ? WHERE id = ?", (stored, post.id))
    monkeypatch.setattr(posts, "now_seconds", lambda: max(stored, 0) + 1)
    assert (await admin_client.get("/dashboard")).status == 200
    assert (await admin_client.get(f"/dashboard/posts/{post.id}")).status == 200
    admin_client.session.cookie_jar.clear()
    for path in (*PAGES, "/posts/edge"):
        assert (await admin_client.get(path)).status in (200, 404), path


async def test_an_import_drops_a_date_outside_the_range_and_says_so(
    admin_client: TestClient,
) -> None:
    db: sqlite3.Connection = admin_client.server.app[keys.DB]
    far = importing.Item(
        "wxr:far", "post", "Far", "far", "<p>x</p>", "published", 253402300799, None, None
    )
    kept = importing.Item(
        "wxr:kept", "post", "Kept", "kept", "<p>x</p>", "draft", timefmt.LATEST, None, None
    )
    assert any("date dropped" in line for line in importing.plan(db, [far]).lines)
    report = importing.import_items(db, [far, kept])
    assert "date dropped (not between 1 January 1970 and 31 December 9998): Far" in report.lines
    stored = posts.get_by_slug(db, "far")
    assert stored is not None and timefmt.in_range(stored.published_at or -1)
    assert posts.get_by_slug(db, "kept").published_at == timefmt.LATEST  # type: ignore[union-attr]
    assert (await save_settings(admin_client, timezone="Asia/Tokyo")).status == 303
    assert (await admin_client.get("/dashboard")).status == 200


def test_the_range_is_showable_in_every_zone() -> None:
    for name in ("Pacific/Kiritimati", "Etc/GMT+12", "America/New_York"):
        zone = zoneinfo.ZoneInfo(name)
        for seconds in (timefmt.EARLIEST, timefmt.LATEST, -(10**12), 10**15):
            assert timefmt.human_time(seconds, zone)
            assert timefmt.rfc822(seconds, zone)

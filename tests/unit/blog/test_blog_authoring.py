"""The writing UI: create, preview, drafts, scheduling, categories, tags, edit, delete, roles."""

from __future__ import annotations

import sqlite3

import pytest
from aiohttp.test_utils import TestClient
from blog import posts, timefmt
from blog_testkit import add_user, login, post_form, save_entry


async def test_anonymous_cannot_reach_dashboard(client: TestClient) -> None:
    response = await client.get("/dashboard", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/dashboard"
    # A POST with a valid anonymous CSRF token is still refused: no login.
    response = await post_form(
        client, "/dashboard/posts/new", "/login", title="x", action="publish"
    )
    assert response.status == 401


async def test_publish_now_appears_on_front_page(admin_client: TestClient) -> None:
    response = await save_entry(
        admin_client, "/dashboard/posts/new", title="Hello *world*", body_md="Some **bold** text"
    )
    assert response.status == 303
    front = await (await admin_client.get("/")).text()
    assert "Hello *world*" in front and "<strong>bold</strong>" in front
    page = await admin_client.get("/posts/hello-world")
    assert page.status == 200


async def test_preview_saves_nothing(admin_client: TestClient, db: sqlite3.Connection) -> None:
    response = await save_entry(
        admin_client,
        "/dashboard/posts/new",
        body_md="# Heading\n\n<script>x()</script>",
        action="preview",
    )
    body = await response.text()
    assert response.status == 200
    assert "<h1>Heading</h1>" in body and "<script>x()" not in body
    assert db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0


async def test_draft_is_private_until_published(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    await save_entry(admin_client, "/dashboard/posts/new", title="Secret plan", action="draft")
    post = posts.get_by_slug(db, "secret-plan")
    assert post is not None and post.status == "draft"
    assert (await admin_client.get("/posts/secret-plan")).status == 404
    assert "Secret plan" not in await (await admin_client.get("/")).text()
    await save_entry(admin_client, f"/dashboard/posts/{post.id}", title="Secret plan")
    assert (await admin_client.get("/posts/secret-plan")).status == 200


async def test_scheduled_post_appears_at_its_time(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    future = posts.now_seconds() + 3600
    await save_entry(
        admin_client, "/dashboard/posts/new", title="Later", publish_at=timefmt.local_input(future)
    )
    post = posts.get_by_slug(db, "later")
    assert post is not None and post.state(posts.now_seconds()) == "scheduled"
    assert (await admin_client.get("/posts/later")).status == 404
    dashboard = await (await admin_client.get("/dashboard")).text()
    assert "scheduled" in dashboard
    # Time passes: move the schedule into the past instead of sleeping.
    db.execute("UPDATE posts SET published_at = ? WHERE id = ?", (future - 7200, post.id))
    assert (await admin_client.get("/posts/later")).status == 200


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"title": ""}, "A title is required"),
        ({"title": "x" * 201}, "longer than 200"),
        ({"kind": "page"}, "Kind must be"),
        ({"publish_at": "not a date"}, "not a valid date"),
    ],
)
async def test_invalid_forms_are_refused(
    admin_client: TestClient, db: sqlite3.Connection, fields: dict[str, str], error: str
) -> None:
    response = await save_entry(admin_client, "/dashboard/posts/new", **fields)
    assert response.status == 400
    assert error in await response.text()
    assert db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0


async def test_categories_and_tags(admin_client: TestClient) -> None:
    await save_entry(
        admin_client,
        "/dashboard/posts/new",
        title="Tagged",
        category="Travel Notes",
        tags="rail, Europe",
    )
    await save_entry(admin_client, "/dashboard/posts/new", title="Untagged")
    page = await (await admin_client.get("/posts/tagged")).text()
    assert 'href="/category/travel-notes"' in page and 'href="/tag/rail"' in page
    category = await (await admin_client.get("/category/travel-notes")).text()
    assert "Tagged" in category and "Untagged" not in category
    tag = await (await admin_client.get("/tag/europe")).text()
    assert "Tagged" in tag and "Untagged" not in tag
    index = await (await admin_client.get("/categories")).text()
    assert "Travel Notes" in index and "#rail" in index
    assert (await admin_client.get("/tag/nope")).status == 404


async def test_edit_then_trash_then_restore(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    await save_entry(admin_client, "/dashboard/posts/new", title="First title")
    post = posts.get_by_slug(db, "first-title")
    assert post is not None
    form = await (await admin_client.get(f"/dashboard/posts/{post.id}")).text()
    assert 'value="First title"' in form
    await save_entry(
        admin_client, f"/dashboard/posts/{post.id}", title="First title", body_md="changed"
    )
    assert "changed" in await (await admin_client.get("/posts/first-title")).text()
    trashed = await save_entry(
        admin_client, f"/dashboard/posts/{post.id}", action="trash", confirmed="trash",
        title="First title", body_md="changed",
    )  # fmt: skip
    assert trashed.status == 303
    in_trash = posts.get_by_id(db, post.id)
    assert in_trash is not None and in_trash.state(posts.now_seconds()) == "trash"
    assert (await admin_client.get("/posts/first-title")).status == 404
    response = await post_form(
        admin_client, f"/dashboard/posts/{post.id}/restore", "/dashboard/trash"
    )
    assert response.status == 303
    restored = posts.get_by_id(db, post.id)
    assert restored is not None and restored.state(posts.now_seconds()) == "draft"
    assert restored.body_md == "changed"


async def test_author_edits_only_own_posts(client: TestClient, db: sqlite3.Connection) -> None:
    admin = add_user(client, "alice", "admin")
    add_user(client, "bob", "author")
    theirs = posts.create_post(
        db, title="Alice's", body_md="x", status="published", author_id=admin.id
    )
    await login(client, "bob")
    await save_entry(client, "/dashboard/posts/new", title="Bob's")
    mine = posts.get_by_slug(db, "bob-s")
    assert mine is not None
    dashboard = await (await client.get("/dashboard")).text()
    assert "Bob&#39;s" in dashboard and "Alice&#39;s" not in dashboard
    # Someone else's entry answers exactly as one that does not exist: 404, same body.
    missing = await client.get("/dashboard/posts/999999")
    other = await client.get(f"/dashboard/posts/{theirs.id}")
    assert (other.status, await other.text()) == (404, await missing.text())
    token_page = f"/dashboard/posts/{mine.id}"
    for verb in ("delete", "restore"):
        response = await post_form(client, f"/dashboard/posts/{theirs.id}/{verb}", token_page)
        assert response.status == 404
    for page in ("", "/revisions", "/revisions/1"):
        assert (await client.get(f"/dashboard/posts/{theirs.id}{page}")).status == 404
    form = {"title": "Taken over", "body_md": "x", "kind": "post", "action": "publish"}
    response = await post_form(client, f"/dashboard/posts/{theirs.id}", token_page, **form)
    assert response.status == 404
    assert posts.get_by_id(db, theirs.id).title == "Alice's"  # type: ignore[union-attr]
    assert (await client.get("/dashboard/users", allow_redirects=False)).status == 403


async def test_admin_edits_everyone_and_manages_users(
    client: TestClient, db: sqlite3.Connection
) -> None:
    add_user(client, "alice", "admin")
    bob = add_user(client, "bob", "author")
    theirs = posts.create_post(db, title="Bob's", body_md="x", status="published", author_id=bob.id)
    await login(client, "alice")
    assert (await client.get(f"/dashboard/posts/{theirs.id}")).status == 200
    users_page = await (await client.get("/dashboard/users")).text()
    assert "bob" in users_page
    response = await post_form(client, f"/dashboard/users/{bob.id}/disable", "/dashboard/users")
    assert response.status == 303
    assert db.execute("SELECT disabled FROM users WHERE id = ?", (bob.id,)).fetchone()[0] == 1
    # The post keeps its author after an admin edit.
    await save_entry(client, f"/dashboard/posts/{theirs.id}", title="Bob's")
    assert posts.get_by_id(db, theirs.id).author_id == bob.id  # type: ignore[union-attr]


async def test_stories_have_their_own_pages(admin_client: TestClient) -> None:
    await save_entry(admin_client, "/dashboard/posts/new", title="A long story", kind="story")
    assert (await admin_client.get("/stories/a-long-story")).status == 200
    assert (await admin_client.get("/posts/a-long-story")).status == 404
    assert "A long story" in await (await admin_client.get("/stories/")).text()
    assert "A long story" not in await (await admin_client.get("/")).text()
    moved = await admin_client.get("/stories", allow_redirects=False)
    assert (moved.status, moved.headers["Location"]) == (301, "/stories/")

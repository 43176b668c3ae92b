"""Nothing typed is lost when a session ends or a form's token is stale: the editor's text
comes back, through the login form when needed. Nothing is saved on the way."""

from __future__ import annotations

import sqlite3
import time

import pytest
from aiohttp.test_utils import TestClient
from blog import posts, totp
from blog_testkit import PASSWORD, add_user, editor_form, form_fields, login, post_form

SAME_SITE = {"Sec-Fetch-Site": "same-origin"}
TEXT = "An hour of writing.\n\nSecond paragraph, with ünïcödé."


def end_sessions(db: sqlite3.Connection) -> None:
    """The idle time passes: every session was last used long ago."""
    db.execute("UPDATE sessions SET last_seen = last_seen - 86400, created_at = created_at - 86400")


async def send(client: TestClient, path: str, fields: dict[str, str], **headers: str):
    return await client.post(path, data=fields, headers=headers, allow_redirects=False)


async def log_in_again(client: TestClient, page: str, name: str = "alice") -> str:
    """Fill the login form of `page` (with what it carries) and follow to the editor."""
    fields = {**form_fields(page, "login"), "username": name, "password": PASSWORD}
    response = await send(client, "/login", fields)
    assert response.status == 303
    return response.headers["Location"]


@pytest.mark.parametrize("existing", [False, True], ids=["new entry", "existing entry"])
async def test_a_session_that_ends_mid_edit_loses_nothing(
    admin_client: TestClient, db: sqlite3.Connection, existing: bool
) -> None:
    path = "/dashboard/posts/new"
    if existing:
        post = posts.create_post(db, title="Old title", body_md="old", status="published")
        path = f"/dashboard/posts/{post.id}"
    fields = await editor_form(admin_client, path)
    written = {**fields, "title": "My essay", "body_md": TEXT, "action": "publish"}
    end_sessions(db)
    response = await send(admin_client, path, written, **SAME_SITE)
    page = await response.text()
    assert response.status == 401 and "You are logged out" in page
    assert "My essay" in page and "ünïcödé" in page  # carried in the login form
    assert db.execute("SELECT COUNT(*) FROM autosaves").fetchone()[0] == 0  # nothing stored yet
    target = await log_in_again(admin_client, page)
    assert target.startswith(f"{path}?restore=autosave" if existing else f"{path}?resume=new-")
    editor = await editor_form(admin_client, target)
    assert (editor["title"], editor["body_md"].replace("\r\n", "\n")) == ("My essay", TEXT)
    assert editor.get("base_revision") == written.get("base_revision")
    response = await send(admin_client, path, {**editor, "action": "publish"})
    assert response.status == 303
    saved = posts.get_by_id(db, int(response.headers["Location"].split("/")[3].split("?")[0]))
    assert saved is not None and saved.body_md.replace("\r\n", "\n") == TEXT
    assert saved.is_visible(posts.now_seconds())
    assert db.execute("SELECT editor_key FROM autosaves").fetchall() == []  # saved: not kept


async def test_a_form_from_an_earlier_login_comes_back_with_a_fresh_token(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    """Logged out and in again in another tab: the old tab's token is stale."""
    fields = await editor_form(admin_client, "/dashboard/posts/new")
    assert (await login(admin_client, "alice")).status == 303  # a new session, a new token
    written = {**fields, "title": "Tab one", "body_md": TEXT, "action": "publish"}
    response = await send(admin_client, "/dashboard/posts/new", written, **SAME_SITE)
    page = await response.text()
    assert (
        response.status == 403 and "Nothing was saved: this form came from an earlier login" in page
    )
    assert db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0
    again = form_fields(page)
    assert again["csrf_token"] != fields["csrf_token"] and again["title"] == "Tab one"
    response = await send(admin_client, "/dashboard/posts/new", {**again, "action": "publish"})
    assert response.status == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {},
    ],
    ids=["cross-site", "same-site", "another origin", "no browser headers"],
)
async def test_a_form_from_elsewhere_gets_the_plain_refusal(
    admin_client: TestClient, db: sqlite3.Connection, headers: dict[str, str]
) -> None:
    fields = await editor_form(admin_client, "/dashboard/posts/new")
    forged = {**fields, "csrf_token": "forged", "title": "Planted", "body_md": "planted text"}
    response = await send(admin_client, "/dashboard/posts/new", forged, **headers)
    page = await response.text()
    assert response.status == 403 and "This form is out of date" in page
    assert "planted text" not in page
    assert db.execute("SELECT COUNT(*) FROM autosaves").fetchone()[0] == 0


async def test_someone_else_logging_in_gets_the_text_as_their_own_new_entry(
    client: TestClient, db: sqlite3.Connection
) -> None:
    alice = add_user(client, "alice", "author")
    add_user(client, "bob", "author")
    post = posts.create_post(db, title="Alice's", body_md="hers", author_id=alice.id)
    await login(client, "alice")
    path = f"/dashboard/posts/{post.id}"
    fields = await editor_form(client, path)
    end_sessions(db)
    response = await send(client, path, {**fields, "body_md": "alice typed this"}, **SAME_SITE)
    target = await log_in_again(client, await response.text(), name="bob")
    assert target.startswith("/dashboard/posts/new?resume=new-")
    assert posts.get_by_id(db, post.id).body_md == "hers"  # type: ignore[union-attr]
    assert (await client.get(f"{path}?restore=autosave")).status == 404  # not bob's to open


async def test_text_carried_through_a_login_with_a_second_factor(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    """The text waits through the second step too (issue 19), and is stored only then."""
    secret = totp.begin_enrolment(db, 1, 0)
    assert totp.use_code(db, 1, totp.code_at(secret, 1_000_000), 1_000_000, confirming=True)
    path = "/dashboard/posts/new"
    fields = await editor_form(admin_client, path)
    end_sessions(db)
    written = {**fields, "title": "Kept", "body_md": TEXT, "action": "publish"}
    page = await (await send(admin_client, path, written, **SAME_SITE)).text()
    assert await log_in_again(admin_client, page) == "/login/second-factor"
    assert db.execute("SELECT COUNT(*) FROM autosaves").fetchone()[0] == 0
    code = totp.code_at(secret, time.time())
    done = await post_form(admin_client, "/login/second-factor", "/login/second-factor", code=code)
    assert done.status == 303 and done.headers["Location"].startswith(f"{path}?resume=new-")
    editor = await editor_form(admin_client, done.headers["Location"])
    assert (editor["title"], editor["body_md"].replace("\r\n", "\n")) == ("Kept", TEXT)

"""Writing without fear: explicit states, confirmations, the trash, revisions, conflicts and
autosaves. Each save is a form as the editor page holds it (hidden fields included)."""

from __future__ import annotations

import re
import sqlite3

import pytest
from aiohttp.test_utils import TestClient
from blog import autosave, housekeeping, posts
from blog_testkit import add_user, csrf_from, editor_form, form_fields, login, post_form

NOW = posts.now_seconds()


async def submit(
    client: TestClient, path: str, fields: dict[str, str], **changes: str
) -> tuple[int, str]:
    """Send the editor's form (fields as read from its page) with `changes` applied."""
    response = await client.post(path, data={**fields, **changes}, allow_redirects=False)
    return response.status, await response.text()


def state_line(page: str) -> str:
    found = re.search(r'<p class="state state-(\w+)" id="state">(.*?)</p>', page, re.S)
    assert found, "the editor shows no state"
    return found.group(1)


def buttons(page: str) -> list[str]:
    return re.findall(r'<button type="submit" name="action" value="(\w+)"', page)


async def published(client: TestClient, db: sqlite3.Connection, title: str = "Live") -> posts.Post:
    fields = await editor_form(client, "/dashboard/posts/new")
    status, _ = await submit(
        client, "/dashboard/posts/new", fields, title=title, body_md="text", action="publish"
    )
    assert status == 303
    post = posts.get_by_slug(db, title.lower())
    assert post is not None and post.is_visible(posts.now_seconds())
    return post


async def edit_published(
    client: TestClient, db: sqlite3.Connection, **changes: str
) -> tuple[posts.Post, int, str]:
    """Publish "Live", open it in the editor and send the form with `changes`."""
    post = await published(client, db)
    fields = await editor_form(client, f"/dashboard/posts/{post.id}")
    status, page = await submit(client, f"/dashboard/posts/{post.id}", fields, **changes)
    return post, status, page


# --- states --------------------------------------------------------------------------

STATE_CASES = [
    # (status, published_at, in the trash, state, the editor's buttons)
    ("draft", None, False, "draft", ["preview", "draft", "publish", "trash", "upload"]),
    (
        "published",
        NOW + 3600,
        False,
        "scheduled",
        ["preview", "publish", "unpublish", "trash", "upload"],
    ),
    (
        "published",
        NOW - 60,
        False,
        "published",
        ["preview", "publish", "unpublish", "trash", "upload"],
    ),
    ("published", NOW - 60, True, "trash", []),
]


@pytest.mark.parametrize(("status", "published_at", "trashed", "state", "actions"), STATE_CASES)
async def test_the_editor_says_what_state_an_entry_is_in(
    admin_client: TestClient, db, status, published_at, trashed, state, actions
) -> None:
    post = posts.create_post(db, title="T", body_md="b", status=status, published_at=published_at)
    if trashed:
        posts.move_to_trash(db, post.id, None)
    page = await (await admin_client.get(f"/dashboard/posts/{post.id}")).text()
    assert state_line(page) == state
    assert buttons(page) == actions
    assert ("Restore from the trash" in page) is trashed
    assert (
        f'<span class="state state-{state}">' in await (await admin_client.get("/dashboard")).text()
        or trashed
    )


async def test_a_new_entry_says_it_is_not_saved(admin_client: TestClient) -> None:
    page = await (await admin_client.get("/dashboard/posts/new")).text()
    assert state_line(page) == "new"
    assert buttons(page) == ["preview", "draft", "publish", "upload"]


@pytest.mark.parametrize("action", ["draft", "unpublish"])
async def test_saving_a_published_post_as_a_draft_asks_first(
    admin_client: TestClient, db: sqlite3.Connection, action: str
) -> None:
    """The issue's finding: "Save draft" on a published post unpublished it silently."""
    post, status, page = await edit_published(admin_client, db, body_md="edited", action=action)
    assert status == 200 and "Take “Live” off the site?" in page
    assert 'name="confirmed" value="' in page and "edited" in page  # the text is still there
    assert (await admin_client.get("/posts/live")).status == 200  # still public
    assert posts.get_by_id(db, post.id).body_md == "text"  # type: ignore[union-attr]
    confirmed = form_fields(page)
    status, _ = await submit(admin_client, f"/dashboard/posts/{post.id}", confirmed, action=action)
    assert status == 303
    assert (await admin_client.get("/posts/live")).status == 404
    after = posts.get_by_id(db, post.id)
    assert after is not None and after.state(posts.now_seconds()) == "draft"
    assert after.body_md == "edited"


async def test_update_keeps_a_published_post_live(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    post, status, _ = await edit_published(admin_client, db, body_md="updated", action="publish")
    assert status == 303
    page = await (await admin_client.get(f"/dashboard/posts/{post.id}?saved=1")).text()
    assert "Saved and published: readers see it at /posts/live." in page
    assert "updated" in await (await admin_client.get("/posts/live")).text()
    again = posts.get_by_id(db, post.id)
    assert again is not None and again.published_at == post.published_at  # same date


# --- the trash -----------------------------------------------------------------------


async def test_moving_to_the_trash_asks_first_and_keeps_the_text(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    post, status, page = await edit_published(
        admin_client, db, body_md="last words", action="trash"
    )
    assert status == 200 and "Move “Live” to the trash?" in page
    assert (await admin_client.get("/posts/live")).status == 200
    status, _ = await submit(
        admin_client, f"/dashboard/posts/{post.id}", form_fields(page), action="trash"
    )
    assert status == 303
    trashed = posts.get_by_id(db, post.id)
    assert trashed is not None and trashed.state(NOW) == "trash"
    assert trashed.body_md == "last words"
    assert (await admin_client.get("/posts/live")).status == 404
    listing = await (await admin_client.get("/dashboard/trash")).text()
    assert "Live" in listing and "deleted for good" in listing.lower()
    assert "Live" not in await (await admin_client.get("/dashboard")).text()


async def test_deleting_for_good_only_from_the_trash_and_only_when_confirmed(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    post = posts.create_post(db, title="Doomed", body_md="x")
    path = f"/dashboard/posts/{post.id}/delete"
    response = await post_form(admin_client, path, "/dashboard/trash", confirmed="delete")
    assert response.status == 409  # not in the trash
    posts.move_to_trash(db, post.id, None)
    response = await post_form(admin_client, path, "/dashboard/trash")
    assert response.status == 200 and "Delete “Doomed” for good?" in await response.text()
    assert posts.get_by_id(db, post.id) is not None
    response = await post_form(admin_client, path, "/dashboard/trash", confirmed="delete")
    assert response.status == 303
    assert posts.get_by_id(db, post.id) is None
    assert (
        db.execute("SELECT COUNT(*) FROM post_revisions WHERE post_id = ?", (post.id,)).fetchone()[
            0
        ]
        == 0
    )


def test_the_trash_empties_itself_after_30_days(client: TestClient, db: sqlite3.Connection) -> None:
    old = posts.create_post(db, title="Old", body_md="x")
    recent = posts.create_post(db, title="Recent", body_md="x")
    posts.move_to_trash(db, old.id, None, now=NOW - 30 * 86400)
    posts.move_to_trash(db, recent.id, None, now=NOW - 29 * 86400)
    assert posts.empty_trash(db, NOW) == 1
    assert posts.get_by_id(db, old.id) is None and posts.get_by_id(db, recent.id) is not None


async def test_a_restored_entry_comes_back_as_a_draft(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    post = await published(admin_client, db)
    posts.move_to_trash(db, post.id, None)
    response = await post_form(
        admin_client, f"/dashboard/posts/{post.id}/restore", "/dashboard/trash"
    )
    assert response.status == 303
    page = await (await admin_client.get(response.headers["Location"])).text()
    assert state_line(page) == "draft"
    assert (await admin_client.get("/posts/live")).status == 404  # not public unasked


# --- edit conflicts --------------------------------------------------------------------


async def test_two_tabs_never_overwrite_each_other(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    post = await published(admin_client, db)
    path = f"/dashboard/posts/{post.id}"
    tab_one = await editor_form(admin_client, path)
    tab_two = await editor_form(admin_client, path)
    status, _ = await submit(admin_client, path, tab_one, body_md="from tab one", action="publish")
    assert status == 303
    status, page = await submit(
        admin_client, path, tab_two, body_md="from tab two", action="publish"
    )
    assert status == 409
    assert "Not saved: this post changed after you opened it." in page
    assert "from tab one" in page and "from tab two" in page  # both versions shown
    assert posts.get_by_id(db, post.id).body_md == "from tab one"  # type: ignore[union-attr]
    kept = autosave.load(db, 1, autosave.key_for(post.id))
    assert kept is not None and kept.values["body_md"] == "from tab two"  # kept on the server
    # Saving again from the conflict page is a deliberate choice: it applies.
    status, _ = await submit(admin_client, path, form_fields(page), action="publish")
    assert status == 303
    assert posts.get_by_id(db, post.id).body_md == "from tab two"  # type: ignore[union-attr]


async def test_a_form_sent_twice_is_not_a_conflict(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    post = await published(admin_client, db)
    path = f"/dashboard/posts/{post.id}"
    fields = await editor_form(admin_client, path)
    for _ in range(2):
        status, _ = await submit(admin_client, path, fields, body_md="same", action="publish")
        assert status == 303
    assert posts.get_by_id(db, post.id).revision == 2  # type: ignore[union-attr]


# --- revisions -----------------------------------------------------------------------


async def test_every_save_keeps_a_revision_that_can_be_restored(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    post = await published(admin_client, db)
    path = f"/dashboard/posts/{post.id}"
    for text in ("second", "third"):
        fields = await editor_form(admin_client, path)
        assert (await submit(admin_client, path, fields, body_md=text, action="publish"))[0] == 303
    listing = await (await admin_client.get(f"{path}/revisions")).text()
    assert [int(n) for n in re.findall(r"Revision (\d+)</a>", listing)] == [3, 2, 1]
    first = await (await admin_client.get(f"{path}/revisions/1")).text()
    assert ">text</textarea>" in first
    loaded = await editor_form(admin_client, f"{path}?revision=1")
    assert loaded["body_md"] == "text" and loaded["base_revision"] == "3"
    assert posts.get_by_id(db, post.id).body_md == "third"  # type: ignore[union-attr]
    status, _ = await submit(admin_client, path, loaded, action="publish")
    assert status == 303
    restored = posts.get_by_id(db, post.id)
    assert restored is not None and (restored.body_md, restored.revision) == ("text", 4)
    assert (await admin_client.get(f"{path}/revisions/99")).status == 404


def test_only_the_newest_revisions_are_kept(client: TestClient, db: sqlite3.Connection) -> None:
    post = posts.create_post(db, title="T", body_md="0")
    for n in range(1, posts.MAX_REVISIONS + 5):
        posts.save_post(db, posts.Draft("T", str(n)), author_id=None, post_id=post.id)
    kept = posts.list_revisions(db, post.id)
    assert len(kept) == posts.MAX_REVISIONS
    assert kept[0].revision == posts.MAX_REVISIONS + 5 and kept[0].draft.body_md == ""  # no text
    assert posts.get_revision(db, post.id, kept[0].revision).draft.body_md == str(
        posts.MAX_REVISIONS + 4
    )  # type: ignore[union-attr]


# --- autosaves -----------------------------------------------------------------------


async def keep(client: TestClient, token: str, **fields: str):
    return await client.post(
        "/dashboard/autosave",
        data=fields,
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )


async def test_the_server_keeps_unsaved_text_and_offers_it_back(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    post = await published(admin_client, db)
    path = f"/dashboard/posts/{post.id}"
    fields = await editor_form(admin_client, path)
    response = await keep(
        admin_client, fields["csrf_token"], **{**fields, "body_md": "half a thought"}
    )
    assert response.status == 200 and (await response.json())["saved_at"] >= NOW
    page = await (await admin_client.get(path)).text()
    assert "You have text here you did not save" in page
    restored = await editor_form(admin_client, f"{path}?restore=autosave")
    assert restored["body_md"] == "half a thought"
    assert restored["base_revision"] == fields["base_revision"]
    response = await post_form(
        admin_client,
        "/dashboard/autosave/discard",
        path,
        editor_key=fields["editor_key"],
        back=path,
    )
    assert response.status == 303 and response.headers["Location"] == path
    assert "You have text here you did not save" not in await (await admin_client.get(path)).text()


async def test_an_unsaved_new_entry_is_listed_and_resumed(admin_client: TestClient) -> None:
    fields = await editor_form(admin_client, "/dashboard/posts/new")
    key = fields["editor_key"]
    assert autosave.valid_key(key) and key.startswith("new-")
    response = await keep(
        admin_client, fields["csrf_token"], **{**fields, "title": "Unfinished", "body_md": "so far"}
    )
    assert response.status == 200
    dashboard = await (await admin_client.get("/dashboard")).text()
    assert f'href="/dashboard/posts/new?resume={key}">Unfinished</a>' in dashboard
    resumed = await editor_form(admin_client, f"/dashboard/posts/new?resume={key}")
    assert (resumed["title"], resumed["body_md"], resumed["editor_key"]) == (
        "Unfinished",
        "so far",
        key,
    )
    status, _ = await submit(admin_client, "/dashboard/posts/new", resumed, action="draft")
    assert status == 303
    assert "Unfinished</a> <span" not in await (await admin_client.get("/dashboard")).text()


@pytest.mark.parametrize(
    ("key", "status"),
    [("post-1", 404), ("new-nothex", 400), ("../etc", 400), ("post-99999999", 404)],
)
async def test_autosave_keys_are_checked(client: TestClient, db, key: str, status: int) -> None:
    alice = add_user(client, "alice", "admin")
    add_user(client, "bob", "author")
    posts.create_post(db, title="Alice's", body_md="x", author_id=alice.id)
    await login(client, "bob")
    token = await csrf_from(client, "/dashboard/posts/new")
    response = await keep(client, token, editor_key=key, title="t", body_md="b")
    assert response.status == status
    assert db.execute("SELECT COUNT(*) FROM autosaves").fetchone()[0] == 0


async def test_autosave_needs_a_session(client: TestClient) -> None:
    token = await csrf_from(client, "/login")
    response = await keep(client, token, editor_key="new-0123456789abcdef", body_md="x")
    assert response.status == 401 and (await response.json())["status"] == 401


def test_housekeeping_empties_the_trash_and_drops_old_autosaves(
    client: TestClient, db: sqlite3.Connection, settings
) -> None:
    user = add_user(client, "alice")
    old = posts.create_post(db, title="Old", body_md="x")
    posts.move_to_trash(db, old.id, None, now=NOW - 31 * 86400)
    values = autosave.clean_values({"title": "t"})
    autosave.store(db, user.id, "new-0123456789abcdef", values, NOW - 31 * 86400)
    autosave.store(db, user.id, "new-fedcba9876543210", values, NOW)
    housekeeping.tidy(db, settings, NOW)
    assert posts.get_by_id(db, old.id) is None
    assert [u.editor_key for u in autosave.list_unsaved_new(db, user.id)] == [
        "new-fedcba9876543210"
    ]


HUGE = "99999999999999999999"  # past SQLite's INTEGER: binding it raised OverflowError


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/dashboard/posts/{HUGE}"),
        ("GET", f"/dashboard/posts/{HUGE}/revisions"),
        ("GET", f"/dashboard/posts/1/revisions/{HUGE}"),
        ("GET", f"/dashboard/posts/1?revision={HUGE}"),
        ("GET", f"/dashboard/trash?moved={HUGE}"),
        ("POST", f"/dashboard/posts/{HUGE}/restore"),
        ("POST", f"/dashboard/users/{HUGE}/disable"),
    ],
)
async def test_numbers_too_large_for_the_database_are_not_found(
    admin_client: TestClient, db: sqlite3.Connection, method: str, path: str
) -> None:
    posts.create_post(db, title="T", body_md="b")
    token = await csrf_from(admin_client, "/dashboard")
    response = await admin_client.request(method, path, data={"csrf_token": token})
    assert response.status in (200, 404), path

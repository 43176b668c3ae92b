"""People from the browser: admins add users, change roles, disable accounts and give
one-time password links; users edit their own display name and bio; entries and
feeds carry the author's name."""

from __future__ import annotations

import re
import sqlite3

import pytest
from aiohttp.test_utils import TestClient
from blog import keys, password_links, posts, users
from blog_testkit import add_user, csrf_from, login, post_form

LINK = re.compile(r'value="(https://[^"]+/password-link/([A-Za-z0-9_-]{43}))"')
NEW_PASSWORD = "a fresh and long passphrase"


async def add_via_form(client: TestClient, **fields: str) -> tuple[int, str]:
    values = {"name": "bob", "display_name": "Bob Baker", "role": "author", **fields}
    response = await post_form(client, "/dashboard/users", "/dashboard/users", **values)
    return response.status, await response.text()


def token_in(page: str) -> str:
    found = LINK.search(page)
    assert found, "no one-time link on the page"
    return found.group(2)


async def set_password(client: TestClient, token: str, password: str = NEW_PASSWORD):
    path = f"/password-link/{token}"
    csrf = await csrf_from(client, path)
    data = {"password": password, "confirm_password": password, "csrf_token": csrf}
    return await client.post(path, data=data, allow_redirects=False)


async def test_an_admin_adds_an_author_who_sets_a_password_from_the_link(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    status, page = await add_via_form(admin_client)
    assert status == 200
    token = token_in(page)
    bob = users.find_user(db, "bob")
    assert bob is not None and bob.role == "author" and bob.display_name == "Bob Baker"
    assert NEW_PASSWORD not in page and "password_hash" not in page
    admin_client.session.cookie_jar.clear()  # bob, in his own browser
    assert (await login(admin_client, "bob", NEW_PASSWORD)).status != 303  # no password yet
    done = await set_password(admin_client, token)
    assert done.status == 200 and "Your password is set" in await done.text()
    assert (await login(admin_client, "bob", NEW_PASSWORD)).status == 303


async def test_used_expired_replaced_and_wrong_links_all_get_the_same_404(
    admin_client: TestClient, db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, page = await add_via_form(admin_client)
    used = token_in(page)
    admin_client.session.cookie_jar.clear()
    wrong = await admin_client.get("/password-link/" + "A" * 43)
    assert wrong.status == 404
    expected = await wrong.text()
    assert (await set_password(admin_client, used)).status == 200
    carol = add_user(admin_client, "carol", "author")
    replaced = password_links.issue(db, carol.id, posts.now_seconds())
    password_links.issue(db, carol.id, posts.now_seconds())  # a newer link replaces it
    dave = add_user(admin_client, "dave", "author")
    expired = password_links.issue(db, dave.id, posts.now_seconds())
    erin = add_user(admin_client, "erin", "author")
    disabled = password_links.issue(db, erin.id, posts.now_seconds())
    users.set_disabled(db, "erin", True)
    later = posts.now_seconds() + password_links.LIFETIME
    for name, token in (("used", used), ("replaced", replaced), ("disabled", disabled)):
        response = await admin_client.get(f"/password-link/{token}")
        assert (response.status, await response.text()) == (404, expected), name
    monkeypatch.setattr(posts, "now_seconds", lambda: later)
    response = await admin_client.get(f"/password-link/{expired}")
    assert (response.status, await response.text()) == (404, expected), "expired"
    refused = await admin_client.post(
        f"/password-link/{expired}",
        data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD, "csrf_token": "x"},
    )
    assert refused.status in (403, 404)


async def test_a_weak_or_mistyped_password_is_refused_and_the_link_still_works(
    admin_client: TestClient,
) -> None:
    _, page = await add_via_form(admin_client)
    token = token_in(page)
    admin_client.session.cookie_jar.clear()
    weak = await set_password(admin_client, token, "password")
    assert weak.status == 400
    assert (await admin_client.get(f"/password-link/{token}")).status == 200


async def test_admins_give_a_new_link_change_roles_and_disable(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    bob = add_user(admin_client, "bob", "author")
    page = await (
        await post_form(
            admin_client, f"/dashboard/users/{bob.id}/password-link", "/dashboard/users"
        )
    ).text()
    assert password_links.user_for(db, token_in(page), posts.now_seconds()) == bob.id
    made_admin = await post_form(
        admin_client, f"/dashboard/users/{bob.id}/role", "/dashboard/users", role="admin"
    )
    assert made_admin.status == 303 and users.require_user(db, "bob").role == "admin"
    alice = users.require_user(db, "alice")
    own = await post_form(
        admin_client, f"/dashboard/users/{alice.id}/role", "/dashboard/users", role="author"
    )
    assert own.status == 400 and "your own role" in await own.text()
    disabled = await post_form(
        admin_client, f"/dashboard/users/{bob.id}/disable", "/dashboard/users"
    )
    assert disabled.status == 303 and users.require_user(db, "bob").disabled


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "bad name!"}, "user name must be"),
        ({"role": "owner"}, "Choose a role"),
        ({"name": "alice"}, "already exists"),
        ({"display_name": "x" * 101}, "at most 100"),
    ],
)
async def test_a_bad_new_user_is_refused_with_the_form_kept(
    admin_client: TestClient, fields: dict[str, str], message: str
) -> None:
    status, page = await add_via_form(admin_client, **{"display_name": "Kept Name", **fields})
    assert status == 400 and message in page
    assert not LINK.search(page)


async def test_authors_cannot_manage_people(client: TestClient) -> None:
    add_user(client, "bob", "author")
    await login(client, "bob")
    assert (await client.get("/dashboard/users")).status == 403
    token = await csrf_from(client, "/dashboard")
    added = await client.post(
        "/dashboard/users", data={"name": "eve", "role": "admin", "csrf_token": token}
    )
    assert added.status == 403 and users.find_user(client.server.app[keys.DB], "eve") is None


async def test_users_edit_their_own_name_and_bio_which_posts_and_feeds_carry(
    client: TestClient, db: sqlite3.Connection
) -> None:
    bob = add_user(client, "bob", "author")
    await login(client, "bob")
    saved = await post_form(
        client, "/dashboard/profile", "/dashboard/profile",
        display_name="  Bob   Baker ", bio="Bakes <b>bread</b>.",
    )  # fmt: skip
    assert saved.status == 303
    assert users.require_user(db, "bob").display_name == "Bob Baker"
    posts.create_post(db, title="Rye", body_md="x", status="published",
                      published_at=posts.now_seconds() - 5, author_id=bob.id)  # fmt: skip
    client.session.cookie_jar.clear()
    page = await (await client.get("/posts/rye")).text()
    assert "Bob Baker" in page and "Bakes &lt;b&gt;bread&lt;/b&gt;." in page
    assert "Bob Baker" in await (await client.get("/")).text()
    assert "<name>Bob Baker</name>" in await (await client.get("/feed.atom")).text()


async def test_a_too_long_bio_is_refused_and_kept(client: TestClient) -> None:
    add_user(client, "bob", "author")
    await login(client, "bob")
    bio = "word " * 300
    refused = await post_form(
        client, "/dashboard/profile", "/dashboard/profile", display_name="Bob", bio=bio
    )
    assert refused.status == 400 and "at most 1000" in await refused.text()
    assert bio.strip() in await refused.text()


async def test_a_link_page_is_never_stored_and_never_sent_as_referer(
    admin_client: TestClient,
) -> None:
    _, page = await add_via_form(admin_client)
    admin_client.session.cookie_jar.clear()
    response = await admin_client.get(f"/password-link/{token_in(page)}")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_a_link_opened_over_plain_http_answers_like_a_dead_one(make_client) -> None:
    """Through a trusted proxy (as the kit runs), a password travels only inside TLS."""
    client = await make_client(trusted_proxies=("127.0.0.1",))
    bob = add_user(client, "bob", "author")
    token = password_links.issue(client.server.app[keys.DB], bob.id, posts.now_seconds())
    over = {"X-Forwarded-For": "198.51.100.9"}
    https = await client.get(
        f"/password-link/{token}", headers={**over, "X-Forwarded-Proto": "https"}
    )
    assert https.status == 200
    http = await client.get(
        f"/password-link/{token}", headers={**over, "X-Forwarded-Proto": "http"}
    )
    assert http.status == 404


async def test_readers_never_see_a_user_name(client: TestClient, db: sqlite3.Connection) -> None:
    shy = add_user(client, "shy-login-name", "author")
    posts.create_post(db, title="Quiet", body_md="x", status="published",
                      published_at=posts.now_seconds() - 5, author_id=shy.id)  # fmt: skip
    for path in ("/", "/posts/quiet", "/feed.atom", "/feed.rss"):
        assert "shy-login-name" not in await (await client.get(path)).text(), path


PASSPHRASE = "correct horse battery staple"  # blog_testkit's


@pytest.mark.parametrize(
    "change",
    ["disable and enable", "role", "reset_password", "store_password_hash", "password page"],
)
async def test_a_change_to_the_account_ends_its_password_links(
    admin_client: TestClient, db: sqlite3.Connection, change: str
) -> None:
    carol = add_user(admin_client, "carol", "author")
    token = password_links.issue(db, carol.id, posts.now_seconds())
    if change == "disable and enable":
        for verb in ("disable", "enable"):
            path = f"/dashboard/users/{carol.id}/{verb}"
            assert (await post_form(admin_client, path, "/dashboard/users")).status == 303
    elif change == "role":
        path = f"/dashboard/users/{carol.id}/role"
        await post_form(admin_client, path, "/dashboard/users", role="admin")
        assert users.require_user(db, "carol").role == "admin"
    elif change == "reset_password":
        users.reset_password(db, "carol", "a brand new long passphrase")
    elif change == "store_password_hash":
        users.store_password_hash(db, carol.id, "not-a-hash")
    else:
        admin_client.session.cookie_jar.clear()
        assert (await login(admin_client, "carol")).status == 303
        new = "carol's own new passphrase"
        fields = {"current_password": PASSPHRASE, "new_password": new, "confirm_password": new}
        changed = await post_form(
            admin_client, "/dashboard/password", "/dashboard/password", username="carol", **fields
        )
        assert changed.status in (200, 303)
    assert password_links.user_for(db, token, posts.now_seconds()) is None
    admin_client.session.cookie_jar.clear()
    assert (await admin_client.get(f"/password-link/{token}")).status == 404


@pytest.mark.parametrize(
    "typed",
    [
        "Alice Martin",
        "alice martin",
        "Alice\u200b Martin",
        "\u202eAlice  Martin",
        "\uff21lice Martin",
    ],
)
async def test_a_display_name_another_account_shows_is_refused_with_the_input_kept(
    admin_client: TestClient, db: sqlite3.Connection, typed: str
) -> None:
    alice = users.require_user(db, "alice")
    users.set_profile(db, alice.id, "Alice Martin", "Owner")
    add_user(admin_client, "bob", "author")
    admin_client.session.cookie_jar.clear()
    assert (await login(admin_client, "bob")).status == 303
    saved = await post_form(
        admin_client, "/dashboard/profile", "/dashboard/profile", display_name=typed, bio="My bio"
    )
    assert saved.status == 400
    page = await saved.text()
    assert "already another account" in page and "My bio" in page
    assert users.require_user(db, "bob").display_name == ""


async def test_a_display_name_is_stored_without_invisible_characters(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    saved = await post_form(
        admin_client, "/dashboard/profile", "/dashboard/profile",
        display_name="Al\u200bice\u2060 \uff2dartin", bio="",
    )  # fmt: skip
    assert saved.status == 303
    assert users.require_user(db, "alice").display_name == "Alice Martin"
    _, page = await add_via_form(admin_client, name="bob", display_name="ALICE MARTIN")
    assert "already another account" in page and users.find_user(db, "bob") is None

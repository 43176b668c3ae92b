"""Login, session lifecycle, logout and CSRF, through the real HTTP app."""

from __future__ import annotations

import sqlite3

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from blog import keys, sessions, users
from blog.sessions import COOKIE_NAME
from blog_testkit import PASSWORD, add_user, csrf_from, login


def session_cookie(client: TestClient) -> str | None:
    for cookie in client.session.cookie_jar:
        if cookie.key == COOKIE_NAME:
            return cookie.value
    return None


async def test_login_form_has_documented_fields(client: TestClient) -> None:
    body = await (await client.get("/login")).text()
    for field in ('name="username"', 'name="password"', 'name="csrf_token"', 'action="/login"'):
        assert field in body


async def test_login_sets_hardened_cookie_and_opens_dashboard(client: TestClient) -> None:
    add_user(client, "alice")
    response = await login(client, "alice")
    assert response.status == 303
    assert response.headers["Location"] == "/dashboard"
    set_cookie = next(v for v in response.headers.getall("Set-Cookie") if COOKIE_NAME in v)
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in set_cookie
    assert "Domain" not in set_cookie
    raw_id = session_cookie(client)
    assert raw_id is not None and len(raw_id) >= 22  # >= 128 bits of base64


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password"), ("nobody", PASSWORD), ("alice", ""), ("", "")],
)
async def test_failed_login_is_generic_401(
    client: TestClient, username: str, password: str
) -> None:
    add_user(client, "alice")
    response = await login(client, username, password)
    assert response.status == 401
    assert "Unknown user name or wrong password" in await response.text()
    assert session_cookie(client) is None


async def test_disabled_user_cannot_log_in(client: TestClient, db: sqlite3.Connection) -> None:
    add_user(client, "alice")
    users.set_disabled(db, "alice", True)
    assert (await login(client, "alice")).status == 401


async def test_session_id_is_renewed_at_login(client: TestClient, db: sqlite3.Connection) -> None:
    add_user(client, "alice")
    await login(client, "alice")
    first = session_cookie(client)
    await login(client, "alice")
    second = session_cookie(client)
    assert first and second and first != second
    # The old session was ended on the server, not merely replaced in the browser.
    assert sessions.load_session(db, first, 0, 10**9, 10**9) is None
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1


async def test_logout_ends_session_on_server(client: TestClient, db: sqlite3.Connection) -> None:
    add_user(client, "alice")
    await login(client, "alice")
    raw_id = session_cookie(client)
    token = await csrf_from(client, "/")
    response = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 303
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    # Replaying the old cookie gets nothing.
    replay = await client.get(
        "/dashboard", headers={"Cookie": f"{COOKIE_NAME}={raw_id}"}, allow_redirects=False
    )
    assert replay.status == 303 and replay.headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    ("idle_age", "total_age", "alive"),
    [(10, 100, True), (3600 + 5, 4000, False), (10, 12 * 3600 + 5, False)],
)
async def test_idle_and_absolute_timeouts(
    client: TestClient, db: sqlite3.Connection, idle_age: int, total_age: int, alive: bool
) -> None:
    user = add_user(client, "alice")
    raw_id, _ = sessions.create_session(db, user.id, 1_000_000)
    now = 1_000_000 + total_age
    db.execute("UPDATE sessions SET last_seen = ?", (now - idle_age,))
    found = sessions.load_session(db, raw_id, now, idle=3600, absolute=12 * 3600)
    assert (found is not None) is alive
    remaining = db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    assert remaining == (1 if alive else 0)


async def test_a_session_in_use_outlives_a_short_idle_timeout(
    client: TestClient, db: sqlite3.Connection
) -> None:
    """With a 20 s idle time (a test setting), a request every 6 s keeps the session: the
    last use is written often enough (it was written once a minute, so the session died)."""
    user = add_user(client, "alice")
    raw_id, _ = sessions.create_session(db, user.id, 1_000_000)
    for step in range(1, 11):
        now = 1_000_000 + 6 * step
        assert sessions.load_session(db, raw_id, now, idle=20, absolute=3600) is not None, step
    assert sessions.load_session(db, raw_id, now + 21, idle=20, absolute=3600) is None


async def test_password_reset_ends_sessions(client: TestClient, db: sqlite3.Connection) -> None:
    add_user(client, "alice")
    await login(client, "alice")
    users.reset_password(db, "alice", "a brand new passphrase")
    response = await client.get("/dashboard", allow_redirects=False)
    assert response.status == 303


async def test_database_holds_only_session_digests(
    client: TestClient, db: sqlite3.Connection
) -> None:
    add_user(client, "alice")
    await login(client, "alice")
    raw_id = session_cookie(client)
    stored = [row[0] for row in db.execute("SELECT id_hash FROM sessions")]
    assert raw_id not in stored and len(stored[0]) == 64


@pytest.mark.parametrize(
    "data",
    [
        {"username": "alice", "password": PASSWORD},  # no token
        {"username": "alice", "password": PASSWORD, "csrf_token": "forged"},
    ],
)
async def test_login_requires_csrf(client: TestClient, data: dict[str, str]) -> None:
    add_user(client, "alice")
    await client.get("/login")  # the browser has a csrf cookie, the attacker's form has no token
    response = await client.post("/login", data=data, allow_redirects=False)
    assert response.status == 403
    assert session_cookie(client) is None


async def test_logged_in_posts_need_the_session_token(admin_client: TestClient) -> None:
    anonymous_token = admin_client.session.cookie_jar.filter_cookies(
        admin_client.make_url("/")
    ).get("__Host-blog_csrf")
    assert anonymous_token is not None
    # A pre-login token is not accepted once a session exists.
    response = await admin_client.post(
        "/logout", data={"csrf_token": anonymous_token.value}, allow_redirects=False
    )
    assert response.status == 403
    header_token = await csrf_from(admin_client, "/")
    response = await admin_client.post(
        "/logout", headers={"X-CSRF-Token": header_token}, allow_redirects=False
    )
    assert response.status == 303


@pytest.mark.parametrize(
    ("next_url", "location"),
    [
        ("/posts/x", "/posts/x"),
        ("//evil.example/", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
    ],
)
async def test_redirect_after_login_stays_on_site(
    client: TestClient, next_url: str, location: str
) -> None:
    add_user(client, "alice")
    token = await csrf_from(client, "/login")
    response = await client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token, "next": next_url},
        allow_redirects=False,
    )
    assert response.headers["Location"] == location


async def test_get_never_changes_state(client: TestClient, db: sqlite3.Connection) -> None:
    add_user(client, "alice")
    await login(client, "alice")
    assert (await client.get("/logout")).status == 405
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1


async def test_keys_are_typed(client: TestClient) -> None:
    assert isinstance(client.server.app[keys.DB], sqlite3.Connection)


@pytest.mark.parametrize(
    ("current", "new", "confirm", "status", "error"),
    [
        (PASSWORD, "a fresh passphrase", "a fresh passphrase", 303, ""),
        (
            "wrong password",
            "a fresh passphrase",
            "a fresh passphrase",
            400,
            "current password is wrong",
        ),
        (PASSWORD, "a fresh passphrase", "another one here", 400, "differ"),
        (PASSWORD, "password1", "password1", 400, "commonly used"),
    ],
)
async def test_change_password(
    client: TestClient, current: str, new: str, confirm: str, status: int, error: str
) -> None:
    browser = client
    add_user(browser, "alice")
    await login(browser, "alice")
    db = browser.server.app[keys.DB]
    user = users.find_user(db, "alice")
    assert user is not None
    elsewhere, _ = sessions.create_session(db, user.id, 10**10)  # another device's session
    token = await csrf_from(browser, "/dashboard/password")
    response = await browser.post(
        "/dashboard/password",
        data={
            "csrf_token": token,
            "current_password": current,
            "new_password": new,
            "confirm_password": confirm,
        },
        allow_redirects=False,
    )
    assert response.status == status
    if error:
        assert error in await response.text()
        assert await users.authenticate(db, "alice", PASSWORD) is not None
        return
    assert await users.authenticate(db, "alice", new) is not None
    assert sessions.load_session(db, elsewhere, 10**10, 10**9, 10**9) is None
    # This browser got a fresh session and stays logged in.
    assert (await browser.get("/dashboard", allow_redirects=False)).status == 200


# Through a trusted proxy (127.0.0.1), as the kit runs: the scheme is X-Forwarded-Proto's.
CLIENT_ADDRESS = "198.51.100.9"
OVER_HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": CLIENT_ADDRESS}
OVER_HTTP = {"X-Forwarded-Proto": "http", "X-Forwarded-For": CLIENT_ADDRESS}


@pytest.fixture
async def proxied(make_client) -> TestClient:
    return await make_client(trusted_proxies=("127.0.0.1",))


async def post_login(
    client: TestClient, token: str, headers: dict[str, str], password: str = PASSWORD
) -> ClientResponse:
    return await client.post(
        "/login",
        data={"username": "alice", "password": password, "csrf_token": token},
        headers=headers,
        allow_redirects=False,
    )


async def test_a_login_over_plain_http_is_refused_unchecked(proxied: TestClient) -> None:
    """A proxy listener that serves plain HTTP (a Pound file's ListenHTTP) must not carry
    passwords: the form is not offered, the password is not checked, no session starts."""
    add_user(proxied, "alice")
    page = await proxied.get("/login", headers=OVER_HTTP)
    body = await page.text()
    assert page.status == 403
    assert 'name="password"' not in body and "https://" in body
    token = await csrf_from(proxied, "/login", **OVER_HTTPS)
    for password in (PASSWORD, "wrong password"):  # the same answer: nothing was checked
        response = await post_login(proxied, token, OVER_HTTP, password)
        assert response.status == 403
        assert "plain HTTP" in await response.text()
        assert COOKIE_NAME not in response.cookies
    # Nothing was charged to the throttle: the first real login over HTTPS works.
    response = await login(proxied, "alice", **OVER_HTTPS)
    assert response.status == 303


async def test_a_session_cookie_seen_over_plain_http_is_ended(proxied: TestClient) -> None:
    db = proxied.server.app[keys.DB]
    add_user(proxied, "alice")
    token = await csrf_from(proxied, "/login", **OVER_HTTPS)
    response = await post_login(proxied, token, OVER_HTTPS)
    assert response.status == 303
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    dashboard = await proxied.get("/dashboard", headers=OVER_HTTPS, allow_redirects=False)
    assert dashboard.status == 200
    leaked = await proxied.get("/dashboard", headers=OVER_HTTP, allow_redirects=False)
    assert leaked.status == 303 and leaked.headers["Location"].startswith("/login")
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    # Whoever read the cookie on the way cannot use it over HTTPS either.
    again = await proxied.get("/dashboard", headers=OVER_HTTPS, allow_redirects=False)
    assert again.status == 303


@pytest.mark.parametrize(
    ("proto", "private"),
    [
        ("https", True),
        ("HTTPS", True),  # schemes are case-insensitive (RFC 3986 3.1)
        ("http", False),
        ("https, http", False),  # any plain-HTTP leg makes the whole way plain
        ("http, https", False),
        ("ftp", False),
        ("", False),
    ],
)
async def test_the_scheme_a_login_needs(proxied: TestClient, proto: str, private: bool) -> None:
    add_user(proxied, "alice")
    token = await csrf_from(proxied, "/login", **OVER_HTTPS)
    headers = {"X-Forwarded-Proto": proto, "X-Forwarded-For": CLIENT_ADDRESS}
    response = await post_login(proxied, token, headers)
    assert response.status == (303 if private else 403)

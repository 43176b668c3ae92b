"""The first-admin setup link: logged at start, works once over HTTPS, dead links all look alike."""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from blog import keys, users
from blog.config import ConfigError, Settings, load_settings
from blog.db import connect, open_database
from blog.first_admin import LIFETIME, LinkState, SetupLink
from blog.sessions import COOKIE_NAME as SESSION_COOKIE
from blog.throttle import ADDRESS_LIMIT
from blog.views import setup as setup_view
from blog_testkit import PASSWORD, MakeClient, csrf_from

# The documented contract for scripts (docs/blog.md, "First admin").
LINK = re.compile(r"https?://\S+/setup/[A-Za-z0-9_-]{43,}")
LINE = re.compile(
    r"^First run: no admin yet\. Create one within the next 24 hours at"
    r" (?P<link>\S+/setup/[A-Za-z0-9_-]{43}) \(works once(?P<hint>[^)]*)\), or run:"
    r" docker compose exec blog blogctl user add NAME --admin$"
)
OWNER = "198.51.100.7"
HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": OWNER}


@dataclass
class Started:
    client: TestClient
    links: list[str]
    messages: list[str]

    @property
    def path(self) -> str:
        (link,) = self.links
        return urlsplit(link).path

    @property
    def db(self) -> sqlite3.Connection:
        return self.client.server.app[keys.DB]


async def start(make_client: MakeClient, caplog: pytest.LogCaptureFixture, **overrides) -> Started:
    """Start the blog behind a trusted proxy (127.0.0.1) and collect the links it logged."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="blog"):
        client = await make_client(**{"trusted_proxies": ("127.0.0.1",), **overrides})
    messages = [record.getMessage() for record in caplog.records]
    return Started(client, [m for text in messages for m in LINK.findall(text)], messages)


@pytest.fixture
async def fresh(make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> Started:
    return await start(make_client, caplog)


def seed_admin(settings: Settings) -> None:
    """An admin made before the server starts, as `blogctl user add --admin` would."""
    conn = open_database(settings.db_path)
    users.create_user(conn, "root", PASSWORD, "admin")
    conn.close()


def other_process_adds_admin(settings: Settings, name: str = "root") -> None:
    """blogctl in another container: its own connection to the same file."""
    conn = connect(settings.db_path)
    users.create_user(conn, name, PASSWORD, "admin")
    conn.close()


def random_path() -> str:
    return f"/setup/{secrets.token_urlsafe(32)}"


async def submit(
    client: TestClient,
    path: str,
    username: str = "owner",
    password: str = PASSWORD,
    repeat: str | None = None,
    **headers: str,
) -> ClientResponse:
    """Fill in the setup form the way a browser does (CSRF token from the form page)."""
    headers = headers or HTTPS
    token = await csrf_from(client, path, **headers)
    fields = {
        "csrf_token": token,
        "username": username,
        "password": password,
        "confirm_password": password if repeat is None else repeat,
    }
    return await client.post(path, data=fields, headers=headers, allow_redirects=False)


Signature = tuple[int, bytes, tuple[tuple[str, str], ...]]


async def signature(
    client: TestClient,
    method: str,
    path: str,
    data: dict[str, str] | None = None,
    headers: Mapping[str, str] = HTTPS,
) -> Signature:
    """Everything a client sees of a response but the Date header."""
    response = await client.request(method, path, data=data, headers=headers)
    kept = tuple(sorted((k, v) for k, v in response.headers.items() if k != "Date"))
    return response.status, await response.read(), kept


def admins(db: sqlite3.Connection) -> list[str]:
    return [u.name for u in users.list_users(db) if u.is_admin]


# ---------------------------------------------------------------- the log line


@pytest.mark.parametrize(
    ("overrides", "admin_first", "origin", "hint"),
    [
        ({"public_url": "https://blog.example:8443"}, False, "https://blog.example:8443", ""),
        ({}, False, "https://<your-blog-host>", "BLOG_PUBLIC_URL"),
        ({}, True, None, None),  # an admin exists: nothing to set up
        ({"access_mode": "open"}, False, None, None),  # no login at all
    ],
)
async def test_link_is_logged_only_while_there_is_no_admin(
    make_client, caplog, settings: Settings, overrides, admin_first, origin, hint
) -> None:
    if admin_first:
        seed_admin(settings)
    started = await start(make_client, caplog, **overrides)
    lines = [m for m in started.messages if m.startswith("First run")]
    if origin is None:
        assert started.links == [] and lines == []
        return
    (line,) = lines
    match = LINE.match(line)
    assert match, line
    assert started.links == [match["link"]]
    assert match["link"].startswith(f"{origin}/setup/")
    assert hint in match["hint"]


async def test_a_restart_makes_a_new_link_and_the_old_one_dies(make_client, caplog) -> None:
    first = await start(make_client, caplog)
    second = await start(make_client, caplog)  # same data directory, new process state
    assert first.path != second.path
    assert (await second.client.get(first.path, headers=HTTPS)).status == 404
    assert (await second.client.get(second.path, headers=HTTPS)).status == 200


# ---------------------------------------------------------------- the happy path


async def test_valid_link_shows_the_form_with_strict_headers(fresh: Started) -> None:
    response = await fresh.client.get(fresh.path, headers=HTTPS)
    assert response.status == 200
    body = await response.text()
    for field in (
        'name="username"',
        'name="password"',
        'name="confirm_password"',
        'name="csrf_token"',
        f'action="{fresh.path}"',
    ):
        assert field in body
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script" not in body


async def test_setup_creates_the_admin_logs_in_and_the_link_dies(fresh: Started) -> None:
    client = fresh.client
    response = await submit(client, fresh.path)
    # The new admin is offered a second factor straight away (issue 19).
    assert response.status == 303
    assert response.headers["Location"] == "/dashboard/security?welcome=1"
    assert SESSION_COOKIE in response.cookies
    assert admins(fresh.db) == ["owner"]
    offer = await (await client.get(response.headers["Location"])).text()
    assert "Your admin account is ready" in offer and 'id="totp-begin"' in offer
    dashboard = await client.get("/dashboard/users", allow_redirects=False)
    assert dashboard.status == 200  # admin-only page
    # The same link again, form or submit, as the logged-in owner: gone.
    assert (await client.get(fresh.path, headers=HTTPS)).status == 404
    session_token = await csrf_from(client, "/dashboard/password")
    again = await client.post(
        fresh.path,
        data={"csrf_token": session_token, "username": "eve", "password": PASSWORD},
        headers={**HTTPS, "X-Forwarded-For": "192.0.2.99"},
        allow_redirects=False,
    )
    assert again.status == 404
    assert admins(fresh.db) == ["owner"]


# ---------------------------------------------------------------- dead links


def _wrong(started: Started, settings: Settings) -> str:
    return random_path()


def _expired(started: Started, settings: Settings) -> str:
    link = started.client.server.app[keys.SETUP_LINK]
    link.clock = lambda: time.monotonic() + LIFETIME
    return started.path


def _admin_elsewhere(started: Started, settings: Settings) -> str:
    other_process_adds_admin(settings)
    return started.path


def _wrong_with_admin(started: Started, settings: Settings) -> str:
    other_process_adds_admin(settings)
    return random_path()


def _short(started: Started, settings: Settings) -> str:
    return "/setup/abc"


Kill = Callable[[Started, Settings], str]


KILLS = pytest.mark.parametrize(
    "kill",
    [_wrong, _expired, _admin_elsewhere, _wrong_with_admin, _short],
    ids=["wrong", "expired", "admin-made-meanwhile", "wrong-and-admin-exists", "short"],
)


@KILLS
async def test_dead_links_look_like_any_wrong_token(
    fresh: Started, settings: Settings, kill: Kill
) -> None:
    reference = await signature(fresh.client, "GET", random_path())
    path = kill(fresh, settings)
    assert await signature(fresh.client, "GET", path) == reference
    headers = dict(reference[2])
    assert reference[0] == 404 and "Set-Cookie" not in headers
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"


@KILLS
async def test_dead_links_refuse_a_submitted_form_alike(
    fresh: Started, settings: Settings, kill: Kill
) -> None:
    token = await csrf_from(fresh.client, fresh.path, **HTTPS)  # a real form's CSRF cookie
    fields = {"csrf_token": token, "username": "eve", "password": PASSWORD}
    fields["confirm_password"] = PASSWORD
    reference = await signature(fresh.client, "POST", random_path(), fields)
    path = kill(fresh, settings)
    assert await signature(fresh.client, "POST", path, fields) == reference
    assert reference[0] == 404
    assert "eve" not in admins(fresh.db)


async def test_used_link_looks_like_any_wrong_token(fresh: Started) -> None:
    reference = await signature(fresh.client, "GET", random_path())
    assert (await submit(fresh.client, fresh.path)).status == 303
    # Used is used: not even an admin-less blog again (the owner demoted) revives it.
    users.set_role(fresh.db, "owner", "author")
    assert await signature(fresh.client, "GET", fresh.path) == reference


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": OWNER},  # the proxy said http
        {"X-Forwarded-For": OWNER, "X-Forwarded-Proto": "http"},
        {},  # straight to the blog's port
    ],
    ids=["no-proto", "proto-http", "direct"],
)
async def test_link_is_served_only_over_https(fresh: Started, caplog, headers) -> None:
    reference = await signature(fresh.client, "GET", random_path())
    assert await signature(fresh.client, "GET", fresh.path, headers=headers) == reference
    assert "without HTTPS" in caplog.text  # the owner learns why from the log
    # Not burnt: over HTTPS it still works.
    assert (await fresh.client.get(fresh.path, headers=HTTPS)).status == 200


async def test_https_claimed_by_an_untrusted_peer_is_not_https(make_client, caplog) -> None:
    started = await start(make_client, caplog, trusted_proxies=())
    response = await started.client.get(started.path, headers=HTTPS)
    assert response.status == 404


async def test_open_mode_has_no_setup_pages(make_client, caplog) -> None:
    started = await start(make_client, caplog, access_mode="open")
    assert started.links == []
    assert (await started.client.get(random_path(), headers=HTTPS)).status == 404


# ---------------------------------------------------------------- the form


@pytest.mark.parametrize(
    ("username", "password", "repeat", "message"),
    [
        ("owner", PASSWORD, "another passphrase", "The passwords differ."),
        ("owner", "short", "short", "Password must be at least 8 characters."),
        ("owner", "password1", "password1", "Password is on the list of commonly used"),
        ("owner-one", "owner-one", "owner-one", "Password must not be the user name."),
        ("bad name!", PASSWORD, PASSWORD, "User name must be 1-64 characters"),
        ("", PASSWORD, PASSWORD, "User name must be 1-64 characters"),
        ("author", PASSWORD, PASSWORD, "User &#39;author&#39; already exists."),
    ],
)
async def test_form_errors_rerender_and_keep_the_link(
    fresh: Started, username: str, password: str, repeat: str, message: str
) -> None:
    users.create_user(fresh.db, "author", PASSWORD, "author")
    response = await submit(fresh.client, fresh.path, username, password, repeat)
    assert response.status == 400
    body = await response.text()
    assert message in body
    assert 'name="confirm_password"' in body and "Set-Cookie" not in response.headers
    assert admins(fresh.db) == []
    assert (await submit(fresh.client, fresh.path)).status == 303  # still valid


@pytest.mark.parametrize("csrf", [None, "forged"])
async def test_submit_without_the_csrf_token_is_refused(fresh: Started, csrf: str | None) -> None:
    await fresh.client.get(fresh.path, headers=HTTPS)  # the browser holds a CSRF cookie
    fields = {"username": "owner", "password": PASSWORD, "confirm_password": PASSWORD}
    if csrf is not None:
        fields["csrf_token"] = csrf
    response = await fresh.client.post(fresh.path, data=fields, headers=HTTPS)
    assert response.status == 403
    assert admins(fresh.db) == []
    assert (await fresh.client.get(fresh.path, headers=HTTPS)).status == 200


async def test_admin_made_while_the_password_hashes_wins_the_race(
    fresh: Started, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-check inside BEGIN IMMEDIATE: blogctl commits between the gate and the insert."""
    real_hash = setup_view.hash_password

    def hash_while_blogctl_runs(password: str) -> str:
        other_process_adds_admin(settings)
        return real_hash(password)

    monkeypatch.setattr(setup_view, "hash_password", hash_while_blogctl_runs)
    response = await submit(fresh.client, fresh.path)
    assert response.status == 404
    assert admins(fresh.db) == ["root"]
    monkeypatch.undo()
    assert (await fresh.client.get(fresh.path, headers=HTTPS)).status == 404


# ---------------------------------------------------------------- throttling


async def test_wrong_tokens_are_throttled_per_address(fresh: Started) -> None:
    attacker = {**HTTPS, "X-Forwarded-For": "203.0.113.66"}
    for _ in range(ADDRESS_LIMIT):
        assert (await fresh.client.get(random_path(), headers=attacker)).status == 404
    blocked = await fresh.client.get(fresh.path, headers=attacker)  # even the right link
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 60
    # The owner, from another address, is not held out by the attacker's guesses.
    assert (await fresh.client.get(fresh.path, headers=HTTPS)).status == 200
    assert (await submit(fresh.client, fresh.path)).status == 303


# ---------------------------------------------------------------- the token itself


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("age", "presented", "state"),
    [
        (0, "issued", LinkState.LIVE),
        (LIFETIME - 1, "issued", LinkState.LIVE),
        (LIFETIME, "issued", LinkState.EXPIRED),
        (0, "other", LinkState.UNKNOWN),
        (0, "empty", LinkState.UNKNOWN),
        (0, "revoked", LinkState.UNKNOWN),
        (0, "replaced", LinkState.UNKNOWN),
    ],
)
def test_setup_link_states(age: float, presented: str, state: LinkState) -> None:
    clock = Clock()
    link = SetupLink(clock)
    token = link.issue()
    assert len(token) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    if presented == "revoked":
        link.revoke()
    if presented == "replaced":
        link.issue()
    clock.now += age
    shown = {"other": secrets.token_urlsafe(32), "empty": ""}.get(presented, token)
    assert link.check(shown) is state


def test_nothing_matches_before_a_link_is_issued() -> None:
    assert SetupLink(Clock()).check("") is LinkState.UNKNOWN


# ---------------------------------------------------------------- BLOG_PUBLIC_URL


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("https://blog.example", "https://blog.example"),
        ("https://blog.example:8443/", "https://blog.example:8443"),
        ("HTTPS://blog.example", "https://blog.example"),
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
        ("http://blog.example", "must start with https://"),
        ("blog.example", "must start with https://"),
        ("https://blog.example/blog", "must not have a path, query or fragment"),
        ("https://blog.example/?x=1", "must not have a path, query or fragment"),
        ("https://blog.example#top", "must not have a path, query or fragment"),
        ("https://user:pw@blog.example", "needs a plain host name or address"),
        ("https://", "needs a plain host name or address"),
        ("https://blog example", "needs a plain host name or address"),
        ("https://blog.example:99999", "is not a valid URL"),
    ],
)
def test_public_url_validation(raw: str, expected: str) -> None:
    env = {"BLOG_PUBLIC_URL": raw}
    if expected == "" or expected.startswith("https://"):
        assert load_settings(env).public_url == expected
        return
    with pytest.raises(ConfigError, match=f"BLOG_PUBLIC_URL={re.escape(repr(raw))} {expected}"):
        load_settings(env)


def test_users_module_guard_refuses_a_second_first_admin(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "blog.sqlite3")
    users.insert_user(conn, "first", "hash", "admin", only_if_no_admin=True)
    with pytest.raises(users.AdminExistsError):
        users.insert_user(conn, "second", "hash", "admin", only_if_no_admin=True)
    assert admins(conn) == ["first"]

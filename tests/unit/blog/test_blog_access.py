"""Access modes (password, open), BLOG_TRUST_LOCAL, and configuration validation."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestClient
from blog import keys, posts
from blog.config import ConfigError, load_settings
from blog_testkit import save_entry


async def test_password_mode_reading_is_public_writing_is_not(client: TestClient) -> None:
    assert (await client.get("/")).status == 200
    assert (await client.get("/dashboard", allow_redirects=False)).status == 303


async def test_open_mode_needs_no_login_and_warns(make_client, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="blog"):
        client = await make_client(access_mode="open")
    assert "NO LOGIN" in caplog.text
    assert (await client.get("/dashboard")).status == 200
    response = await save_entry(client, "/dashboard/posts/new", title="Open post")
    assert response.status == 303
    post = posts.get_by_slug(client.server.app[keys.DB], "open-post")
    assert post is not None and post.author_id is None
    # CSRF still applies: a cross-site form without the token is refused.
    forged = await client.post("/dashboard/posts/new", data={"title": "x", "action": "publish"})
    assert forged.status == 403
    # There is nothing to log in to.
    assert (await client.get("/login", allow_redirects=False)).status == 303


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, True),
        ({"X-Forwarded-For": "203.0.113.7"}, False),  # came through a proxy: not local
        ({"Forwarded": "for=203.0.113.7"}, False),
        ({"X-Forwarded-Proto": "https"}, False),
    ],
)
async def test_trust_local(make_client, headers: dict[str, str], allowed: bool) -> None:
    client = await make_client(trust_local=True)
    response = await client.get("/dashboard", headers=headers, allow_redirects=False)
    assert (response.status == 200) is allowed


async def test_trust_local_off_by_default(client: TestClient) -> None:
    assert (await client.get("/dashboard", allow_redirects=False)).status == 303


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BLOG_ACCESS_MODE": "public"}, "BLOG_ACCESS_MODE='public' is not supported"),
        ({"BLOG_PORT": "http"}, "BLOG_PORT='http' is not an integer"),
        ({"BLOG_PORT": "70000"}, "BLOG_PORT=70000 is out of range"),
        ({"BLOG_TRUST_LOCAL": "maybe"}, "BLOG_TRUST_LOCAL='maybe' is not a boolean"),
        ({"BLOG_TRUSTED_PROXIES": "10.0.0.0/33"}, "not a valid CIDR"),
        ({"BLOG_TRUSTED_PROXIES": "user@host"}, "neither an IP"),
        ({"BLOG_SESSION_IDLE": "90"}, "BLOG_SESSION_IDLE='90' is not a duration"),
        ({"BLOG_SESSION_IDLE": "5s"}, "BLOG_SESSION_IDLE=5s is out of range"),
        ({"BLOG_SESSION_MAX": "31d"}, "BLOG_SESSION_MAX=31d is out of range"),
        ({"BLOG_SESSION_IDLE": "2h", "BLOG_SESSION_MAX": "1h"}, "shorten the idle time"),
        ({"BLOG_SESSION_IDLE_MINUTES": "0"}, "BLOG_SESSION_IDLE_MINUTES=0 is out of range"),
    ],
)
def test_invalid_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings(env)


def test_defaults_and_overrides() -> None:
    default = load_settings({})
    assert (default.bind, default.port, default.access_mode) == ("127.0.0.1", 4334, "password")
    assert default.trust_local is False and default.trusted_proxies == ()
    custom = load_settings(
        {
            "BLOG_BIND": "0.0.0.0",
            "BLOG_PORT": "8080",
            "BLOG_DATA_DIR": "/data",
            "BLOG_ACCESS_MODE": "OPEN",
            "BLOG_OPEN_ON_NETWORK": "yes",
            "BLOG_TRUST_LOCAL": "yes",
            "BLOG_TRUSTED_PROXIES": "proxy, 172.16.0.0/12,10.0.0.1",
            "BLOG_TITLE": "Mine",
        }
    )
    assert (
        custom.bind == "0.0.0.0"
        and custom.port == 8080
        and str(custom.db_path) == "/data/blog.sqlite3"
    )
    assert custom.access_mode == "open" and custom.trust_local
    assert custom.trusted_proxies == ("proxy", "172.16.0.0/12", "10.0.0.1")
    assert custom.title == "Mine"


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        # The kit's defaults: the proxy publishes on every address.
        ({"BLOG_BIND": "0.0.0.0", "BLOG_PUBLISHED_ON": "0.0.0.0,[::]"}, "0.0.0.0, [::]"),
        ({"BLOG_BIND": "0.0.0.0", "BLOG_PUBLISHED_ON": "127.0.0.1,[::]"}, "[::]"),
        ({"BLOG_BIND": "192.0.2.4"}, "192.0.2.4"),  # the blog alone, no proxy
        ({"BLOG_BIND": "0.0.0.0", "BLOG_PUBLISHED_ON": "127.0.0.1,[::1]"}, None),
        ({"BLOG_BIND": "127.0.0.1"}, None),
        ({"BLOG_PUBLISHED_ON": "0.0.0.0", "BLOG_OPEN_ON_NETWORK": "yes"}, None),
    ],
)
def test_open_mode_beyond_loopback_must_be_said_explicitly(
    env: dict[str, str], refused: str | None
) -> None:
    env = {"BLOG_ACCESS_MODE": "open", **env}
    if refused is None:
        assert load_settings(env).access_mode == "open"
        return
    with pytest.raises(ConfigError, match=r"reachable on (.*)\(") as caught:
        load_settings(env)
    assert f"reachable on {refused} (" in str(caught.value)
    assert "PUBLISH_ADDRESS=127.0.0.1" in str(caught.value)
    assert "BLOG_OPEN_ON_NETWORK=yes" in str(caught.value)
    # Password mode is never refused for where it is published.
    assert load_settings({**env, "BLOG_ACCESS_MODE": "password"}).access_mode == "password"


@pytest.mark.parametrize(
    ("env", "idle", "absolute"),
    [
        ({}, 3600, 12 * 3600),
        ({"BLOG_SESSION_IDLE": "20s", "BLOG_SESSION_MAX": "2m"}, 20, 120),
        ({"BLOG_SESSION_IDLE": "90m", "BLOG_SESSION_MAX": "7d"}, 5400, 7 * 86400),
        ({"BLOG_SESSION_IDLE_MINUTES": "30", "BLOG_SESSION_MAX_HOURS": "2"}, 1800, 7200),
        ({"BLOG_SESSION_IDLE": "1h", "BLOG_SESSION_IDLE_MINUTES": "5"}, 3600, 12 * 3600),
    ],
)
def test_session_lifetimes_are_durations(env: dict[str, str], idle: int, absolute: int) -> None:
    settings = load_settings(env)
    assert (settings.session_idle_seconds, settings.session_absolute_seconds) == (idle, absolute)


def test_serve_refuses_bad_mode(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from blog.__main__ import main

    monkeypatch.setenv("BLOG_ACCESS_MODE", "nobody-checks")
    assert main(["serve"]) == 2
    assert "BLOG_ACCESS_MODE" in capsys.readouterr().err

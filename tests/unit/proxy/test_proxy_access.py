"""Access control per route: client network lists and HTTP Basic authentication
(bcrypt and Argon2 htpasswd entries), with failed attempts throttled per address."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import argon2
import bcrypt
import pytest
from proxy_testkit import (
    LocalCA,
    RunningProxy,
    base_document,
    echoed_headers,
    proxy_for,
)
from tlsproxy.config import ConfigError, load_config

CHALLENGE = 'Basic realm="kit", charset="UTF-8"'


def htpasswd(folder: Path) -> Path:
    path = folder / "htpasswd"
    alice = bcrypt.hashpw(b"alice-secret", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$")
    bob = argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash("bob-secret")
    path.write_text(f"# users of the kit\nalice:{alice}\n\nbob:{bob}\n")
    return path


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def access_document(cert: tuple[Path, Path], folder: Path, url: str, **auth: Any) -> dict[str, Any]:
    basic_auth = {"htpasswd": str(htpasswd(folder)), "realm": "kit", **auth}
    document = base_document(*cert, url)
    document["routes"] = [
        {"path_prefix": "/private/", "backends": [url], "basic_auth": basic_auth},
        {"path_prefix": "/lan/", "backends": [url], "allow": ["10.0.0.0/8"]},
        {
            "path_prefix": "/local/",
            "backends": [url],
            "allow": ["127.0.0.0/8", "::1"],
            "deny": ["127.0.0.2"],
        },
        {"path_prefix": "/denied/", "backends": [url], "deny": ["127.0.0.0/24"]},
        {"backends": [url]},
    ]
    return document


@pytest.fixture
async def proxy(server_cert: tuple[Path, Path], tmp_path: Path) -> AsyncIterator[RunningProxy]:
    async with proxy_for(lambda url: access_document(server_cert, tmp_path, url)) as running:
        yield running


async def fetch(
    proxy: RunningProxy, ca: LocalCA, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], dict[str, list[str]]]:
    """Status, response headers, and the headers the backend saw (when it answered)."""
    url = f"https://localhost:{proxy.https_port}{path}"
    async with aiohttp.ClientSession() as client:
        async with client.get(url, headers=headers, ssl=ca.client_context()) as response:
            seen = echoed_headers(await response.json()) if response.status == 200 else {}
            return response.status, dict(response.headers), seen


# (path, request headers, status, user the backend sees, challenge sent)
CASES = [
    ("/private/a", {}, 401, None, True),
    ("/private/a", {"Authorization": basic("alice", "alice-secret")}, 200, "alice", False),
    ("/private/a", {"Authorization": basic("bob", "bob-secret")}, 200, "bob", False),
    ("/private/a", {"Authorization": basic("alice", "wrong")}, 401, None, True),
    ("/private/a", {"Authorization": basic("bob", "alice-secret")}, 401, None, True),
    ("/private/a", {"Authorization": basic("nobody", "alice-secret")}, 401, None, True),
    ("/private/a", {"Authorization": "Basic !!not-base64"}, 401, None, True),
    ("/private/a", {"Authorization": "Bearer abc"}, 401, None, True),
    ("/public", {"X-Forwarded-User": "mallory"}, 200, None, False),  # never passed on
    ("/lan/a", {}, 403, None, False),
    ("/local/a", {}, 200, None, False),
    ("/denied/a", {}, 403, None, False),
]


@pytest.mark.parametrize(("path", "headers", "status", "user", "challenge"), CASES)
async def test_access_rules(
    path: str,
    headers: dict[str, str],
    status: int,
    user: str | None,
    challenge: bool,
    proxy: RunningProxy,
    ca: LocalCA,
) -> None:
    got_status, response_headers, seen = await fetch(proxy, ca, path, headers)
    assert got_status == status
    assert (response_headers.get("WWW-Authenticate") == CHALLENGE) is challenge
    if status == 200:
        assert seen.get("x-forwarded-user") == ([user] if user else None)
        assert "authorization" not in seen


async def test_failed_attempts_are_throttled_per_address(
    server_cert: tuple[Path, Path], tmp_path: Path, ca: LocalCA
) -> None:
    right = {"Authorization": basic("alice", "alice-secret")}
    wrong = {"Authorization": basic("alice", "guess")}
    throttled = partial(access_document, server_cert, tmp_path, max_failures=3, lockout=1)
    async with proxy_for(throttled) as proxy:
        statuses = [(await fetch(proxy, ca, "/private/", wrong))[0] for _ in range(3)]
        assert statuses == [401, 401, 401]
        status, headers, _ = await fetch(proxy, ca, "/private/", right)
        assert (status, headers["Retry-After"]) == (429, "1")  # even the right password
        assert (await fetch(proxy, ca, "/public", {}))[0] == 200  # other routes unaffected
        await asyncio.sleep(1.1)
        assert (await fetch(proxy, ca, "/private/", right))[0] == 200


BAD_HTPASSWD = [
    ("alice:$apr1$abc$def\n", "line 1", "not bcrypt or Argon2"),
    ("# only a comment\n", "no users", "htpasswd -B"),
    ("alice\n", "line 1", "USER:HASH"),
    ("alice:{SHA}abc=\nbob:$2y$04$x\n", "line 1", "'alice'"),
    ("a:$2y$04$x\na:$2y$04$y\n", "line 2", "twice"),
]


@pytest.mark.parametrize(("content", "where", "message"), BAD_HTPASSWD)
def test_unusable_htpasswd_files_are_configuration_errors(
    content: str, where: str, message: str, tmp_path: Path
) -> None:
    (tmp_path / "htpasswd").write_text(content)
    config = tmp_path / "proxy.toml"
    config.write_text(
        "[[listeners]]\nkind = 'http'\nport = 8080\n[[routes]]\nbackends = ['http://b']\n"
        f"basic_auth = {{ htpasswd = '{tmp_path / 'htpasswd'}' }}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config, environ={})
    assert "routes[0].basic_auth.htpasswd" in str(caught.value)
    assert where in str(caught.value)
    assert message in str(caught.value)


def test_throttle_forgets_expired_addresses_when_many_fail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tlsproxy import basic_auth

    monkeypatch.setattr(basic_auth, "MAX_TRACKED_ADDRESSES", 3)
    throttle = basic_auth.FailureThrottle(max_failures=2, window=60)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        throttle.failed(address)
    # All recent: the oldest address is dropped to stay within the bound.
    assert set(throttle._failures) == {"10.0.0.2", "10.0.0.3", "10.0.0.4"}
    throttle.failed("10.0.0.4")
    assert throttle.retry_after("10.0.0.4") > 0

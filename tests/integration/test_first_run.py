"""A second kit from nothing: plain `docker compose up -d --wait`, no make, no volumes.

It runs with test-short certificates (a 24 s lifetime, checked every 5 s) so that the
certs service renews them while a client keeps going, and without any admin so that
the first-run setup link is the only way in.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from .conftest import Kit
from .test_blog_through_proxy import csrf_token

# The blog's first-run line (docs/blog.md, "First admin"); the last one is current.
SETUP_LINK = re.compile(r"https?://\S+/setup/[A-Za-z0-9_-]{43,}")

LIFETIME = "24s"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory, kit: Kit) -> Iterator[Kit]:
    """Only ports, the blog's address and short lifetimes are set: the rest is default."""
    fresh = Kit.new(
        f"{kit.project}-fresh",
        tmp_path_factory.mktemp("fresh"),
        CERT_LIFETIME=LIFETIME,
        CERT_RENEW_INTERVAL="5s",
    )
    try:
        fresh.compose("up", "-d", "--wait")
        fresh.copy_ca_out()
        yield fresh
    finally:
        fresh.compose("down", "-v", "--remove-orphans")


def get(kit: Kit, path: str = "/") -> tuple[int, bytes]:
    """One request on a new TLS connection; returns the status and the served leaf (DER)."""
    connection = http.client.HTTPSConnection(
        "localhost", kit.https_port, context=kit.ssl_context(), timeout=10
    )
    try:
        # The leaf is read right after the handshake: an answer with
        # "Connection: close" (sent while a renewed certificate retires the old
        # listener's connections) makes http.client drop its socket.
        connection.connect()
        assert connection.sock is not None
        leaf = connection.sock.getpeercert(binary_form=True)
        assert leaf is not None
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, leaf
    finally:
        connection.close()


def test_the_first_start_makes_a_ca_that_verifies_the_blog(fresh: Kit) -> None:
    assert fresh.ca.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    status, _ = get(fresh)
    assert status == 200
    assert "CA created" in fresh.compose("logs", "certs").stdout


def test_no_make_means_no_host_files(fresh: Kit) -> None:
    """Everything lives in volumes: the only host file is the ca.pem we copied out."""
    assert sorted(path.name for path in fresh.workdir.iterdir()) == ["ca.pem"]


def test_the_certificate_renews_itself_while_clients_keep_going(fresh: Kit) -> None:
    served: list[bytes] = []
    failures: list[str] = []
    deadline = time.monotonic() + 90
    while len(set(served)) < 3 and time.monotonic() < deadline:
        try:
            status, leaf = get(fresh)
        except (OSError, http.client.HTTPException) as error:  # ssl errors are OSErrors
            failures.append(repr(error))
            continue
        if status != 200:
            failures.append(f"status {status}")
        served.append(leaf)
        time.sleep(0.05)
    assert failures == []
    assert len(set(served)) >= 3, f"{len(served)} requests saw {len(set(served))} certificates"
    assert "Server certificate issued (it is past two thirds" in fresh.compose("logs").stdout


def test_the_fresh_kit_leaves_nothing_behind(fresh: Kit, tmp_path: Path) -> None:
    """The volumes are the project's own, named after it (and removed with `down -v`)."""
    volumes = fresh.compose("config", "--volumes").stdout.split()
    assert sorted(volumes) == [
        "acme-account",
        "acme-certs",
        "acme-challenges",
        "blog-data",
        "certs-ca",
        "certs-served",
    ]
    assert os.environ.get("CERTS_DIR") is None


@pytest.fixture
async def browser(fresh: Kit) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=fresh.ssl_context())
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


async def dead_link_answer(browser: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with browser.get(url) as response:
        return response.status, await response.text()


async def test_the_setup_link_makes_the_first_admin_once(
    fresh: Kit, browser: aiohttp.ClientSession
) -> None:
    links = SETUP_LINK.findall(fresh.compose("logs", "blog").stdout)
    assert links, "the blog logged no setup link"
    link = links[-1]
    assert link.startswith(fresh.url("/setup/"))
    wrong = link.rsplit("/", 1)[0] + "/" + secrets.token_urlsafe(32)
    before = await dead_link_answer(browser, wrong)  # no admin yet
    assert before[0] == 404

    form = {
        "username": "first",
        "password": "a long first password",
        "confirm_password": "a long first password",
        "csrf_token": await csrf_token(browser, link),
    }
    async with browser.post(link, data=form) as response:
        # Logged in, on the page that offers a second factor at once (issue 19).
        assert response.status == 200 and response.url.path == "/dashboard/security"
        page = await response.text()
        assert "first" in page and "Your admin account is ready" in page

    assert await dead_link_answer(browser, link) == before  # used: like any wrong token
    assert await dead_link_answer(browser, wrong) == before  # an admin now exists: same
    async with browser.post(link, data=form) as response:
        assert response.status in (403, 404)  # no second admin either way
    users = fresh.compose("exec", "-T", "blog", "blogctl", "user", "list").stdout
    assert re.search(r"^first\b.*admin", users, re.MULTILINE), users
    assert len([line for line in users.splitlines() if "admin" in line]) == 1, users

"""Second factors under attack (the second attack round, findings 01-06): changes of
factors need the password, malformed passkey requests are a 400, one browser cannot
evict another's passkey challenges, cookies that are not UTF-8 are unknown tokens, the
second step refuses plain HTTP before checking anything, and a pending login ends when
the password or the factors change."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import cbor2
import pytest
from aiohttp import ClientResponse, CookieJar
from aiohttp.test_utils import TestClient
from blog import keys, passkeys, recovery_codes, second_factor, sessions, tokens, totp, users
from blog_soft_authenticator import SoftAuthenticator, b64url, unb64url
from blog_testkit import PASSWORD, MakeClient, add_user, csrf_from, login, post_form
from test_blog_second_factor import (
    CODE_ITEM,
    PUBLIC_URL,
    SECRET_TEXT,
    enrol_totp,
    enrolled,
    has_session,
    json_post,
    logout,
    register_passkey,
    second_step,
)

NEW_PASSWORD = "an entirely different passphrase 42"

# Raw bytes, not UTF-8: aiohttp hands them to the app as lone surrogates.
NOT_UTF8 = b"\xff\xfe"


async def raw_request(client: TestClient, request: bytes) -> int:
    """Send `request` as bytes (a client library would refuse them); the status code."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(request)
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    return int(status_line.split()[1])


def raw_get(path: str, cookie: bytes) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: ".encode()
        + cookie
        + b"\r\n\r\n"
    )


def raw_post(path: str, cookie: bytes, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nCookie: "
    ).encode()
    return head + cookie + b"\r\n\r\n" + body


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (raw_get("/", b"__Host-blog_session=" + NOT_UTF8), 200),
        (raw_get("/dashboard", b"__Host-blog_session=" + NOT_UTF8), 303),
        (raw_get("/login/second-factor", b"__Host-blog_pending_login=" + NOT_UTF8), 303),
        (raw_get("/login", b"__Host-blog_csrf=" + NOT_UTF8), 200),
        (
            raw_post(
                "/login/second-factor",
                b"__Host-blog_csrf=t; __Host-blog_pending_login=" + NOT_UTF8,
                b"code=123456&csrf_token=t",
            ),
            401,
        ),
        (
            raw_post(
                "/login",
                b"__Host-blog_csrf=t; __Host-blog_device=alice:9999999999:" + NOT_UTF8 + b":x",
                b"username=alice&password=wrong&csrf_token=t",
            ),
            401,
        ),
        (  # a CSRF cookie that is not UTF-8 matches nothing: refused, not a 500
            raw_post("/login", b"__Host-blog_csrf=" + NOT_UTF8, b"csrf_token=x"),
            403,
        ),
    ],
)
async def test_a_cookie_that_is_not_utf8_is_an_unknown_token(
    client: TestClient, request_bytes: bytes, expected: int
) -> None:
    add_user(client, "alice")
    assert await raw_request(client, request_bytes) == expected


def test_only_well_formed_tokens_have_a_digest() -> None:
    token = tokens.new()
    assert tokens.digest(token) is not None and tokens.same(token, token)
    for value in ("", "\udcff\udcfe", "x" * 129, "a b", "é", None):
        assert tokens.digest(value) is None, value
    assert not tokens.same("\udcff", "\udcff") and not tokens.same("", "")


SecondBrowser = Callable[[TestClient], Awaitable[TestClient]]


@pytest.fixture
def second_browser(aiohttp_client) -> SecondBrowser:
    """Another browser (its own cookie jar) on the server of a client."""

    async def make(client: TestClient) -> TestClient:
        jar = CookieJar(unsafe=True, treat_as_secure_origin=str(client.server.make_url("/")))
        return await aiohttp_client(client.server, cookie_jar=jar)

    return make


# The second step over plain HTTP (finding 04) ------------------------------------------

HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9"}
HTTP = {"X-Forwarded-Proto": "http", "X-Forwarded-For": "198.51.100.9"}


async def pending_login_behind_proxy(client: TestClient) -> str:
    """Give alice's password over HTTPS (as the proxy reports it); the page's CSRF token."""
    response = await login(client, "alice", **HTTPS)
    assert response.headers["Location"] == "/login/second-factor"
    return await csrf_from(client, "/login/second-factor", **HTTPS)


async def test_the_second_step_over_plain_http_checks_and_spends_nothing(
    make_client: MakeClient,
) -> None:
    client = await make_client(trusted_proxies=("127.0.0.1",), public_url=PUBLIC_URL)
    alice = add_user(client, "alice")
    conn = client.server.app[keys.DB]
    now = time.time()
    secret = enrolled(conn, alice.id, now - 120)
    codes = recovery_codes.issue(conn, alice.id)
    code = totp.code_at(secret, now)
    for fields in ({"code": codes[0], "kind": "recovery"}, {"code": code}):
        token = await pending_login_behind_proxy(client)
        refused = await client.post(
            "/login/second-factor", headers=HTTP, allow_redirects=False,
            data={"csrf_token": token, **fields},
        )  # fmt: skip
        assert refused.status == 403 and "https://" in await refused.text()
        assert recovery_codes.remaining(conn, alice.id) == 10
        # The pending login whose cookie came in clear is over.
        again = await client.get("/login/second-factor", headers=HTTPS, allow_redirects=False)
        assert again.status == 303 and again.headers["Location"] == "/login"
    # Nothing was spent: the same one-time code still finishes a login over HTTPS.
    token = await pending_login_behind_proxy(client)
    done = await client.post(
        "/login/second-factor", headers=HTTPS, allow_redirects=False,
        data={"csrf_token": token, "code": code},
    )  # fmt: skip
    assert done.status == 303 and done.headers["Location"] == "/dashboard"
    # Passkey requests over plain HTTP are refused before any challenge or check.
    token = await csrf_from(client, "/login", **HTTPS)
    for path in ("/login/passkey/options", "/login/passkey"):
        response = await client.post(
            path, json={}, headers={**HTTP, "X-CSRF-Token": token}, allow_redirects=False
        )
        assert response.status == 403, path


# Pending logins end with the password (finding 05) -------------------------------------


async def test_a_pending_login_ends_when_the_password_changes(
    make_client: MakeClient, second_browser: SecondBrowser
) -> None:
    attacker = await make_client()
    alice = add_user(attacker, "alice")
    conn = attacker.server.app[keys.DB]
    now = time.time()
    secret = enrolled(conn, alice.id, now - 120)
    assert (await login(attacker, "alice")).headers["Location"] == "/login/second-factor"
    # The owner changes her password in another browser.
    owner = await second_browser(attacker)
    await login(owner, "alice")
    assert (await second_step(owner, totp.code_at(secret, now - 30))).status == 303
    changed = await post_form(
        owner, "/dashboard/password", "/dashboard/password",
        current_password=PASSWORD, new_password=NEW_PASSWORD, confirm_password=NEW_PASSWORD,
    )  # fmt: skip
    assert changed.status == 303
    late = await second_step(attacker, totp.code_at(secret, now))
    assert late.status == 401 and not has_session(attacker)
    # blogctl reset (another process: the in-memory table never hears of it) too.
    assert (await login(attacker, "alice", NEW_PASSWORD)).status == 303
    users.reset_password(conn, "alice", PASSWORD)
    late = await second_step(attacker, totp.code_at(secret, now + 30))
    assert late.status == 401 and not has_session(attacker)


# Malformed passkey requests (finding 02) -----------------------------------------------

DEEP = 5000
DEEP_BODY = b'{"credential":' * DEEP + b"{}" + b"}" * DEEP


def deep_client_data(challenge: str) -> dict[str, object]:
    """An assertion whose clientDataJSON (base64url inside the JSON) nests DEEP levels."""
    client_data = json.dumps({"type": "webauthn.get", "challenge": challenge, "origin": PUBLIC_URL})
    client_data = client_data[:-1] + ',"x":' + "[" * DEEP + "]" * DEEP + "}"
    response = {
        "clientDataJSON": b64url(client_data.encode()),
        "authenticatorData": "AAAA",
        "signature": "AAAA",
    }
    return {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": response}


def safetynet_with_array_header(credential: dict[str, Any]) -> dict[str, Any]:
    """A registration whose android-safetynet statement's JWS header is `[]`."""
    attestation = cbor2.loads(unb64url(credential["response"]["attestationObject"]))
    attestation["fmt"] = "android-safetynet"
    jws = f"{b64url(b'[]')}.{b64url(b'{}')}.x".encode()
    attestation["attStmt"] = {"ver": "1", "response": jws}
    credential["response"]["attestationObject"] = b64url(cbor2.dumps(attestation))
    return credential


async def post_raw(
    client: TestClient, path: str, token: str, body: bytes, **headers: str
) -> ClientResponse:
    headers = {"X-CSRF-Token": token, "Content-Type": "application/json", **headers}
    headers.setdefault("Accept", "application/json")
    return await client.post(path, data=body, headers=headers, allow_redirects=False)


async def assert_clear_400(response: ClientResponse, caplog: pytest.LogCaptureFixture) -> None:
    assert response.status == 400, await response.text()
    assert "passkey" in (await response.json())["error"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (DEEP_BODY, {}),
        (b'{"credential": {"x": "' + b"a" * 70_000 + b'"}}', {}),
        (b"this is not compressed", {"Content-Encoding": "deflate"}),
        (b"this is not compressed", {"Content-Encoding": "gzip"}),
    ],
    ids=["deep", "large", "not-deflate", "not-gzip"],
)
async def test_malformed_passkey_bodies_are_a_400_on_every_endpoint(
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    headers: dict[str, str],
) -> None:
    client = await make_client(public_url=PUBLIC_URL)
    add_user(client, "alice")
    token = await csrf_from(client, "/login")
    headers = {**headers, "Connection": "close"}  # a body not read to its end
    await assert_clear_400(await post_raw(client, "/login/passkey", token, body, **headers), caplog)
    await login(client, "alice")
    token = await csrf_from(client, "/dashboard/security")
    response = await post_raw(client, "/dashboard/security/passkeys", token, body, **headers)
    await assert_clear_400(response, caplog)


async def test_hostile_credentials_are_a_400_logged_at_info(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="blog.passkeys")
    client = await make_client(public_url=PUBLIC_URL)
    add_user(client, "alice")
    token = await csrf_from(client, "/login")
    options = await (await json_post(client, "/login/passkey/options", token)).json()
    deep = {"credential": deep_client_data(options["challenge"])}
    await assert_clear_400(await json_post(client, "/login/passkey", token, deep), caplog)
    assert any("RecursionError" in r.message for r in caplog.records if r.levelno == logging.INFO)
    await login(client, "alice")
    token = await csrf_from(client, "/dashboard/security")
    options = await (await json_post(client, "/dashboard/security/passkeys/options", token)).json()
    credential = safetynet_with_array_header(SoftAuthenticator(PUBLIC_URL).create(options))
    body = {"credential": credential, "password": PASSWORD}
    response = await json_post(client, "/dashboard/security/passkeys", token, body)
    await assert_clear_400(response, caplog)
    assert any("AttributeError" in r.message for r in caplog.records)
    assert not passkeys.list_for(client.server.app[keys.DB], 1)


def test_json_depth_skips_brackets_in_strings() -> None:
    assert passkeys.MAX_POSTED_BYTES < 70_000  # the "large" case above is over it
    for doc, depth in (({"a": [1, {"b": '[[["['}]}, 3), (["\\", []], 2), ('"]]', 0), ({}, 1)):
        assert passkeys.json_depth(json.dumps(doc).encode()) == depth, doc


# Passkey challenges belong to a browser (finding 03) -----------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_of_challenges_evicts_only_its_senders_own() -> None:
    challenges = passkeys.Challenges(Clock())
    victims = challenges.issue("sign-in", None, "victim", "192.0.2.1")
    flood = [challenges.issue("sign-in", None, "attacker", "192.0.2.1") for _ in range(50)]
    assert challenges.take(flood[-1], "sign-in", None, "attacker")
    assert not challenges.take(flood[0], "sign-in", None, "attacker")  # its own, evicted
    # Another browser can neither use nor use up the victim's challenge.
    assert not challenges.take(victims, "sign-in", None, "attacker")
    assert challenges.take(victims, "sign-in", None, "victim")


def test_challenges_past_an_address_or_the_table_are_refused_not_evicted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(passkeys, "PER_ADDRESS", 6)
    monkeypatch.setattr(passkeys, "MAX_CHALLENGES", 10)
    clock = Clock()
    challenges = passkeys.Challenges(clock)
    mine = [challenges.issue("sign-in", None, f"b{n}", "192.0.2.1") for n in range(6)]
    with pytest.raises(passkeys.ChallengesBusy) as busy:
        challenges.issue("sign-in", None, "another", "192.0.2.1")
    assert busy.value.retry_after == passkeys.CHALLENGE_LIFETIME
    others = [challenges.issue("sign-in", None, f"c{n}", f"198.51.100.{n}") for n in range(4)]
    with pytest.raises(passkeys.ChallengesBusy):  # the table is full
        challenges.issue("sign-in", None, "late", "203.0.113.1")
    assert all(challenges.take(c, "sign-in", None, f"b{n}") for n, c in enumerate(mine))
    assert all(challenges.take(c, "sign-in", None, f"c{n}") for n, c in enumerate(others))
    # Expired challenges make room.
    for n in range(10):
        challenges.issue("sign-in", None, f"d{n}", f"203.0.113.{n}")
    clock.now += passkeys.CHALLENGE_LIFETIME
    assert challenges.issue("sign-in", None, "late", "203.0.113.1")


async def test_options_past_the_address_bound_are_a_429(
    make_client: MakeClient, second_browser: SecondBrowser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(passkeys, "PER_ADDRESS", 2)
    first = await make_client(public_url=PUBLIC_URL)
    statuses = []
    for browser in (first, await second_browser(first), await second_browser(first)):
        token = await csrf_from(browser, "/login")
        response = await json_post(browser, "/login/passkey/options", token)
        statuses.append(response.status)
    assert statuses == [200, 200, 429]
    assert int(response.headers["Retry-After"]) == passkeys.CHALLENGE_LIFETIME
    assert "try again" in (await response.json())["error"]


async def test_another_browser_cannot_evict_or_answer_a_passkey_challenge(
    make_client: MakeClient, second_browser: SecondBrowser
) -> None:
    victim = await make_client(public_url=PUBLIC_URL)
    add_user(victim, "alice")
    await login(victim, "alice")
    authenticator = SoftAuthenticator(PUBLIC_URL)
    assert (await register_passkey(victim, authenticator)).status == 303
    await logout(victim)
    token = await csrf_from(victim, "/login")
    options = await (await json_post(victim, "/login/passkey/options", token)).json()
    assertion = {"credential": authenticator.get(options)}
    # An anonymous client asks for many more options than a browser may hold...
    attacker = await second_browser(victim)
    attacker_token = await csrf_from(attacker, "/login")
    for _ in range(passkeys.PER_BROWSER * 5):
        answer = await json_post(attacker, "/login/passkey/options", attacker_token)
        assert answer.status == 200
    # ...and replays the victim's assertion from its own browser: refused.
    stolen = await json_post(attacker, "/login/passkey", attacker_token, assertion)
    assert stolen.status == 400 and not has_session(attacker)
    signed_in = await json_post(victim, "/login/passkey", token, assertion)
    assert signed_in.status == 303 and has_session(victim)


# Changes of second factors need the password and end other logins (finding 01) ----------


async def test_no_factor_is_added_with_the_session_alone(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A stolen session cookie cannot add a passkey, switch on TOTP or make recovery codes."""
    caplog.set_level(logging.INFO, logger="blog.security")
    client = await make_client(public_url=PUBLIC_URL)
    alice = add_user(client, "alice")
    conn = client.server.app[keys.DB]
    await login(client, "alice")
    token = await csrf_from(client, "/dashboard/security")
    evil = SoftAuthenticator(PUBLIC_URL)
    for password in ({}, {"password": "wrong"}):
        options = await json_post(client, "/dashboard/security/passkeys/options", token)
        body = {"credential": evil.create(await options.json()), **password}
        added = await json_post(client, "/dashboard/security/passkeys", token, body)
        assert added.status == 400 and "password" in (await added.json())["error"]
    assert not passkeys.list_for(conn, alice.id)
    await post_form(client, "/dashboard/security/totp", "/dashboard/security")
    secret = SECRET_TEXT.search(await (await client.get("/dashboard/security")).text())
    assert secret
    code = totp.code_at(secret.group(1), time.time())
    for password in ({}, {"password": "wrong"}):
        page = "/dashboard/security"
        refused = await post_form(
            client, "/dashboard/security/totp/confirm", page, code=code, **password
        )
        assert refused.status == 400 and "password is wrong" in await refused.text()
    assert not second_factor.factors_of(conn, alice.id).totp
    # The code was not spent by the refusals: with the password it switches TOTP on.
    page = "/dashboard/security"
    confirmed = await post_form(
        client, "/dashboard/security/totp/confirm", page, code=code, password=PASSWORD
    )
    assert confirmed.status == 200 and second_factor.factors_of(conn, alice.id).totp
    before = sorted(r[0] for r in conn.execute("SELECT code_hash FROM recovery_codes"))
    refused = await post_form(client, "/dashboard/security/recovery-codes", page)
    assert refused.status == 400 and not CODE_ITEM.findall(await refused.text())
    assert sorted(r[0] for r in conn.execute("SELECT code_hash FROM recovery_codes")) == before
    refusals = [r for r in caplog.records if r.message.startswith("reauth-failed user=alice")]
    assert len(refusals) == 5


def other_logins(client: TestClient, user_id: int) -> tuple[str, str]:
    """Another session of the user (a stolen cookie) and a pending login (password
    given elsewhere); the session's cookie value and the pending login's token."""
    app = client.server.app
    conn = app[keys.DB]
    raw_id, _ = sessions.create_session(conn, user_id, int(time.time()))
    password_hash = users.password_hash_of(conn, user_id) or ""
    pending = app[keys.PENDING_LOGINS].begin(user_id, "alice", "/", None, None, password_hash)
    return raw_id, pending


def still_live(client: TestClient, raw_id: str, pending: str) -> tuple[bool, bool]:
    app = client.server.app
    session = sessions.load_session(app[keys.DB], raw_id, int(time.time()), 3600, 86400)
    return session is not None, app[keys.PENDING_LOGINS].get(pending) is not None


async def test_every_change_of_factors_ends_the_other_logins_and_says_so(
    make_client: MakeClient,
) -> None:
    client = await make_client(public_url=PUBLIC_URL)
    alice = add_user(client, "alice")
    await login(client, "alice")
    page = "/dashboard/security"
    changes: list[Callable[[], Awaitable[ClientResponse]]] = [
        lambda: register_passkey(client, SoftAuthenticator(PUBLIC_URL)),
        lambda: post_form(client, "/dashboard/security/recovery-codes", page, password=PASSWORD),
        lambda: post_form(client, "/dashboard/security/passkeys/1/remove", page, password=PASSWORD),
    ]
    for change in changes:
        others = other_logins(client, alice.id)
        response = await change()
        assert response.status in (200, 303), await response.text()
        if response.status == 303:
            response = await client.get(response.headers["Location"])
        assert 'id="sessions-ended"' in await response.text()
        assert "1 other session " in await response.text()
        assert still_live(client, *others) == (False, False)
        assert (await client.get("/dashboard", allow_redirects=False)).status == 200
    # Switching TOTP on does the same (enrol_totp checks the page that shows the codes).
    others = other_logins(client, alice.id)
    await enrol_totp(client)
    assert still_live(client, *others) == (False, False)
    assert (await client.get("/dashboard", allow_redirects=False)).status == 200


async def test_a_password_change_ends_other_sessions_and_says_so(client: TestClient) -> None:
    alice = add_user(client, "alice")
    await login(client, "alice")
    others = other_logins(client, alice.id)
    changed = await post_form(
        client, "/dashboard/password", "/dashboard/password",
        current_password=PASSWORD, new_password=NEW_PASSWORD, confirm_password=NEW_PASSWORD,
    )  # fmt: skip
    assert changed.status == 303
    assert (
        "other sessions have been logged out"
        in await (await client.get("/dashboard/password?done=1")).text()
    )
    assert still_live(client, *others) == (False, False)
    assert (await client.get("/dashboard", allow_redirects=False)).status == 200

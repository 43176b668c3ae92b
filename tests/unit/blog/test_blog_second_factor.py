"""Second factors (issue 19): one-time codes, recovery codes, the shared throttle, the
policy, blogctl's recovery path, and passkeys with a software authenticator."""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import time
from pathlib import Path

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from blog import ctl, db, keys, passkeys, recovery_codes, second_factor, totp, users
from blog.config import Settings
from blog.sessions import COOKIE_NAME as SESSION_COOKIE
from blog.throttle import PAIR_LIMIT
from blog_soft_authenticator import SoftAuthenticator
from blog_testkit import PASSWORD, MakeClient, add_user, csrf_from, login, post_form

# RFC 6238 appendix B: the seeds are ASCII "1234567890" repeated to the hash's length.
SEED_SHA1 = b"12345678901234567890"
SEED_SHA256 = b"12345678901234567890123456789012"
SEED_SHA512 = (b"1234567890" * 7)[:64]
RFC6238_VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
PUBLIC_URL = "https://blog.example"
ACCOUNT_PAGES = ("/dashboard/security", "/dashboard/password")
SECRET_TEXT = re.compile(r'id="totp-secret">([A-Z2-7]+)<')
CODE_ITEM = re.compile(r"<li><code>([a-z2-7-]+)</code></li>")


def b32(seed: bytes) -> str:
    import base64

    return base64.b32encode(seed).decode()


@pytest.mark.parametrize(("when", "sha1", "sha256", "sha512"), RFC6238_VECTORS)
def test_rfc6238_vectors(when: int, sha1: str, sha256: str, sha512: str) -> None:
    for seed, digest, expected in (
        (SEED_SHA1, hashlib.sha1, sha1),
        (SEED_SHA256, hashlib.sha256, sha256),
        (SEED_SHA512, hashlib.sha512, sha512),
    ):
        assert totp.code_at(b32(seed), when, digits=8, digest=digest) == expected
        step = totp.matching_step(b32(seed), expected, when, digits=8, digest=digest)
        assert step == when // 30


def test_codes_of_neighbouring_steps_match_and_others_do_not() -> None:
    secret = totp.new_secret()
    now = 1_700_000_015.0
    for offset, accepted in ((-60, False), (-30, True), (0, True), (30, True), (60, False)):
        code = totp.code_at(secret, now + offset)
        assert (totp.matching_step(secret, code, now) is not None) is accepted, offset
    assert totp.matching_step(secret, "12345", now) is None  # too short
    assert totp.matching_step(secret, "abcdef", now) is None


def enrolled(conn: sqlite3.Connection, user_id: int, now: float) -> str:
    """A confirmed secret for the user, switched on with the code of step now - 60 s."""
    secret = totp.begin_enrolment(conn, user_id, int(now))
    assert totp.use_code(conn, user_id, totp.code_at(secret, now - 60), now - 60, confirming=True)
    return secret


async def test_a_code_is_refused_when_replayed_within_its_whole_window(
    client: TestClient,
) -> None:
    conn = client.server.app[keys.DB]
    alice = add_user(client, "alice")
    now = 1_700_000_010.0
    secret = enrolled(conn, alice.id, now)
    code = totp.code_at(secret, now)
    assert totp.use_code(conn, alice.id, code, now)
    # The same code is still "valid" for pyotp for a step either side: the blog refuses it.
    for later in (0, 1, 29, 30, 45):
        assert totp.matching_step(secret, code, now + later) is not None
        assert not totp.use_code(conn, alice.id, code, now + later), later
    # A code of an earlier step than the one used is refused as well.
    assert not totp.use_code(conn, alice.id, totp.code_at(secret, now - 30), now)
    # The next step's code works once.
    assert totp.use_code(conn, alice.id, totp.code_at(secret, now + 30), now + 30)


async def test_an_unconfirmed_secret_is_no_factor(client: TestClient) -> None:
    conn = client.server.app[keys.DB]
    alice = add_user(client, "alice")
    secret = totp.begin_enrolment(conn, alice.id, 0)
    assert not second_factor.factors_of(conn, alice.id).any
    assert not totp.use_code(conn, alice.id, totp.code_at(secret, time.time()), time.time())


async def test_recovery_codes_are_hashed_and_single_use(client: TestClient) -> None:
    conn = client.server.app[keys.DB]
    alice = add_user(client, "alice")
    codes = recovery_codes.issue(conn, alice.id)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = [row[0] for row in conn.execute("SELECT code_hash FROM recovery_codes")]
    assert all(code.replace("-", "") not in " ".join(stored) for code in codes)
    assert recovery_codes.use(conn, alice.id, codes[3].upper().replace("-", " "), 1)
    assert not recovery_codes.use(conn, alice.id, codes[3], 2)
    assert recovery_codes.remaining(conn, alice.id) == 9
    # New codes replace the old ones.
    recovery_codes.issue(conn, alice.id)
    assert not recovery_codes.use(conn, alice.id, codes[4], 3)


async def enrol_totp(client: TestClient) -> tuple[str, list[str]]:
    """Switch on TOTP through the security page as the logged-in user; (secret, codes)."""
    begin = await post_form(client, "/dashboard/security/totp", "/dashboard/security")
    assert begin.status == 303
    page = await (await client.get("/dashboard/security")).text()
    assert "<svg" in page and 'id="totp-qr"' in page  # the QR code, drawn on the server
    found = SECRET_TEXT.search(page)
    assert found, "the secret is shown as text too"
    secret = found.group(1)
    confirm = await post_form(
        client,
        "/dashboard/security/totp/confirm",
        "/dashboard/security",
        code=totp.code_at(secret, time.time() - 30),
        password=PASSWORD,
    )
    assert confirm.status == 200
    codes = CODE_ITEM.findall(await confirm.text())
    assert len(codes) == 10
    return secret, codes


async def logout(client: TestClient) -> None:
    token = await csrf_from(client, "/")
    await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)


def has_session(client: TestClient) -> bool:
    return any(cookie.key == SESSION_COOKIE for cookie in client.session.cookie_jar)


async def second_step(client: TestClient, code: str, kind: str = "") -> ClientResponse:
    fields = {"code": code, **({"kind": kind} if kind else {})}
    return await post_form(client, "/login/second-factor", "/login/second-factor", **fields)


async def test_login_with_password_then_one_time_code(client: TestClient) -> None:
    add_user(client, "alice")
    await login(client, "alice")
    secret, codes = await enrol_totp(client)
    # Shown once: the page does not show them again.
    assert not CODE_ITEM.findall(await (await client.get("/dashboard/security")).text())
    await logout(client)
    first = await login(client, "alice")
    assert first.status == 303 and first.headers["Location"] == "/login/second-factor"
    assert not has_session(client)
    blocked = await client.get("/dashboard", allow_redirects=False)
    assert blocked.status == 303 and blocked.headers["Location"].startswith("/login")
    wrong = await second_step(
        client, "000000" if totp.code_at(secret, time.time()) != "000000" else "111111"
    )
    assert wrong.status == 401 and "wrong" in await wrong.text()
    code = totp.code_at(secret, time.time())
    done = await second_step(client, code)
    assert done.status == 303 and done.headers["Location"] == "/dashboard"
    assert has_session(client)
    # The same code at the next login: refused.
    await logout(client)
    await login(client, "alice")
    replay = await second_step(client, code)
    assert replay.status == 401
    # A recovery code works once.
    assert (await second_step(client, codes[0], "recovery")).status == 303
    await logout(client)
    await login(client, "alice")
    assert (await second_step(client, codes[0], "recovery")).status == 401


async def test_wrong_codes_count_against_the_password_throttle(client: TestClient) -> None:
    alice = add_user(client, "alice")
    conn = client.server.app[keys.DB]
    secret = enrolled(conn, alice.id, time.time() - 120)
    assert (await login(client, "alice", "wrong password")).status == 401
    assert (await login(client, "alice")).status == 303  # right: a code is due
    for _ in range(PAIR_LIMIT - 2):
        assert (await second_step(client, "99999999"[:6])).status == 401
    # The budget of this address and account is spent by the mix: even the right code...
    throttled = await second_step(client, totp.code_at(secret, time.time()))
    assert throttled.status == 429 and "Retry-After" in throttled.headers
    # ...and the right password are refused now.
    assert (await login(client, "alice")).status == 429


async def test_a_right_password_does_not_reset_the_code_guesses(client: TestClient) -> None:
    """Knowing the password must not buy fresh guesses at the code."""
    alice = add_user(client, "alice")
    enrolled(client.server.app[keys.DB], alice.id, time.time() - 120)
    statuses = []
    for _ in range(3):
        statuses.append((await login(client, "alice")).status)
        statuses.append((await second_step(client, "999999")).status)
    assert 429 in statuses[: PAIR_LIMIT + 1]


async def test_policy_sends_users_without_a_factor_to_enrol(make_client: MakeClient) -> None:
    client = await make_client()
    add_user(client, "alice", "admin")
    add_user(client, "bob", "author")
    await login(client, "alice")
    saved = await post_form(
        client, "/dashboard/users/second-factor", "/dashboard/users", policy="everyone"
    )
    assert saved.status == 303
    # The admin herself has no factor yet: every authoring page sends her to enrol.
    await logout(client)
    await login(client, "bob")
    app = client.server.app
    authoring = {
        re.sub(r"\{[^}]+\}", "1", r.canonical)
        for r in app.router.resources()
        if r.canonical.startswith("/dashboard")
        and not r.canonical.startswith(ACCOUNT_PAGES)
        and any(route.method == "GET" for route in r)
    }
    for path in ACCOUNT_PAGES:  # where one enrols, and the password: open
        assert (await client.get(path, allow_redirects=False)).status == 200, path
    assert {
        "/dashboard",
        "/dashboard/posts/new",
        "/dashboard/users",
        "/dashboard/media",
    } <= authoring
    for path in sorted(authoring):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/dashboard/security", (
            path
        )
    token = await csrf_from(client, "/dashboard/security")
    post = await client.post(
        "/dashboard/posts/new", data={"csrf_token": token, "title": "t", "body_md": "b"},
        allow_redirects=False,
    )  # fmt: skip
    assert post.status == 403
    assert app[keys.DB].execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0
    # The editor comes back with the text and the real reason (not "an earlier login").
    said = await post.text()
    assert "requires a second factor" in said and "earlier login" not in said
    page = await (await client.get("/dashboard/security")).text()
    assert 'id="enrol-first"' in page
    await enrol_totp(client)
    assert (await client.get("/dashboard", allow_redirects=False)).status == 200


async def test_login_under_the_policy_goes_straight_to_enrolment(client: TestClient) -> None:
    add_user(client, "alice", "admin")
    add_user(client, "bob", "author")
    second_factor.set_policy(client.server.app[keys.DB], "admins")
    assert (await login(client, "bob")).headers["Location"] == "/dashboard"  # not covered
    await logout(client)
    response = await login(client, "alice")
    assert response.status == 303 and response.headers["Location"] == "/dashboard/security"


async def test_policy_values_are_checked(admin_client: TestClient) -> None:
    response = await post_form(
        admin_client, "/dashboard/users/second-factor", "/dashboard/users", policy="sometimes"
    )
    assert response.status == 400
    assert second_factor.policy(admin_client.server.app[keys.DB]) == "optional"


async def test_removing_a_factor_asks_for_the_password(client: TestClient) -> None:
    add_user(client, "alice")
    await login(client, "alice")
    await enrol_totp(client)
    conn = client.server.app[keys.DB]
    refused = await post_form(
        client, "/dashboard/security/totp/remove", "/dashboard/security", password="nope"
    )
    assert refused.status == 400 and second_factor.factors_of(conn, 1).totp
    removed = await post_form(
        client, "/dashboard/security/totp/remove", "/dashboard/security",
        password="correct horse battery staple",
    )  # fmt: skip
    assert removed.status == 303
    factors = second_factor.factors_of(conn, 1)
    assert not factors.any and factors.recovery_codes == 0


def test_blogctl_removes_second_factors_and_logs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys
) -> None:
    monkeypatch.setenv("BLOG_DATA_DIR", str(tmp_path / "data"))
    conn = db.open_database(tmp_path / "data" / "blog.sqlite3")
    alice = users.create_user(conn, "alice", "correct horse battery staple", "admin")
    enrolled(conn, alice.id, time.time())
    recovery_codes.issue(conn, alice.id)
    conn.execute("INSERT INTO sessions VALUES ('x', ?, 't', 0, 0)", (alice.id,))
    caplog.set_level(logging.INFO, logger="blog.security")
    assert ctl.main(["user", "remove-second-factors", "alice"]) == 0
    factors = second_factor.factors_of(conn, alice.id)
    assert not factors.any and factors.recovery_codes == 0
    assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    assert "removed the second factors of alice" in capsys.readouterr().out
    assert any("remove user=alice client=blogctl factor=all" in r.message for r in caplog.records)
    assert ctl.main(["user", "remove-second-factors", "nobody"]) == 1


async def test_events_are_logged_with_the_forwarded_client(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(trusted_proxies=("127.0.0.1",))
    add_user(client, "alice")
    caplog.set_level(logging.INFO, logger="blog.security")
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    await login(client, "alice", "wrong", **forwarded)
    await login(client, "alice", **forwarded)
    lines = [r.message for r in caplog.records if r.name == "blog.security"]
    assert "login-failed user=alice client=203.0.113.7 step=password" in lines
    assert "login user=alice client=203.0.113.7 method=password" in lines
    # A typed name cannot forge a second line (or a second field) into the log.
    await login(client, "x\nlogin user=alice", "wrong", **forwarded)
    forged = [r.message for r in caplog.records if r.name == "blog.security"][-1]
    assert forged == 'login-failed user="x\\nlogin user=alice" client=203.0.113.7 step=password'


# Passkeys -----------------------------------------------------------------------------


async def json_post(
    client: TestClient, path: str, token: str, body: object = None
) -> ClientResponse:
    return await client.post(
        path, json=body or {}, allow_redirects=False,
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )  # fmt: skip


async def register_passkey(client: TestClient, authenticator: SoftAuthenticator) -> ClientResponse:
    token = await csrf_from(client, "/dashboard/security")
    options = await json_post(client, "/dashboard/security/passkeys/options", token)
    assert options.status == 200, await options.text()
    credential = authenticator.create(await options.json())
    body = {"credential": credential, "name": "laptop", "password": PASSWORD}
    return await json_post(client, "/dashboard/security/passkeys", token, body)


async def passkey_sign_in(
    client: TestClient, authenticator: SoftAuthenticator, page: str = "/login", **assertion: object
) -> ClientResponse:
    token = await csrf_from(client, page)
    options = await json_post(client, "/login/passkey/options", token)
    assert options.status == 200, await options.text()
    credential = authenticator.get(await options.json(), **assertion)
    return await json_post(client, "/login/passkey", token, {"credential": credential})


async def test_passkey_register_then_sign_in_without_a_name(make_client: MakeClient) -> None:
    client = await make_client(public_url=PUBLIC_URL)
    add_user(client, "alice")
    await login(client, "alice")
    authenticator = SoftAuthenticator(PUBLIC_URL)
    added = await register_passkey(client, authenticator)
    assert added.status == 303, await added.text()
    page = await (await client.get("/dashboard/security")).text()
    assert 'value="laptop"' in page
    await logout(client)
    assert not has_session(client)
    signed_in = await passkey_sign_in(client, authenticator)
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/dashboard"
    assert (await client.get("/dashboard", allow_redirects=False)).status == 200


async def test_a_passkey_for_another_site_is_refused(make_client: MakeClient) -> None:
    client = await make_client(public_url=PUBLIC_URL)
    add_user(client, "alice")
    await login(client, "alice")
    honest = SoftAuthenticator(PUBLIC_URL)
    assert (await register_passkey(client, honest)).status == 303
    # The same key, but the assertion is made for another relying party (a phishing site).
    stolen = honest.credentials[0]
    stolen.rp_id = "evil.example"
    await logout(client)
    refused = await passkey_sign_in(client, honest, credential=stolen)
    assert refused.status == 400 and "refused" in (await refused.json())["error"]
    # And one signed on another origin for the right relying party.
    stolen.rp_id = "blog.example"
    elsewhere = SoftAuthenticator("https://evil.example", honest.credentials)
    assert (await passkey_sign_in(client, elsewhere)).status == 400
    # Registration made for another relying party is refused too.
    assert (await passkey_sign_in(client, honest)).status == 303
    token = await csrf_from(client, "/dashboard/security")
    options = await (await json_post(client, "/dashboard/security/passkeys/options", token)).json()
    foreign = honest.create(options, rp_id="evil.example")
    body = {"credential": foreign, "password": PASSWORD}
    added = await json_post(client, "/dashboard/security/passkeys", token, body)
    assert added.status == 400
    assert len(passkeys.list_for(client.server.app[keys.DB], 1)) == 1


async def test_a_passkey_assertion_cannot_be_replayed(make_client: MakeClient) -> None:
    client = await make_client(public_url=PUBLIC_URL)
    add_user(client, "alice")
    await login(client, "alice")
    authenticator = SoftAuthenticator(PUBLIC_URL)
    await register_passkey(client, authenticator)
    await logout(client)
    token = await csrf_from(client, "/login")
    options = await (await json_post(client, "/login/passkey/options", token)).json()
    credential = authenticator.get(options)
    assert (
        await json_post(client, "/login/passkey", token, {"credential": credential})
    ).status == 303
    await logout(client)
    token = await csrf_from(client, "/login")
    again = await json_post(client, "/login/passkey", token, {"credential": credential})
    assert again.status == 400


async def test_passkey_as_the_second_factor(make_client: MakeClient) -> None:
    client = await make_client(public_url=PUBLIC_URL)
    add_user(client, "alice")
    add_user(client, "bob")
    await login(client, "bob")
    bobs = SoftAuthenticator(PUBLIC_URL)
    await register_passkey(client, bobs)
    await logout(client)
    await login(client, "alice")
    alices = SoftAuthenticator(PUBLIC_URL)
    await register_passkey(client, alices)
    await logout(client)
    assert (await login(client, "alice")).headers["Location"] == "/login/second-factor"
    page = await (await client.get("/login/second-factor")).text()
    assert 'id="passkey-second-factor"' in page
    # Bob's passkey does not finish Alice's login.
    token = await csrf_from(client, "/login/second-factor")
    options = await (await json_post(client, "/login/passkey/options", token)).json()
    assert [c["id"] for c in options["allowCredentials"]] == [
        passkeys.encoded_id(p) for p in passkeys.list_for(client.server.app[keys.DB], 1)
    ]
    wrong = await json_post(
        client,
        "/login/passkey",
        token,
        {"credential": bobs.get({**options, "rpId": "blog.example"})},
    )
    assert wrong.status == 400 and not has_session(client)
    done = await passkey_sign_in(client, alices, page="/login/second-factor")
    assert done.status == 303 and has_session(client)


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [
        ("", "BLOG_PUBLIC_URL"),
        ("https://192.0.2.10", "IP address"),
        ("https://[2001:db8::1]:8443", "IP address"),
    ],
)
async def test_passkeys_explain_why_they_cannot_work(
    make_client: MakeClient, public_url: str, expected: str
) -> None:
    client = await make_client(public_url=public_url)
    add_user(client, "alice")
    await login(client, "alice")
    page = await (await client.get("/dashboard/security")).text()
    assert 'id="passkeys-unavailable"' in page and expected in page
    assert "data-passkey-register" not in page
    token = await csrf_from(client, "/dashboard/security")
    refused = await json_post(client, "/dashboard/security/passkeys/options", token)
    assert refused.status == 409 and expected in (await refused.json())["error"]


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"credential": 1}', b'{"credential": {}}',
     b'{"credential": {"response": {"clientDataJSON": "!!"}}}',
     b'{"credential": {"id": "x", "rawId": "x", "type": "public-key", "response":'
     b' {"clientDataJSON": "e30", "authenticatorData": "", "signature": ""}}}'],
)  # fmt: skip
async def test_malformed_passkey_answers_are_a_clear_400(
    make_client: MakeClient, body: bytes
) -> None:
    client = await make_client(public_url=PUBLIC_URL)
    token = await csrf_from(client, "/login")
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    headers["Content-Type"] = "application/json"
    response = await client.post("/login/passkey", data=body, headers=headers)
    assert response.status == 400
    assert "passkey" in (await response.json())["error"]


def test_relying_party_is_the_public_host_name() -> None:
    rp = passkeys.relying_party(Settings(public_url="https://Blog.Example:8443"))
    assert rp.id == "blog.example" and rp.origin == "https://blog.example:8443"
    assert passkeys.relying_party(Settings(public_url="https://blog.example:443")).origin == (
        "https://blog.example"
    )


async def test_a_page_opened_by_ip_address_points_to_the_host_name(
    make_client: MakeClient,
) -> None:
    client = await make_client(public_url=PUBLIC_URL)
    add_user(client, "alice")
    await login(client, "alice")
    by_ip = await (await client.get("/dashboard/security")).text()  # the test server's 127.0.0.1
    assert 'id="passkeys-by-ip"' in by_ip and f'href="{PUBLIC_URL}/dashboard/security"' in by_ip
    by_name = await (
        await client.get("/dashboard/security", headers={"Host": "blog.example"})
    ).text()
    assert 'id="passkeys-by-ip"' not in by_name and "data-passkey-register" in by_name


async def test_several_passkeys_listed_named_and_removed(make_client: MakeClient) -> None:
    client = await make_client(public_url=PUBLIC_URL)
    add_user(client, "alice")
    add_user(client, "bob")
    await login(client, "alice")
    authenticator = SoftAuthenticator(PUBLIC_URL)
    for _ in range(2):
        assert (await register_passkey(client, authenticator)).status == 303
    conn = client.server.app[keys.DB]
    first, second = passkeys.list_for(conn, 1)
    page = "/dashboard/security"
    renamed = await post_form(
        client, f"/dashboard/security/passkeys/{first.id}/rename", page, name="  my\tphone "
    )
    assert renamed.status == 303
    assert passkeys.list_for(conn, 1)[0].name == "my phone"
    remove = f"/dashboard/security/passkeys/{second.id}/remove"
    assert (await post_form(client, remove, page, password="wrong")).status == 400
    assert len(passkeys.list_for(conn, 1)) == 2
    password = "correct horse battery staple"
    assert (await post_form(client, remove, page, password=password)).status == 303
    assert [p.id for p in passkeys.list_for(conn, 1)] == [first.id]
    # Someone else's passkey cannot be renamed or removed by id.
    await logout(client)
    await login(client, "bob")
    other = f"/dashboard/security/passkeys/{first.id}"
    assert (await post_form(client, other + "/rename", page, name="mine")).status == 404
    assert (await post_form(client, other + "/remove", page, password=password)).status == 404
    assert passkeys.list_for(conn, 1)[0].name == "my phone"

"""What an attack on the rewritten proxy found (one test per finding, each failing on
the code it was found on): values the proxy makes itself that could end a line, rules
bypassed by other spellings (a no-break space in Connection, a trailing dot in Host,
path parameters), client claims it passed on, and backend answers it relayed broken."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import argon2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from proxy_testkit import (
    LocalCA,
    RunningProxy,
    base_document,
    config_from,
    echoed_headers,
    proxied_backend,
    proxy_for,
    raw_exchange,
    status_of,
    write_pair,
)
from tlsproxy.htpasswd import stand_in_hash, verify

H = b"Host: localhost\r\n"
CLOSE = b"Connection: close\r\n\r\n"


def _client_cert(ca: LocalCA, folder: Path, common_name: str) -> tuple[Path, Path]:
    """A client certificate whose subject is exactly ``CN=common_name``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return write_pair(folder, "client", cert, key)


@pytest.mark.parametrize(
    ("common_name", "forwarded"),
    [
        ("mallory\r\nX-Forwarded-User: admin", "CN=mallory\\x0d\\x0aX-Forwarded-User: admin"),
        ("田中", "CN=田中"),  # sent in UTF-8, which the backend decodes
    ],
    ids=["CRLF in the subject", "not Latin-1"],
)
async def test_a_client_certificate_subject_never_makes_a_second_field(
    common_name: str, forwarded: str, server_cert: tuple[Path, Path], ca: LocalCA, tmp_path: Path
) -> None:
    def document(url: str) -> dict[str, Any]:
        doc = base_document(*server_cert, url)
        doc["listeners"][0].update(client_ca=str(ca.path), client_cert="optional")
        return doc

    ctx = ca.client_context()
    ctx.load_cert_chain(*_client_cert(ca, tmp_path, common_name))
    async with proxy_for(document) as proxy:
        answer = await raw_exchange(proxy.https_port, b"GET /who HTTP/1.1\r\n" + H + CLOSE, ctx)
    assert status_of(answer) == 200, answer[:200]
    seen = echoed_headers(_json(answer))
    assert seen["x-client-cert-subject"] == [forwarded]
    assert "x-forwarded-user" not in seen


async def test_a_basic_auth_user_outside_latin1_reaches_the_backend_in_utf8(
    server_cert: tuple[Path, Path], ca: LocalCA, tmp_path: Path
) -> None:
    hasher = argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"Łukasz:{hasher.hash('pw')}\n", encoding="utf-8")

    def document(url: str) -> dict[str, Any]:
        doc = base_document(*server_cert, url)
        doc["routes"][0]["basic_auth"] = {"htpasswd": str(htpasswd)}
        return doc

    credentials = base64.b64encode("Łukasz:pw".encode()).decode()
    request = f"GET / HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {credentials}\r\n"
    async with proxy_for(document) as proxy:
        answer = await raw_exchange(proxy.https_port, request.encode() + CLOSE, ca.client_context())
    assert status_of(answer) == 200, answer[:200]
    assert echoed_headers(_json(answer))["x-forwarded-user"] == ["Łukasz"]  # UTF-8 decoded


async def test_an_upgrade_with_a_body_is_refused_whatever_the_spelling_of_connection(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    body = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    seen: list[bytes] = []
    async with proxied_backend(server_cert) as proxy:
        for connection in (b"upgrade", b"upgrade\xa0", b"Upgrade\x85"):
            request = (
                b"GET /chat HTTP/1.1\r\n" + H + b"Upgrade: websocket\r\nConnection: "
                + connection + b"\r\nConnection: close\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\nContent-Length: %d\r\n\r\n" % len(body) + body
            )  # fmt: skip
            seen.append(await raw_exchange(proxy.https_port, request, ca.client_context()))
    for answer in seen:
        # Refused, or (not an upgrade for llhttp either) forwarded as a plain request
        # whose body stays its body: never a WebSocket upgrade carrying a body.
        assert status_of(answer) in (400, 200), answer[:200]
        if status_of(answer) == 200:
            echoed = _json(answer)
            assert echoed["body_length"] == len(body)
            assert "upgrade" not in echoed_headers(echoed)


@pytest.mark.parametrize("host", ["admin.example.org.", "ADMIN.example.org.", "admin.example.org"])
async def test_a_host_rule_holds_with_the_roots_trailing_dot(
    host: str, server_cert: tuple[Path, Path], backend_url: str, ca: LocalCA
) -> None:
    document = base_document(*server_cert, backend_url)
    document["routes"] = [
        {"hosts": ["admin.example.org"], "backends": [backend_url], "allow": ["10.0.0.0/8"]},
        {"backends": [backend_url]},
    ]
    async with RunningProxy(config_from(document)) as proxy:
        request = f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode() + CLOSE
        answer = await raw_exchange(proxy.https_port, request, ca.client_context())
    assert status_of(answer) == 403


CLAIMS = [
    "Proxy-Client-IP", "WL-Proxy-Client-IP", "HTTP-Client-IP", "HTTP_CLIENT_IP",
    "X-Envoy-External-Address", "CF-Connecting-IPv6", "X-Azure-ClientIP", "X-Azure-SocketIP",
    "X-AppEngine-User-IP", "X-Forwarded-Prefix", "X-Forwarded-Uri", "X-Original-URI",
    "X-Envoy-Original-Path", "X-Forwarded-Client-Cert", "X-SSL-Client-Verify",
    "X-SSL-Client-S-DN", "X-SSL-Subject", "X-Client-Verify", "Ssl-Client-Cert",
    "X-Client-Cert-Issuer",
]  # fmt: skip


async def test_client_claims_of_address_origin_and_certificate_never_pass(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    claims = "".join(f"{name}: forged\r\n" for name in CLAIMS).encode()
    async with proxied_backend(server_cert) as proxy:
        answer = await raw_exchange(
            proxy.https_port, b"GET / HTTP/1.1\r\n" + H + claims + CLOSE, ca.client_context()
        )
    seen = echoed_headers(_json(answer))
    assert not [name for name in CLAIMS if name.lower() in seen], seen


async def test_a_method_override_cannot_sidestep_a_route_limited_to_some_methods(
    server_cert: tuple[Path, Path], backend_url: str, ca: LocalCA
) -> None:
    document = base_document(*server_cert, backend_url)
    document["routes"] = [{"methods": ["GET"], "backends": [backend_url]}]
    override = b"X-HTTP-Method-Override: DELETE\r\nX-HTTP-Method: DELETE\r\n"
    async with RunningProxy(config_from(document)) as proxy:
        answer = await raw_exchange(
            proxy.https_port, b"GET / HTTP/1.1\r\n" + H + override + CLOSE, ca.client_context()
        )
    seen = echoed_headers(_json(answer))
    assert "x-http-method-override" not in seen and "x-http-method" not in seen


def _json(answer: bytes) -> dict[str, Any]:
    return json.loads(answer.partition(b"\r\n\r\n")[2])


async def _scripted_backend(script: Any) -> tuple[asyncio.Server, str, list[bytes]]:
    """A raw backend: ``script(reader, writer, received)`` per connection; every request
    head it reads is recorded in ``received``."""
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await script(reader, writer, received)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", received


async def test_a_post_the_backend_may_have_acted_on_is_never_sent_twice(
    server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Attack finding 5: the backend reads a POST on a reused connection, then closes
    without answering: the client gets 502, the backend got the POST once."""

    async def script(reader: Any, writer: Any, received: list[bytes]) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            received.append(head.split(b"\r\n", 1)[0])
            if head.startswith(b"POST"):
                await reader.readexactly(9)
                return  # closes without an answer
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server, url, received = await _scripted_backend(script)
    async with RunningProxy(config_from(base_document(*server_cert, url))) as proxy:
        warm = await raw_exchange(proxy.https_port, b"GET / HTTP/1.1\r\n" + H + CLOSE,
                                  ca.client_context())  # fmt: skip
        pay = await raw_exchange(
            proxy.https_port,
            b"POST /pay HTTP/1.1\r\n" + H + b"Content-Length: 9\r\n" + CLOSE + b"amount=10",
            ca.client_context(),
        )
    server.close()
    assert status_of(warm) == 200
    assert status_of(pay) == 502
    assert received.count(b"POST /pay HTTP/1.1") == 1


@pytest.mark.parametrize("status", [204, 304])
async def test_a_no_body_answer_whose_body_comes_late_poisons_nothing(
    status: int, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Attack finding 6: a 204/304 that announces chunked framing, and sends the last
    chunk 0.3 s later: that connection is not reused, the next request gets its own
    answer."""

    async def script(reader: Any, writer: Any, received: list[bytes]) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            received.append(head)
            if b"/first" in head:
                writer.write(b"HTTP/1.1 %d No\r\nTransfer-Encoding: chunked\r\n\r\n" % status)
                await asyncio.sleep(0.3)
                writer.write(b"0\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nmine")

    server, url, _ = await _scripted_backend(script)
    async with RunningProxy(config_from(base_document(*server_cert, url))) as proxy:
        first = await raw_exchange(
            proxy.https_port, b"GET /first HTTP/1.1\r\n" + H + CLOSE, ca.client_context()
        )
        second = await raw_exchange(
            proxy.https_port, b"GET /second HTTP/1.1\r\n" + H + CLOSE, ca.client_context()
        )
    server.close()
    assert status_of(first) == status
    assert status_of(second) == 200 and second.endswith(b"mine")


@pytest.mark.parametrize(
    ("answer", "status", "absent"),
    [
        (b"HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok", 502, b""),
        (b"HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok", 502, b""),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nnot gzip", 502, b""),
        (b"HTTP/1.1 103 Hints\r\nContent-Length: 5\r\nLink: </a>\r\n\r\n"
         b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 103, b"Content-Length: 5"),
    ],
    ids=["status 099", "status 600", "gzip transfer coding", "103 with a length"],
)  # fmt: skip
async def test_malformed_answers_are_refused_or_repaired(
    answer: bytes, status: int, absent: bytes, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Attack finding 14: what the client gets is valid HTTP/1.1 or the proxy's 502."""

    async def script(reader: Any, writer: Any, received: list[bytes]) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()

    server, url, _ = await _scripted_backend(script)
    async with RunningProxy(config_from(base_document(*server_cert, url))) as proxy:
        got = await raw_exchange(
            proxy.https_port, b"GET / HTTP/1.1\r\n" + H + CLOSE, ca.client_context()
        )
    server.close()
    assert status_of(got) == status, got[:200]
    if absent:
        assert absent not in got


@pytest.mark.parametrize(
    "target",
    ["/admin;x/secret", "/admin;/secret", "/admin;jsessionid=1/secret", "/admin./secret",
     "/admin%20/secret", "/admin%2e/secret", "/admin.%20./secret"],
)  # fmt: skip
async def test_a_path_rule_holds_for_spellings_some_backends_strip(
    target: str, server_cert: tuple[Path, Path], backend_url: str, ca: LocalCA
) -> None:
    """Attack finding 10: servlet containers drop ``;parameters``, IIS trailing dots and
    spaces; a rule on /admin/ must hold for those spellings too."""
    document = base_document(*server_cert, backend_url)
    document["routes"] = [
        {"path_prefix": "/admin/", "backends": [backend_url], "allow": ["10.0.0.0/8"]},
        {"backends": [backend_url]},
    ]
    async with RunningProxy(config_from(document)) as proxy:
        request = f"GET {target} HTTP/1.1\r\nHost: localhost\r\n".encode() + CLOSE
        answer = await raw_exchange(proxy.https_port, request, ca.client_context())
    assert status_of(answer) in (400, 403), answer[:200]


async def test_path_parameters_still_reach_the_backend_as_sent(
    server_cert: tuple[Path, Path], backend_url: str, ca: LocalCA
) -> None:
    """The same spellings on an open route are forwarded unchanged (jsessionid works)."""
    async with proxied_backend(server_cert) as proxy:
        request = b"GET /cart;jsessionid=A1/list HTTP/1.1\r\n" + H + CLOSE
        answer = await raw_exchange(proxy.https_port, request, ca.client_context())
    assert _json(answer)["path"] == "/cart;jsessionid=A1/list"


@pytest.mark.parametrize("size", [96 * 1024, 120 * 1024])
async def test_the_whole_head_limit_holds_for_a_head_that_arrives_at_once(
    size: int, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    """Attack finding 13: a head over max_header_block_bytes (64 KiB) sent in one go."""
    lines = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 4000) for i in range(size // 4010))
    async with proxied_backend(server_cert) as proxy:
        answer = await raw_exchange(
            proxy.https_port, b"GET / HTTP/1.1\r\n" + H + lines + CLOSE, ca.client_context()
        )
    assert status_of(answer) == 431


@pytest.mark.parametrize(
    "model",
    ["$2y$10$" + "a" * 53, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$" + "A" * 43],
    ids=["bcrypt", "argon2id"],
)
def test_unknown_users_are_checked_against_a_real_hash_like_the_known_ones(model: str) -> None:
    """Attack finding 11: the stand-in for unknown users was not a valid hash, so its
    check failed at once and told which user names exist."""
    stand_in = stand_in_hash(model)
    if model.startswith("$2"):
        assert stand_in.startswith("$2b$10$")
    else:
        assert argon2.extract_parameters(stand_in) == argon2.extract_parameters(model)
    assert verify(stand_in, "anything") is False  # a real check, that fails

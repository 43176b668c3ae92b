"""What an attack on the rewritten proxy found (one test per finding, each failing on
the code it was found on): values the proxy makes itself that could end a line, rules
bypassed by other spellings (a no-break space in Connection, a trailing dot in Host,
path parameters), client claims it passed on, and backend answers it relayed broken."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import argon2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
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
)

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
    chain, key_path = folder / "client.pem", folder / "client-key.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return chain, key_path


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

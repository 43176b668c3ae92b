"""Mutual TLS: per listener (handshake failure or a 403 page) and per route, with the
verified subject passed on in a header that clients cannot set themselves."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from proxy_testkit import (
    LocalCA,
    base_document,
    issue,
    make_ca,
    proxy_for,
    raw_exchange,
)

SUBJECT = b"x-client-cert-subject"


@pytest.fixture
def client_certs(ca: LocalCA, tmp_path: Path) -> dict[str, tuple[Path, Path] | None]:
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    stranger_ca = make_ca(stranger)
    return {
        "valid": issue(ca, tmp_path, "alice", ["alice"], client=True),
        "other CA": issue(stranger_ca, stranger, "mallory", ["mallory"], client=True),
        "none": None,
    }


def mtls_document(cert: tuple[Path, Path], ca: LocalCA, mode: str, url: str) -> dict[str, Any]:
    document = base_document(*cert, url)
    document["listeners"][0].update(client_ca=str(ca.path), client_cert=mode)
    document["routes"] = [
        {"path_prefix": "/private/", "backends": [url], "client_cert_required": True},
        {"backends": [url]},
    ]
    return document


async def exchange(
    port: int, ca: LocalCA, client_cert: tuple[Path, Path] | None, path: str
) -> bytes:
    """The raw answer, or b"handshake failed" when TLS refused the client."""
    ctx = ca.client_context()
    if client_cert is not None:
        ctx.load_cert_chain(*client_cert)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        "X-Client-Cert-Subject: CN=forged\r\n\r\n"
    ).encode()
    try:
        answer = await raw_exchange(port, request, ctx)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return b"handshake failed"
    return answer or b"handshake failed"  # TLS 1.3 reports the refusal after the handshake


# (listener mode, client certificate, path, expected start of the answer, subject seen)
CASES = [
    ("required", "valid", "/", b"HTTP/1.1 200", b"CN=alice"),
    ("required", "none", "/", b"handshake failed", None),
    ("required", "other CA", "/", b"handshake failed", None),
    ("page", "valid", "/", b"HTTP/1.1 200", b"CN=alice"),
    ("page", "none", "/", b"HTTP/1.1 403", None),
    ("page", "other CA", "/", b"handshake failed", None),
    ("optional", "none", "/", b"HTTP/1.1 200", None),
    ("optional", "none", "/private/x", b"HTTP/1.1 403", None),
    ("optional", "valid", "/private/x", b"HTTP/1.1 200", b"CN=alice"),
]


@pytest.mark.parametrize(("mode", "presented", "path", "start", "subject"), CASES)
async def test_client_certificates(
    mode: str,
    presented: str,
    path: str,
    start: bytes,
    subject: bytes | None,
    client_certs: dict[str, tuple[Path, Path] | None],
    server_cert: tuple[Path, Path],
    ca: LocalCA,
) -> None:
    async with proxy_for(lambda url: mtls_document(server_cert, ca, mode, url)) as proxy:
        answer = await exchange(proxy.https_port, ca, client_certs[presented], path)
    assert answer.startswith(start), answer[:200]
    if start == b"HTTP/1.1 403":
        assert b"client certificate" in answer
    if start == b"HTTP/1.1 200":
        body = answer.lower()
        assert b"cn=forged" not in body  # the client's own header never arrives
        if subject is not None:
            assert b'["' + SUBJECT + b'", "' + subject.lower() + b'"]' in body

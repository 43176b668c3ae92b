"""What a visitor meets: HTTPS verified by the kit's CA, HTTP sent to HTTPS.

The served chain is checked by three clients the project did not write
(Python's ssl, curl, openssl s_client), each trusting only certs/ca.pem, for
every name the certificate was made for.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess

import aiohttp
import pytest
from yarl import URL

from .conftest import Kit

NAMES = ["localhost", "127.0.0.1", "::1"]  # CERT_HOSTS of the test stack


async def test_https_index_is_the_blog_verified_by_the_kit_ca(
    stack: Kit, https: aiohttp.ClientSession
) -> None:
    async with https.get(stack.url("/")) as response:
        body = await response.text()
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "<title>My blog</title>" in body
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


async def test_https_is_refused_without_trusting_the_kit_ca(stack: Kit) -> None:
    async with aiohttp.ClientSession() as session:  # system trust store only
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(stack.url("/"))


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
async def test_both_address_families_answer_verified_by_the_kit_ca(
    stack: Kit, https: aiohttp.ClientSession, host: str
) -> None:
    """Issue 16: published on IPv4 and IPv6; the redirect keeps an IPv6 literal bracketed."""
    async with https.get(f"https://{host}:{stack.https_port}/") as response:
        assert response.status == 200
        assert "<title>My blog</title>" in await response.text()
    async with aiohttp.ClientSession() as session:
        url = f"http://{host}:{stack.http_port}/a/b?c=1"
        async with session.get(url, allow_redirects=False) as response:
            assert response.status == 308
            assert response.headers["Location"] == f"https://{host}:{stack.https_port}/a/b?c=1"


@pytest.mark.parametrize("path", ["/any/path?q=1", "/", "/posts/x?a=1&b=%2F", "/a%20b/?x=%26y"])
async def test_plain_http_redirects_to_same_path_on_https(stack: Kit, path: str) -> None:
    async with aiohttp.ClientSession() as session:
        # encoded=True: send the path exactly as written, escapes included.
        url = URL(f"http://localhost:{stack.http_port}{path}", encoded=True)
        async with session.get(url, allow_redirects=False) as response:
            assert response.status == 308
            assert response.headers["Location"] == stack.url(path)


@pytest.mark.parametrize("name", NAMES)
def test_python_ssl_verifies_chain_for_each_name(stack: Kit, name: str) -> None:
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw:
        with stack.ssl_context().wrap_socket(raw, server_hostname=name) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            assert tls.selected_alpn_protocol() in (None, "http/1.1")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_curl_verifies_chain_for_each_name(stack: Kit, name: str) -> None:
    host = f"[{name}]" if ":" in name else name
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            str(stack.ca),
            "--connect-to",
            f"::127.0.0.1:{stack.https_port}",
            f"https://{host}:{stack.https_port}/",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "200"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_openssl_s_client_verifies_chain_for_each_name(stack: Kit, name: str) -> None:
    check = ["-verify_ip", name] if ":" in name or name[0].isdigit() else ["-verify_hostname", name]
    sni = [] if ":" in name or name[0].isdigit() else ["-servername", name]
    result = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{stack.https_port}",
            "-CAfile",
            str(stack.ca),
            "-verify_return_error",
            *check,
            *sni,
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verify return code: 0 (ok)" in result.stdout


def test_certificate_for_another_name_is_refused(stack: Kit) -> None:
    """Proves the checks above can fail: a name the certificate lacks does not verify."""
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            stack.ssl_context().wrap_socket(raw, server_hostname="blog.example.org")

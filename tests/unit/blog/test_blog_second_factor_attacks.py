"""Second factors under attack (the second attack round, findings 01-06): changes of
factors need the password, malformed passkey requests are a 400, one browser cannot
evict another's passkey challenges, cookies that are not UTF-8 are unknown tokens, the
second step refuses plain HTTP before checking anything, and a pending login ends when
the password or the factors change."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient
from blog import tokens
from blog_testkit import add_user

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

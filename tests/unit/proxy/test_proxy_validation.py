"""Malformed and ambiguous requests: 400 (or 501/431) from the proxy, never forwarded.

Each row is the raw bytes a client sends and the status it must get; the backend
counts requests, and must have seen none of these.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from proxy_testkit import LocalCA, proxied_backend, raw_exchange, status_of

H = b"Host: localhost\r\n"
REJECTED = [
    ("CL and TE", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("duplicate CL, same value", b"POST / HTTP/1.1\r\n" + H +
     b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
    ("duplicate CL, other value", b"POST / HTTP/1.1\r\n" + H +
     b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    ("CL with sign", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +3\r\n\r\nabc", 400),
    ("CL list", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\n\r\nabc", 400),
    ("obsolete line folding", b"GET / HTTP/1.1\r\n" + H + b"X-A: b\r\n  c\r\n\r\n", 400),
    ("space before colon", b"GET / HTTP/1.1\r\n" + H + b"X-A : b\r\n\r\n", 400),
    ("TE duplicated", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("TE unknown", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n", 400),
    ("TE chunked not last", b"POST / HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
    ("TE gzip then chunked", b"POST / HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("bad chunk size", b"POST / HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    ("HTTP version 9.1", b"GET / HTTP/9.1\r\n" + H + b"\r\n", 400),
    ("no version", b"GET /\r\n" + H + b"\r\n", 400),
    ("bare LF line ends", b"GET / HTTP/1.1\n" + H.replace(b"\r", b"") + b"\n", 400),
    ("tab in request line", b"GET\t/ HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("trailing space in request line", b"GET / HTTP/1.1 \r\n" + H + b"\r\n", 400),
    ("space in target", b"GET /a b HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("fragment in target", b"GET /a#b HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("lower-case method", b"get / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("target without slash", b"GET a HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("absolute-form naming another host", b"GET http://other.example/ HTTP/1.1\r\n" + H +
     b"\r\n", 400),
    ("absolute-form with user info", b"GET http://me@localhost/ HTTP/1.1\r\n" + H +
     b"\r\n", 400),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    ("bare CR", b"GET / HTTP/1.1\rHost: localhost\r\n\r\n", 400),
    ("NUL in header value", b"GET / HTTP/1.1\r\n" + H + b"X: a\x00b\r\n\r\n", 400),
    ("bad header name", b"GET / HTTP/1.1\r\n" + H + b"X(y): b\r\n\r\n", 400),
    ("control char in target", b"GET /a\x01b HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("missing Host in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two Host headers", b"GET / HTTP/1.1\r\n" + H + b"Host: other\r\n\r\n", 400),
    ("expectation other than 100-continue", b"GET / HTTP/1.1\r\n" + H +
     b"Expect: magic\r\n\r\n", 417),
    ("CONNECT tunnel", b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n",
     405),
    ("TRACE", b"TRACE / HTTP/1.1\r\n" + H + b"\r\n", 405),
    ("not HTTP at all", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
]  # fmt: skip


@pytest.fixture
async def counted_proxy(server_cert: tuple[Path, Path]):
    seen: list[str] = []

    async def count(request: web.Request) -> web.Response:
        seen.append(request.raw_path)
        return web.Response(text="forwarded")

    async with proxied_backend(server_cert, catch_all=count) as proxy:
        yield proxy, seen


@pytest.mark.parametrize(("name", "raw", "status"), REJECTED, ids=[r[0] for r in REJECTED])
async def test_malformed_requests_are_rejected_and_not_forwarded(
    name: str, raw: bytes, status: int, counted_proxy, ca: LocalCA
) -> None:
    proxy, seen = counted_proxy
    answer = await raw_exchange(proxy.https_port, raw, ca.client_context())
    assert status_of(answer) == status, answer[:200]
    # Our own version, never the one a bad request claimed (RFC 9112 section 2.3).
    assert answer.startswith(b"HTTP/1.1 "), answer[:40]
    # raw_exchange returned, so the proxy closed the connection after answering.
    assert b"aiohttp" not in answer and b"Traceback" not in answer  # no internals
    assert b"\r\nStrict-Transport-Security: max-age=31536000\r\n" in answer
    assert seen == []


async def test_well_formed_chunked_request_is_forwarded(counted_proxy, ca: LocalCA) -> None:
    proxy, seen = counted_proxy
    raw = (
        b"POST /ok HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3;ext=1\r\nabc\r\n0\r\n\r\n"
    )
    answer = await raw_exchange(proxy.https_port, raw, ca.client_context())
    assert status_of(answer) == 200
    assert answer.endswith(b"forwarded")
    assert seen == ["/ok"]


async def test_absolute_form_for_the_same_host_is_forwarded_in_origin_form(
    counted_proxy, ca: LocalCA
) -> None:
    proxy, seen = counted_proxy
    raw = b"GET http://LOCALHOST/ok?x=1 HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
    answer = await raw_exchange(proxy.https_port, raw, ca.client_context())
    assert status_of(answer) == 200
    assert seen == ["/ok?x=1"]


async def test_smuggled_second_request_in_body_is_not_forwarded(counted_proxy, ca: LocalCA) -> None:
    """CL.TE shape: a backend trusting the other length would see a hidden request."""
    proxy, seen = counted_proxy
    hidden = b"GET /admin HTTP/1.1\r\n" + H + b"\r\n"
    raw = (
        b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
        b"Content-Length: " + str(len(hidden) + 5).encode() + b"\r\n\r\n0\r\n\r\n" + hidden
    )
    answer = await raw_exchange(proxy.https_port, raw, ca.client_context())
    assert status_of(answer) == 400
    assert "/admin" not in seen and seen == []

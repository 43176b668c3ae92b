"""The request-target and Host rules as tables (``target``, ``host``): what is
normalized to what, and what is refused."""

from __future__ import annotations

import pytest
from tlsproxy.host import HostError, parse_authority
from tlsproxy.target import TargetError, normalize_path, parse_target

NORMALIZED = [
    ("/", "/"),
    ("/a/b", "/a/b"),
    ("/a/./b", "/a/b"),
    ("/a/../b", "/b"),
    ("/a/b/..", "/a/"),
    ("/a/b/.", "/a/b/"),
    ("//a//b//", "/a/b/"),
    ("/a/%2e%2E/b", "/b"),
    ("/a/.%2e/b", "/b"),
    ("/%61dmin", "/admin"),
    ("/%7e%41", "/~A"),
    ("/caf%c3%a9", "/caf%C3%A9"),  # reserved and non-ASCII octets stay encoded
    ("/a%20b", "/a%20b"),
    ("/a;x=1/b", "/a;x=1/b"),
    ("/...", "/..."),
]
REFUSED_PATHS = [
    "/..",
    "/a/../..",
    "/%2e%2e/x",
    "/a%2Fb",
    "/a%2fb",
    "/a%5Cb",
    "/a\\b",
    "/a%00b",
    "/a%0Ab",
    "/a%7Fb",
    "/a%zz",
    "/a%4",
    "/x/..;/admin",
    "/x/.;y/admin",
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZED)
def test_paths_are_normalized(raw: str, expected: str) -> None:
    assert normalize_path(raw) == expected


@pytest.mark.parametrize("raw", REFUSED_PATHS)
def test_ambiguous_paths_are_refused(raw: str) -> None:
    with pytest.raises(TargetError):
        normalize_path(raw)


@pytest.mark.parametrize(
    ("raw", "path", "query", "authority"),
    [
        ("/a/../b?x=/../y", "/b", "?x=/../y", None),
        ("http://Example.org", "/", "", "Example.org"),
        ("https://example.org:8443/a?q", "/a", "?q", "example.org:8443"),
        ("HTTP://example.org?q", "/", "?q", "example.org"),
    ],
)
def test_target_forms(raw: str, path: str, query: str, authority: str | None) -> None:
    target = parse_target(raw)
    assert (target.path, target.query, target.authority) == (path, query, authority)


@pytest.mark.parametrize("raw", ["a", "*", "ftp://x/", "http:///a", "http://u@x/", "/a#b"])
def test_other_targets_are_refused(raw: str) -> None:
    with pytest.raises(TargetError):
        parse_target(raw)


# (value, host, port, what the backend gets as Host)
HOSTS = [
    ("Example.org", "example.org", None, "example.org"),
    ("example.org:8443", "example.org", 8443, "example.org:8443"),
    ("example.org:", "example.org", None, "example.org"),
    ("Admin.Example.org.", "admin.example.org", None, "admin.example.org"),
    ("admin.example.org.:8443", "admin.example.org", 8443, "admin.example.org:8443"),
    ("blog_1.lan", "blog_1.lan", None, "blog_1.lan"),
    ("192.0.2.1:80", "192.0.2.1", 80, "192.0.2.1:80"),
    ("[::1]", "[::1]", None, "[::1]"),
    ("[2001:DB8::1]:443", "[2001:db8::1]", 443, "[2001:db8::1]:443"),
]
BAD_HOSTS = [
    "",
    "a b",
    'a"b',
    "a<b>",
    "user@example.org",
    "a;b",
    "a,b",
    "a/b",
    "a\\b",
    "ex%61mple.org",
    "caf\xe9.example",
    "example.org:http",
    "example.org:1:2",
    "example.org:99999",
    "example.org:0",
    "::1",
    "[::1",
    "[::1]junk",
    "[::g]",
    "[fe80::1%25eth0]",
    ".example.org",
    "-a.example",
    "a..example",
    "example.org..",
    ".",
    "a" * 256,
]


@pytest.mark.parametrize(("value", "host", "port", "forwarded"), HOSTS)
def test_hosts(value: str, host: str, port: int | None, forwarded: str) -> None:
    authority = parse_authority(value)
    assert (authority.host, authority.port, authority.text) == (host, port, forwarded)


@pytest.mark.parametrize("value", BAD_HOSTS)
def test_bad_hosts_are_refused(value: str) -> None:
    with pytest.raises(HostError):
        parse_authority(value)

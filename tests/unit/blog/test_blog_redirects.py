"""Redirect targets: one check (redirects.py), resolving a target as a browser would."""

from __future__ import annotations

import pytest
from ada_url import URL
from aiohttp.test_utils import TestClient
from blog.redirects import BASE, MAX_LENGTH, after_login
from blog_testkit import PASSWORD, add_user, csrf_from
from hypothesis import given
from hypothesis import strategies as st

HOME = "/dashboard"

# (the `next` a login form carries, where the login may send the browser)
TARGETS = [
    ("/dashboard/posts/new", "/dashboard/posts/new"),
    ("/search?q=rail#top", "/search?q=rail#top"),
    ("", HOME),
    # Tabs and newlines vanish in a browser's URL parser: //evil.example remains.
    ("/\t/evil.example/", HOME),
    ("/\n/evil.example/", HOME),
    ("/\r\n/evil.example/", HOME),
    ("\t//evil.example", HOME),
    ("/\t\\evil.example", HOME),
    # Backslashes are slashes for https URLs.
    ("/\\evil.example", HOME),
    ("\\\\evil.example", HOME),
    ("\\/evil.example", HOME),
    ("//evil.example", HOME),
    ("///evil.example", HOME),
    # Dot segments, also percent-encoded, that leave a path starting with //.
    ("/.//evil.example", HOME),
    ("/x/..//evil.example", HOME),
    ("/%2e//evil.example", HOME),
    ("/%2E%2E//evil.example", HOME),
    # Absolute and scheme forms.
    ("https://evil.example/", HOME),
    ("HTTPS://evil.example/", HOME),
    ("http://blog.invalid/x", HOME),  # same host, another scheme: another origin
    ("javascript:alert(1)", HOME),
    ("JaVa\tScRiPt:alert(1)", HOME),
    ("data:text/html,<script>alert(1)</script>", HOME),
    ("https:evil.example", "/evil.example"),  # relative for a special scheme: a local path
    # Encoded forms stay encoded paths on this origin.
    ("/%09/evil.example/", "/%09/evil.example/"),
    ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),
    ("/%5Cevil.example", "/%5Cevil.example"),
    # Mixed: leading spaces and controls are stripped, the rest percent-encoded.
    ("  /dashboard", HOME),
    ("\x00/dashboard", HOME),
    ("/\x0bx", "/%0Bx"),
    ("/a b?q=c d", "/a%20b?q=c%20d"),
    ("/ü?q=ä#ö", "/%C3%BC?q=%C3%A4#%C3%B6"),
    ("/" + "a" * MAX_LENGTH, HOME),
    ("/\ud800", HOME),  # a lone surrogate is no URL at all
]


@pytest.mark.parametrize(("target", "expected"), TARGETS)
def test_target_table(target: str, expected: str) -> None:
    assert after_login(target) == expected


@pytest.mark.parametrize(
    ("target", "expected"), [t for t in TARGETS if "\ud800" not in t[0] and len(t[0]) < 100]
)
async def test_login_redirects_only_to_local_targets(
    client: TestClient, target: str, expected: str
) -> None:
    add_user(client, "alice")
    token = await csrf_from(client, "/login")
    form = {"username": "alice", "password": PASSWORD, "csrf_token": token, "next": target}
    response = await client.post("/login", data=form, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == expected


@given(st.text(max_size=80))
def test_any_target_is_a_header_safe_path_on_this_origin(target: str) -> None:
    location = after_login(target)
    assert location.startswith("/") and not location.startswith("//")
    assert location.isascii() and all(0x20 < ord(c) < 0x7F for c in location), location
    assert URL(location, BASE).origin == BASE


@given(st.sampled_from(["/", "//", "\\", "/.", "%2e", "\t", "\n", ":", "evil.example", "@"]))
def test_pieces_of_known_tricks_never_leave_the_origin(piece: str) -> None:
    for target in (piece * 3, "/" + piece + "/evil.example", piece + "//evil.example"):
        assert URL(after_login(target), BASE).origin == BASE

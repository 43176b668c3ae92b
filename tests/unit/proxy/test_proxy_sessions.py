"""Session tables (Pound's sessions): keys from requests and answers, idle expiry on a
virtual clock, and the bounds a client choosing its own keys cannot pass."""

from __future__ import annotations

import pytest
from tlsproxy import sessions
from tlsproxy.backend_health import BackendHealth
from tlsproxy.config import Backend, Session
from tlsproxy.fields import Fields
from tlsproxy.request import RequestHead
from tlsproxy.sessions import SessionTable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(sessions.time, "monotonic", clock)
    return clock


def state(name: str) -> BackendHealth:
    return BackendHealth(Backend(f"http://{name}:80", "http", name, 80))


def request(target: str, **fields: str) -> RequestHead:
    lines = Fields.of([("Host", "blog.example.org"), *fields.items()])
    watched = {"host": ["blog.example.org"]}
    return RequestHead.build("GET", target, "1.1", lines, watched, True, False, "https", 0)


# (type, id, request, peer, the key)
KEYS = [
    ("ip", "", request("/"), "192.0.2.7", "192.0.2.7"),
    ("url", "sid", request("/a?x=1&sid=abc"), "-", "abc"),
    ("url", "sid", request("/a?xsid=abc"), "-", None),
    ("parm", "", request("/cart;jsessionid=A1"), "-", "jsessionid=A1"),
    ("parm", "", request("/cart"), "-", None),
    ("cookie", "sid", request("/", Cookie="a=1; sid=s3"), "-", "s3"),
    ("cookie", "sid", request("/", Cookie="sid="), "-", None),
    ("header", "X-Session", request("/", **{"X-Session": "h1"}), "-", "h1"),
    ("basic", "", request("/", Authorization="Basic YWxpY2U6cHc="), "-", "alice"),
    ("basic", "", request("/", Authorization="Bearer x"), "-", None),
]


@pytest.mark.parametrize(("kind", "ident", "head", "peer", "key"), KEYS)
def test_session_keys_by_type(
    kind: str, ident: str, head: RequestHead, peer: str, key: str | None
) -> None:
    assert SessionTable(Session(kind, ident)).request_key(head, peer) == key


@pytest.mark.parametrize(
    ("kind", "fields", "key"),
    [
        ("cookie", [("Set-Cookie", "other=1"), ("Set-Cookie", "sid=new; Path=/")], "new"),
        ("cookie", [("Set-Cookie", "sid=a"), ("Set-Cookie", "sid=b")], "b"),
        ("header", [("X-Session", "h2")], "h2"),
        ("ip", [("X-Session", "h2")], None),
    ],
)
def test_keys_the_backend_hands_out(kind: str, fields: list[tuple[str, str]], key: str) -> None:
    ident = "X-Session" if kind == "header" else "sid" if kind == "cookie" else ""
    assert SessionTable(Session(kind, ident)).response_key(Fields.of(fields)) == key


def test_a_session_lives_while_used_and_expires_after_its_ttl(clock: Clock) -> None:
    table = SessionTable(Session("ip", ttl=60))
    a = state("a")
    table.remember("k", a)
    clock.now += 59
    assert table.backend("k") is a  # used: its idle time starts again
    clock.now += 59
    assert table.backend("k") is a
    clock.now += 61
    assert table.backend("k") is None
    assert "k" not in table.entries


def test_the_table_is_bounded(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 100)
    table = SessionTable(Session("ip", ttl=60))
    a = state("a")
    for n in range(1000):
        table.remember(f"k{n}", a)
    assert len(table.entries) == 100
    assert table.backend("k0") is None  # the least recently used went first
    assert table.backend("k999") is a
    table.remember("x" * 10_000, a)  # a long key is kept by its hash
    assert table.backend("x" * 10_000) is a
    assert all(len(key) <= sessions.MAX_KEY_CHARS + 1 for key in table.entries)


def test_expired_sessions_leave_as_new_ones_come(clock: Clock) -> None:
    table = SessionTable(Session("ip", ttl=10))
    a = state("a")
    for n in range(5):
        table.remember(f"old{n}", a)
    clock.now += 11
    table.remember("new", a)
    assert list(table.entries) == ["new"]

"""Session tracking as Pound does it: a table from a key the request carries to the
backend that served it, so that later requests with the same key go there too.

The key, by ``session.type``:

- ``ip``: the client address (the TCP peer);
- ``cookie``: the value of cookie ``id`` in the request, or, when the request has
  none, in the backend's ``Set-Cookie`` (an application's own session cookie);
- ``header``: the value of field ``id`` in the request, else in the response;
- ``url``: the value of query parameter ``id``;
- ``parm``: the path parameters, what follows the first ``;`` of the path
  (``/cart;jsessionid=A1`` -> ``jsessionid=A1``);
- ``basic``: the Basic-authentication user name.

A session unused for ``ttl`` seconds is forgotten. Clients choose their keys, so the
table is bounded: at most ``MAX_SESSIONS`` keys (the least recently used go first),
each stored as at most ``MAX_KEY_CHARS`` characters (longer ones by their hash). A
forged key only picks one of the route's own backends, as a client could by chance.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from .basic_auth import basic_credentials
from .conditions import query_values

if TYPE_CHECKING:
    from .backend_health import BackendHealth
    from .config import Session
    from .fields import Fields
    from .request import RequestHead

MAX_SESSIONS = 100_000  # per route and listener
MAX_KEY_CHARS = 128
_EXPIRED_PER_WRITE = 8  # stale entries dropped from the old end per new one


class SessionTable:
    """Keys to backends for one route (see the module docstring)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.entries: OrderedDict[str, tuple[BackendHealth, float]] = OrderedDict()

    def request_key(self, request: RequestHead, peer: str) -> str | None:
        """The session key this request carries, or None."""
        kind, name = self.session.type, self.session.id
        if kind == "ip":
            key: str | None = peer
        elif kind == "cookie":
            key = cookie_value(request.fields, name)
        elif kind == "header":
            key = request.fields.get(name.lower())
        elif kind == "url":
            key = next(query_values(request.target.query[1:], name), None)
        elif kind == "parm":
            key = request.target.path.partition(";")[2]
        else:
            credentials = basic_credentials(request.fields.get("authorization") or "")
            key = credentials[0] if credentials else None
        return key or None

    def response_key(self, fields: Fields) -> str | None:
        """A key the backend's answer hands out (``cookie`` and ``header`` types)."""
        kind, name = self.session.type, self.session.id
        if kind == "header":
            return fields.get(name.lower()) or None
        if kind != "cookie":
            return None
        key = None
        for cookie in fields.get_all("set-cookie"):
            pair = cookie.split(";", 1)[0]
            cookie_name, sep, value = pair.partition("=")
            if sep and cookie_name.strip() == name:
                key = value.strip() or None  # the last one wins, as in a browser
        return key

    def backend(self, key: str) -> BackendHealth | None:
        """The backend of session ``key`` while it is alive; touching it renews it."""
        key = _bounded(key)
        entry = self.entries.get(key)
        if entry is None:
            return None
        now = time.monotonic()
        if now - entry[1] > self.session.ttl:
            del self.entries[key]
            return None
        self.entries[key] = (entry[0], now)
        self.entries.move_to_end(key)
        return entry[0]

    def remember(self, key: str, state: BackendHealth) -> None:
        key = _bounded(key)
        now = time.monotonic()
        self.entries[key] = (state, now)
        self.entries.move_to_end(key)
        while len(self.entries) > MAX_SESSIONS:
            self.entries.popitem(last=False)
        for _ in range(_EXPIRED_PER_WRITE):
            oldest = next(iter(self.entries.values()))
            if now - oldest[1] <= self.session.ttl:
                break
            self.entries.popitem(last=False)


def _bounded(key: str) -> str:
    if len(key) <= MAX_KEY_CHARS:
        return key
    return "#" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def cookie_value(fields: Fields, name: str) -> str | None:
    """The value of cookie ``name`` in the request's ``Cookie`` fields (RFC 6265 5.4)."""
    for header in fields.get_all("cookie"):
        for pair in header.split(";"):
            key, sep, value = pair.strip().partition("=")
            if sep and key == name:
                return value
    return None

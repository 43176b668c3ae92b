"""Choosing the backends to try for one request: priority tiers, then weighted random
or smooth weighted round robin among the usable backends of the best tier.

With ``affinity_cookie`` the backend named by the client's cookie comes first while
it is usable, so a signed-in user stays on one backend; with ``session`` (Pound's
sessions, ``sessions``) the backend remembered for the request's session key does.

The answer is an ordered list: the chosen backend first, then the other usable ones
(same tier, then lower priorities) for failover. When no backend is usable, all are
tried anyway, best priority first: a proxy that refuses to even try a restarting
backend turns a two-second restart into a ``retry_interval``-long outage.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .backend_health import BackendHealth, HealthBoard
from .config import Route
from .sessions import SessionTable, cookie_value

if TYPE_CHECKING:
    from .fields import Fields
    from .request import RequestHead


class Balancer:
    def __init__(self, route: Route, board: HealthBoard) -> None:
        self.route = route
        self.states = tuple(board.states[b.url] for b in route.backends)
        self.single = len(self.states) == 1
        self.round_robin = route.balance == "round_robin"
        self._current = {id(s): 0 for s in self.states}  # smooth round-robin counters
        self._by_priority = sorted(self.states, key=lambda s: s.backend.priority)
        self.affinity_cookie = route.affinity_cookie
        self.tokens = {id(s): affinity_token(s.backend.url) for s in self.states}
        self._by_token = {affinity_token(s.backend.url): s for s in self.states}
        self.sessions = SessionTable(route.session) if route.session is not None else None
        self.sticky = self.affinity_cookie is not None or self.sessions is not None

    def sticky_key(self, request: RequestHead, peer: str) -> str | None:
        """What pins this request to a backend: its affinity cookie or session key."""
        if self.affinity_cookie is not None:
            return cookie_value(request.fields, self.affinity_cookie)
        if self.sessions is not None:
            return self.sessions.request_key(request, peer)
        return None

    def candidates(self, sticky: str | None = None) -> Sequence[BackendHealth]:
        """``sticky`` (``sticky_key``): its backend comes first while usable."""
        if self.single:
            return self.states  # the common case: nothing to choose
        if sticky is not None:
            if self.sessions is not None:
                state = self.sessions.backend(sticky)
            else:
                state = self._by_token.get(sticky)
            if state is not None and state.usable(time.monotonic()):
                return [state, *(s for s in self.candidates() if s is not state)]
        now = time.monotonic()
        usable = [s for s in self._by_priority if s.usable(now)]
        if not usable:
            return self._by_priority
        best = usable[0].backend.priority
        tier = [s for s in usable if s.backend.priority == best]
        chosen = self._pick(tier)
        return [chosen, *(s for s in usable if s is not chosen)]

    def remember(
        self, state: BackendHealth, sticky: str | None, fields: Fields, secure: bool
    ) -> None:
        """``state`` answered: keep the client on it (a session entry, or our affinity
        cookie added to the response ``fields``, after the backend's own)."""
        if self.sessions is not None:
            key = sticky or self.sessions.response_key(fields)
            if key is not None and not self.single:
                self.sessions.remember(key, state)
            return
        cookie = self.affinity_set_cookie(state, sticky, secure)
        if cookie is not None:
            fields.add("Set-Cookie", cookie)  # not rewritten: ours

    def affinity_set_cookie(
        self, state: BackendHealth, sticky: str | None, secure: bool
    ) -> str | None:
        """The Set-Cookie value pinning the client to ``state``; None if it already is."""
        token = self.tokens[id(state)]
        if self.affinity_cookie is None or sticky == token:
            return None
        cookie = f"{self.affinity_cookie}={token}; Path=/; HttpOnly; SameSite=Lax"
        return cookie + "; Secure" if secure else cookie

    def _pick(self, tier: list[BackendHealth]) -> BackendHealth:
        if len(tier) == 1:
            return tier[0]
        if not self.round_robin:
            return random.choices(tier, weights=[s.backend.weight for s in tier])[0]  # noqa: S311
        # nginx's smooth weighted round robin: weights 5,1,1 give a a b a c a a, not a*5.
        total = 0
        best = tier[0]
        for state in tier:
            self._current[id(state)] += state.backend.weight
            total += state.backend.weight
            if self._current[id(state)] > self._current[id(best)]:
                best = state
        self._current[id(best)] -= total
        return best


def affinity_token(url: str) -> str:
    """Stable across restarts and reloads, and says nothing about the backend's address."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]

"""HTTP Basic authentication in front of a route, with failed attempts throttled per
client address (after Home Assistant's ``ban.py``).

Checking a bcrypt or Argon2 hash takes tens of milliseconds, and browsers resend the
credentials with every request, so a successful check is remembered for
``CACHE_SECONDS`` as an HMAC of user and password under a key that lives only in
this process; hash checks run in a worker thread, never on the event loop. An
address that fails ``max_failures`` times within ``lockout`` seconds gets **429**
without any hash being computed until its oldest failure is that old.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict, deque

from aiohttp import web

from .config import BasicAuth
from .errors import error_response
from .htpasswd import verify

CACHE_SECONDS = 300.0
CACHE_SIZE = 1024
MAX_TRACKED_ADDRESSES = 10000  # failing addresses remembered; expired ones pruned past it
_DUMMY_HASH = "$2b$12$" + "C" * 53  # unknown users cost a check too (no user probing)


class FailureThrottle:
    """Failed attempts per client address within a sliding window."""

    def __init__(self, max_failures: int, window: float) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> float:
        """Seconds this address must wait; 0 when it may try."""
        failures = self._failures.get(address)
        if failures is None:
            return 0.0
        now = time.monotonic()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return 0.0
        if len(failures) < self.max_failures:
            return 0.0
        return failures[0] + self.window - now

    def failed(self, address: str) -> None:
        if len(self._failures) >= MAX_TRACKED_ADDRESSES:
            self._prune()
        self._failures.setdefault(address, deque(maxlen=self.max_failures)).append(time.monotonic())

    def _prune(self) -> None:
        """Forget addresses whose last failure is outside the window (many clients)."""
        oldest = time.monotonic() - self.window
        for address in [a for a, f in self._failures.items() if not f or f[-1] <= oldest]:
            del self._failures[address]
        while len(self._failures) >= MAX_TRACKED_ADDRESSES:  # all recent: drop the oldest
            del self._failures[next(iter(self._failures))]


class BasicAuthGuard:
    """One route's check: ``check`` returns the user name, or a response refusing."""

    def __init__(self, settings: BasicAuth, throttle: FailureThrottle) -> None:
        self.users = dict(settings.users)
        self.throttle = throttle
        self.challenge = f'Basic realm="{settings.realm}", charset="UTF-8"'
        self._key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, float] = OrderedDict()

    async def check(self, request: web.BaseRequest, peer: str) -> str | web.StreamResponse:
        credentials = _credentials(request.headers.get("Authorization", ""))
        if credentials is None:
            return self._unauthorized()
        wait = self.throttle.retry_after(peer)
        if wait > 0:
            response = error_response(429)
            response.headers["Retry-After"] = str(math.ceil(wait))
            return response
        user, password = credentials
        if self._remembered(user, password):
            return user
        hashed = self.users.get(user, _DUMMY_HASH)
        ok = await asyncio.get_running_loop().run_in_executor(None, verify, hashed, password)
        if ok and user in self.users:
            self._remember(user, password)
            return user
        self.throttle.failed(peer)
        return self._unauthorized()

    def _unauthorized(self) -> web.Response:
        response = error_response(401)
        response.headers["WWW-Authenticate"] = self.challenge
        return response

    def _digest(self, user: str, password: str) -> bytes:
        message = user.encode() + b"\0" + password.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _remembered(self, user: str, password: str) -> bool:
        digest = self._digest(user, password)
        until = self._verified.get(digest)
        return until is not None and until > time.monotonic()

    def _remember(self, user: str, password: str) -> None:
        self._verified[self._digest(user, password)] = time.monotonic() + CACHE_SECONDS
        while len(self._verified) > CACHE_SIZE:
            self._verified.popitem(last=False)


def _credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None

"""HTTP Basic authentication in front of a route, with failed attempts throttled per
client address (after Home Assistant's ``ban.py``).

Checking a bcrypt or Argon2 hash takes tens of milliseconds, and browsers resend the
credentials with every request, so a successful check is remembered for
``CACHE_SECONDS`` as an HMAC of user and password under a key that lives only in
this process; hash checks run in a worker thread, never on the event loop. An
address that fails ``max_failures`` times within ``lockout`` seconds gets **429**
without any hash being computed until its oldest failure is that old.

The throttle holds under concurrency: a guess counts against its address from the
moment its hash check starts, not when it fails, so a burst of simultaneous guesses
gets at most ``max_failures`` checks, not one per request; simultaneous requests
with the same credentials (a browser loading a page) share one check. Addresses are
counted as the connection limits count them (an IPv6 /64 is one client).
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

from .config import BasicAuth
from .connection_limits import client_key
from .errors import Answer, error_answer
from .htpasswd import stand_in_hash, verify

CACHE_SECONDS = 300.0
CACHE_SIZE = 1024
MAX_TRACKED_ADDRESSES = 10000  # failing addresses remembered; expired ones pruned past it


class FailureThrottle:
    """Failed attempts per client address within a sliding window; guesses whose hash
    check is still running count as failures until they succeed."""

    def __init__(self, max_failures: int, window: float) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._checking: dict[str, int] = {}

    def begin(self, address: str) -> float:
        """Reserve a guess for ``address``: 0 when it may check one now (call ``end``
        after), else the seconds it must wait."""
        in_flight = self._checking.get(address, 0)
        wait = self.retry_after(address, in_flight)
        if wait > 0:
            return wait
        self._checking[address] = in_flight + 1
        return 0.0

    def end(self, address: str, failed: bool) -> None:
        left = self._checking[address] - 1
        if left:
            self._checking[address] = left
        else:
            del self._checking[address]
        if failed:
            self.failed(address)

    def retry_after(self, address: str, in_flight: int = 0) -> float:
        """Seconds this address must wait; 0 when it may try."""
        failures = self._failures.get(address)
        if failures is None:
            return 0.0 if in_flight < self.max_failures else self.window
        now = time.monotonic()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return 0.0 if in_flight < self.max_failures else self.window
        if len(failures) + in_flight < self.max_failures:
            return 0.0
        return max(failures[0] + self.window - now, 1.0)

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
        self._stand_in: str | None = None  # made on first need, in the worker thread
        self.throttle = throttle
        self.challenge = f'Basic realm="{settings.realm}", charset="UTF-8"'
        self._key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, float] = OrderedDict()
        self._checking: dict[bytes, asyncio.Future[bool]] = {}

    def check_now(self, authorization: str | None, peer: str) -> str | Answer | None:
        """The verdict that needs no hash check: the user, an answer refusing, or None
        when ``verify`` must decide."""
        credentials = basic_credentials(authorization or "")
        if credentials is None:
            return self._unauthorized()
        wait = self.throttle.retry_after(client_key(peer))
        if wait > 0:
            return _too_many(wait)
        if self._remembered(*credentials):
            return credentials[0]
        return None

    async def verify(self, authorization: str | None, peer: str) -> str | Answer:
        """Check the password's hash in a worker thread, throttled per client."""
        credentials = basic_credentials(authorization or "")
        if credentials is None:
            return self._unauthorized()
        user, password = credentials
        digest = self._digest(user, password)
        same = self._checking.get(digest)
        if same is not None:  # the same credentials are being checked: one guess
            ok = await asyncio.shield(same)
            return user if ok else self._unauthorized()
        key = client_key(peer)
        wait = self.throttle.begin(key)
        if wait > 0:
            return _too_many(wait)
        loop = asyncio.get_running_loop()
        checked: asyncio.Future[bool] = loop.create_future()
        self._checking[digest] = checked
        ok = False
        try:
            hashed = self.users.get(user)
            ok = await loop.run_in_executor(None, self._check, hashed, password)
        finally:
            self.throttle.end(key, failed=not ok)
            del self._checking[digest]
            checked.set_result(ok)
        if ok:
            self._remember(user, password)
            return user
        return self._unauthorized()

    def _check(self, hashed: str | None, password: str) -> bool:
        """In a worker thread: the password against ``hashed``, or, for an unknown user,
        against a stand-in made like the first known hash, so that both take as long
        (no user probing by timing)."""
        if hashed is not None:
            return verify(hashed, password)
        if self._stand_in is None:
            first = next(iter(self.users.values()), "$2b$12$")
            self._stand_in = stand_in_hash(first)
        verify(self._stand_in, password)
        return False

    def _unauthorized(self) -> Answer:
        answer = error_answer(401)
        answer.fields.add("WWW-Authenticate", self.challenge)
        return answer

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


def _too_many(wait: float) -> Answer:
    answer = error_answer(429)
    answer.fields.add("Retry-After", str(math.ceil(wait)))
    return answer


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``(user, password)`` of an ``Authorization: Basic`` value (RFC 7617), else None."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None

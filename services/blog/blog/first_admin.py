"""The first-admin setup link: a one-time secret URL logged while the blog has no admin.

At start in password mode with no admin, the server draws a 256-bit token, keeps
only its SHA-256 in memory and logs one line with the link (ANNOUNCEMENT). The
token stops working when it has been used, when LIFETIME has passed, when any
admin exists (checked in the database at use time), and at every restart, which
draws a new one. Only one token is ever live.

The lifetime is fixed rather than a setting: a restart already issues a fresh
link, so a longer window would only leave a secret from the log valid for longer.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable

LIFETIME_HOURS = 24
LIFETIME = LIFETIME_HOURS * 3600.0
TOKEN_BYTES = 32  # token_urlsafe(32): 43 characters of [A-Za-z0-9_-]
PLACEHOLDER_ORIGIN = "https://<your-blog-host>"
# One line, format kept stable for scripts: the link is the only text in the log
# matching https?://\S+/setup/[A-Za-z0-9_-]{43,} (see docs/blog.md, "First admin").
ANNOUNCEMENT = (
    "First run: no admin yet. Create one within the next {hours} hours at"
    " {origin}/setup/{token} (works once{hint}), or run:"
    " docker compose exec blog blogctl user add NAME --admin"
)
NO_PUBLIC_URL_HINT = (
    "; replace the host with the address you open the blog at,"
    " or set BLOG_PUBLIC_URL to have it logged"
)


class LinkState(enum.Enum):
    UNKNOWN = "unknown"  # not the live token (wrong, used, revoked, or none issued)
    EXPIRED = "expired"
    LIVE = "live"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class SetupLink:
    """At most one live token, remembered only by its digest.

    `clock` is monotonic seconds; tests replace it to move past the expiry.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.revoke()

    def issue(self) -> str:
        """A new token; any earlier one stops working."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._digest = _digest(token)
        self._expires_at = self.clock() + LIFETIME
        return token

    def check(self, token: str) -> LinkState:
        if not hmac.compare_digest(_digest(token), self._digest):
            return LinkState.UNKNOWN
        if self.clock() >= self._expires_at:
            return LinkState.EXPIRED
        return LinkState.LIVE

    def revoke(self) -> None:
        """Used, or an admin exists: the token never works again.

        What remains is a digest nobody holds the token for, so a check costs the same
        whether a link is live or not.
        """
        self._digest = _digest(secrets.token_urlsafe(TOKEN_BYTES))
        self._expires_at = -math.inf


def announcement(public_url: str, token: str) -> str:
    """The log line with the link; a placeholder host when BLOG_PUBLIC_URL is unset."""
    return ANNOUNCEMENT.format(
        hours=LIFETIME_HOURS,
        origin=public_url or PLACEHOLDER_ORIGIN,
        token=token,
        hint="" if public_url else NO_PUBLIC_URL_HINT,
    )

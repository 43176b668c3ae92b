"""Random tokens that browsers carry (session, pending-login and CSRF cookies): how they
are made, which values can be one, and the digest the server keeps or compares.

Every token is `secrets.token_urlsafe(TOKEN_BYTES)`: 43 characters of the base64url
alphabet (RFC 4648 section 5). A cookie or header can hold anything else a client
sends, including bytes that are not UTF-8 (aiohttp passes those on as lone
surrogates, which `str.encode()` refuses). Such a value is no token this server made,
so it is treated like any unknown token: `digest` answers None, `same` False, and no
caller ever encodes a value it was sent.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 32  # 256 random bits
MAX_LENGTH = 128  # a longer value is no token of ours (and costs nothing to refuse)
_SHAPE = re.compile(r"[A-Za-z0-9_-]+")


def new() -> str:
    """A fresh random token: base64url text, TOKEN_BYTES bytes of randomness."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def well_formed(value: str | None) -> bool:
    """Whether `value` could be a token of ours (base64url text of at most MAX_LENGTH)."""
    return bool(value) and len(value) <= MAX_LENGTH and _SHAPE.fullmatch(value) is not None


def digest(value: str | None) -> str | None:
    """The SHA-256 of a token (hex), as the server stores it; None for a value that is
    no well-formed token (then it matches nothing)."""
    if value is None or not well_formed(value):
        return None
    return hashlib.sha256(value.encode("ascii")).hexdigest()


def same(expected: str, submitted: str) -> bool:
    """Constant-time comparison of a token with what a client sent; False when either is
    empty or not well formed."""
    if not (well_formed(expected) and well_formed(submitted)):
        return False
    return hmac.compare_digest(expected.encode("ascii"), submitted.encode("ascii"))

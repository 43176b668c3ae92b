"""htpasswd files with modern hashes only: bcrypt (``htpasswd -B``: ``$2y$``, ``$2b$``,
``$2a$``) and Argon2 (``$argon2id$``, ``$argon2i$``, ``$argon2d$``).

Older htpasswd schemes (apr1 MD5, SHA1, crypt, plain) are refused when the file is
read, with the line named, since they fall to offline guessing in seconds.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import argon2
import bcrypt

BCRYPT_PREFIXES = ("$2y$", "$2b$", "$2a$")
ARGON2_PREFIXES = ("$argon2id$", "$argon2i$", "$argon2d$")
_ARGON2 = argon2.PasswordHasher()
HINT = "make one with `htpasswd -B -c FILE USER` (bcrypt) or an $argon2id$ hash"


class HtpasswdError(ValueError):
    """An unreadable htpasswd file or a line in it that cannot be used."""


def read_htpasswd(path: Path) -> dict[str, str]:
    """``user -> hash``; blank lines and ``#`` comments are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HtpasswdError(f"cannot read the htpasswd file {path}: {exc}") from exc
    users: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        where = f"{path}, line {number}"
        if not sep or not user or not hashed:
            raise HtpasswdError(f"{where}: expected USER:HASH; {HINT}")
        if not hashed.startswith(BCRYPT_PREFIXES + ARGON2_PREFIXES):
            raise HtpasswdError(
                f"{where}: the hash of {user!r} is not bcrypt or Argon2 "
                f"(MD5, SHA1 and crypt hashes are refused); {HINT}"
            )
        if user in users:
            raise HtpasswdError(f"{where}: {user!r} appears twice")
        users[user] = hashed
    if not users:
        raise HtpasswdError(f"{path}: no users; {HINT}")
    return users


def verify(hashed: str, password: str) -> bool:
    """Slow on purpose (tens of milliseconds): call it off the event loop."""
    secret = password.encode("utf-8")
    if hashed.startswith(BCRYPT_PREFIXES):
        try:
            return bcrypt.checkpw(secret, hashed.encode("ascii"))
        except ValueError:
            return False
    try:
        return _ARGON2.verify(hashed, secret)
    except argon2.exceptions.Argon2Error:
        return False


def stand_in_hash(model: str) -> str:
    """A valid hash of a random password, made like ``model`` (same scheme and cost), so
    that checking a password against it for an unknown user takes as long as for a
    known one: no timing tells which user names exist."""
    secret = secrets.token_bytes(24)
    if model.startswith(BCRYPT_PREFIXES):
        cost = int(model.split("$")[2])
        return bcrypt.hashpw(secret, bcrypt.gensalt(cost)).decode("ascii")
    try:
        parameters = argon2.extract_parameters(model)
    except argon2.exceptions.InvalidHashError:
        return bcrypt.hashpw(secret, bcrypt.gensalt(12)).decode("ascii")
    return argon2.PasswordHasher.from_parameters(parameters).hash(secret)

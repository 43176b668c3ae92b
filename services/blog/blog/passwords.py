"""Password policy and hashing (OWASP ASVS 2.1 / 2.4).

Argon2id with OWASP's recommended minimum (19 MiB, t=2, p=1); 8 to 128 characters;
the 30,000 most common passwords (zxcvbn's list) are rejected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
MAX_LENGTH = 128

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# Argon2 runs off the event loop in at most this many threads (it releases the GIL).
# Each run holds 19 MiB: the bound keeps a burst of logins inside the container's
# memory limit, whatever the host's CPU count; further attempts wait their turn.
HASHING_THREADS = 2
_hashing = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="argon2")
T = TypeVar("T")


async def off_loop(work: Callable[..., T], *args: object) -> T:
    """Run a password hash, verification or policy check in the bounded hashing threads."""
    return await asyncio.get_running_loop().run_in_executor(_hashing, work, *args)


class PasswordPolicyError(ValueError):
    """The password is not acceptable; the message says why."""


@cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_policy(password: str, username: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"password must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"password must be at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in _common_passwords():
        raise PasswordPolicyError("password is on the list of commonly used passwords")
    if username and lowered == username.lower():
        raise PasswordPolicyError("password must not be the user name")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# Verified against when the user does not exist, so both paths cost one Argon2 run.
DUMMY_HASH = _hasher.hash("not a real password, only burns time")

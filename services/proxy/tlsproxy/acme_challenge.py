"""HTTP-01 answers on the port-80 listener (RFC 8555 section 8.3).

The kit's acme service never listens anywhere: for each pending challenge it writes
the key authorization into a small volume, one file named after the token, that the
proxy mounts read-only. ``key_authorization`` is the whole rule, free of any HTTP
framework, so any listener can call it before it redirects to HTTPS: given the
request target, the answer body, or None to carry on as if it were any other path.

What a hostile client or a compromised acme service can do is bounded here: only a
well-formed token names a file (no path separators, dots or escapes), the file is
opened without following a symbolic link and without blocking (a FIFO), must be a
small regular file, and is served only when its content is a key authorization for
that very token, so nothing else the proxy can read (its TLS key) ever leaves this way.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

CHALLENGE_PATH = "/.well-known/acme-challenge/"
# RFC 8555 8.3: the token is base64url without padding, at least 128 bits of entropy
# (22 characters); servers send 43. The upper bound keeps file names sane.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,128}")
# token "." base64url(SHA-256 JWK thumbprint of the account key), RFC 8555 8.1.
_THUMBPRINT = re.compile(rb"[A-Za-z0-9_-]{43}")
MAX_KEY_AUTHORIZATION = 256
CONTENT_TYPE = "application/octet-stream"


def challenge_token(target: str) -> str | None:
    """The token of a ``/.well-known/acme-challenge/<token>`` request target, else None.

    ``target`` is the raw request target as received (path and query, undecoded): a
    query, a percent-escape or any character outside base64url gives None.
    """
    if not target.startswith(CHALLENGE_PATH):
        return None
    token = target[len(CHALLENGE_PATH) :]
    return token if _TOKEN.fullmatch(token) else None


def key_authorization(directory: Path, target: str) -> bytes | None:
    """The body that answers an HTTP-01 validation request for ``target``, or None.

    None when ``target`` is no challenge path, when the acme service left no answer for
    its token in ``directory``, or when what it left is not a key authorization for
    that token (the validation then fails at the ACME server, which is the safe end).
    Never raises for a missing, unreadable or strange file.
    """
    token = challenge_token(target)
    if token is None:
        return None
    content = _read_small_file(directory / token)
    if content is None:
        return None
    content = content.strip()
    prefix = token.encode() + b"."
    if content.startswith(prefix) and _THUMBPRINT.fullmatch(content[len(prefix) :]):
        return content
    return None


def _read_small_file(path: Path) -> bytes | None:
    """At most MAX_KEY_AUTHORIZATION bytes of a regular file; None for anything else."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        content = os.read(descriptor, MAX_KEY_AUTHORIZATION + 1)
    except OSError:
        return None
    finally:
        os.close(descriptor)
    return content if len(content) <= MAX_KEY_AUTHORIZATION else None

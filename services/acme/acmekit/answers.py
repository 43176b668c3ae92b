"""HTTP-01 answers (RFC 8555 section 8.3), handed to the proxy through a volume.

The service never listens: for each pending challenge it writes the key authorization
into ``acme-challenges``, one file named after the token, which the proxy mounts
read-only and serves on its port-80 listener before the redirect (the proxy's
``tlsproxy.acme_challenge`` checks name and content again). Files are written whole
(temporary name starting with a dot, which is no token, then a rename) and removed
when the order is done, whatever its outcome.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from tlsproxy.certs import store

_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,128}")  # as the proxy accepts them


class ChallengeAnswers:
    """The answer files in one folder; a context manager that removes what it wrote."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.written: list[Path] = []

    def publish(self, token: str, key_authorization: str) -> None:
        """Serve ``key_authorization`` for ``token`` (base64url, from the ACME server)."""
        if not _TOKEN.fullmatch(token):
            raise ValueError(f"the ACME server sent a token the proxy would not serve: {token!r}")
        path = self.directory / token
        store.atomic_write(path, key_authorization.encode() + b"\n", store.CERT_MODE)
        self.written.append(path)

    def withdraw(self) -> None:
        """Remove every answer this object published."""
        for path in self.written:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self.written.clear()

    def __enter__(self) -> ChallengeAnswers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.withdraw()


def remove_leftovers(directory: Path) -> int:
    """Remove answers an interrupted run left behind; returns how many."""
    removed = 0
    for path in directory.iterdir():
        if path.is_file() and (_TOKEN.fullmatch(path.name) or path.name.endswith(".tmp")):
            path.unlink()
            removed += 1
    return removed

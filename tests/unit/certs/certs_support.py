"""Helpers for the certificate tool tests: a fixed clock, a one-call ensure, folder snapshots.

A uniquely named module (not conftest) so `from certs_support import ...` cannot pick up
another test folder's conftest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from tlsproxy.certs import names, operations, store
from tlsproxy.certs.config import ServerSettings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOSTS = "localhost,127.0.0.1,::1,blog.home.arpa"


def ensure(directory: Path, hosts: str = HOSTS, now: datetime = NOW, **options: object):
    settings = ServerSettings(
        directory=directory,
        hosts=names.parse_hosts(hosts),
        lifetime=timedelta(days=int(options.pop("days", 90))),  # type: ignore[call-overload]
        **options,  # type: ignore[arg-type]
    )
    return operations.ensure(settings, now)


def read_cert(path: Path) -> x509.Certificate:
    return store.load_cert(path)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file below ``directory`` with its content, to prove nothing changed."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }

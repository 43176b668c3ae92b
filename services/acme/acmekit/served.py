"""The publicly trusted pair the proxy serves, and when to replace it.

``certificate.pem`` in the ``acme-certs`` volume holds the chain, then its key, written
at once (temporary file, rename), so the proxy (group-readable, mode 0640) never sees
a certificate without its key. ``issued.json`` beside it notes the names and the ACME
directory it came from. Nothing here talks to the network: ``reissue_reason`` decides
from the files, the settings, the time and the renewal time (from ARI, RFC 9773, when
the server offers it; else two thirds of the lifetime, as the local CA does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from tlsproxy.certs import store
from tlsproxy.certs.errors import CertsError
from tlsproxy.certs.keys import PrivateKey, key_matches, key_to_pem
from tlsproxy.certs.policy import cert_hosts, renew_after

from .settings import Settings

PAIR_MODE = 0o640  # the proxy reads it through the shared group (10001)


@dataclass(frozen=True)
class ServedPair:
    chain_pem: bytes
    leaf: x509.Certificate
    directory: str | None  # the ACME server it came from (None: no note)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(str(host) for host in cert_hosts(self.leaf))

    def default_renewal(self) -> datetime:
        """Two thirds of the lifetime: when no ARI window says otherwise."""
        return renew_after(self.leaf)


def read_served(settings: Settings) -> ServedPair | None:
    """The served pair, or None when there is none (or it is unreadable: replace it)."""
    try:
        data = settings.certificate.read_bytes()
        leaf = x509.load_pem_x509_certificates(data)[0]
    except (OSError, ValueError, IndexError):
        return None
    chain_end = data.find(b"-----BEGIN PRIVATE KEY-----")
    chain_pem = data[:chain_end] if chain_end >= 0 else data
    try:
        note = json.loads(settings.issued.read_text())
        directory = note.get("directory") if isinstance(note, dict) else None
    except (OSError, ValueError):
        directory = None
    return ServedPair(chain_pem, leaf, directory if isinstance(directory, str) else None)


def reissue_reason(
    served: ServedPair | None, settings: Settings, now: datetime, renew_at: datetime | None
) -> str | None:
    """Why a new certificate is needed now, or None while the served one is fine."""
    if served is None:
        return "no certificate from ACME yet"
    wanted = frozenset(settings.domains)
    if served.names != wanted:
        added = ", ".join(sorted(wanted - served.names))
        removed = ", ".join(sorted(served.names - wanted))
        change = "; ".join(
            p for p in (added and f"added {added}", removed and f"removed {removed}") if p
        )
        return f"ACME_DOMAINS changed ({change})"
    if served.directory != settings.directory:
        return f"ACME_DIRECTORY changed (it came from {served.directory or 'an unknown server'})"
    if now >= served.leaf.not_valid_after_utc:
        return f"it expired at {served.leaf.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC"
    due = renew_at or served.default_renewal()
    if now >= due:
        return (
            "the ACME server's renewal window has opened"
            if renew_at
            else ("it is past two thirds of its lifetime")
        )
    return None


def write_served(
    settings: Settings, key: PrivateKey, fullchain_pem: str, now: datetime
) -> x509.Certificate:
    """Check the issued chain against the key, names and time, then serve it.

    Raises CertsError (nothing written) when the chain is not what was ordered.
    """
    chain_pem = fullchain_pem.encode()
    try:
        leaf = x509.load_pem_x509_certificates(chain_pem)[0]
    except (ValueError, IndexError):
        raise CertsError(
            "The ACME server sent no readable certificate. Nothing was written."
        ) from None
    names = frozenset(str(host) for host in cert_hosts(leaf))
    problems = [
        problem
        for problem, found in (
            ("it is not for the key that was sent", not key_matches(leaf, key)),
            (
                f"its names {sorted(names)} differ from ACME_DOMAINS",
                names != frozenset(settings.domains),
            ),
            (
                "it is not valid now",
                not leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc,
            ),
        )
        if found
    ]
    if problems:
        raise CertsError(
            "The certificate from the ACME server was not served: "
            + "; ".join(problems)
            + ". Nothing was written."
        )
    body = chain_pem.rstrip(b"\n") + b"\n" + key_to_pem(key)
    store.atomic_write(settings.certificate, body, PAIR_MODE)
    note = {"directory": settings.directory, "domains": list(settings.domains)}
    store.atomic_write(settings.issued, json.dumps(note).encode() + b"\n", store.CERT_MODE)
    return leaf

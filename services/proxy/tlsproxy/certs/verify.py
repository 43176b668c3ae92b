"""Chain validation with cryptography's web-PKI verifier, the same rules browsers apply."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.x509 import verification

from . import names


def _subject(host: names.Host) -> x509.DNSName | x509.IPAddress:
    if isinstance(host, str):
        # A wildcard is checked through one concrete name it must cover.
        return x509.DNSName(host.replace("*", "wildcard-check", 1))
    return x509.IPAddress(host)


def server_failures(
    ca: x509.Certificate,
    chain: Sequence[x509.Certificate],
    hosts: Sequence[names.Host],
    now: datetime,
) -> dict[names.Host, str]:
    """Map each host the chain does not verify for to the verifier's reason (empty: all good)."""
    builder = verification.PolicyBuilder().store(verification.Store([ca])).time(now)
    failures: dict[names.Host, str] = {}
    for host in hosts:
        verifier = builder.build_server_verifier(_subject(host))
        try:
            verifier.verify(chain[0], list(chain[1:]))
        except verification.VerificationError as error:
            failures[host] = str(error)
    return failures


def client_failure(
    ca: x509.Certificate, chain: Sequence[x509.Certificate], now: datetime
) -> str | None:
    builder = verification.PolicyBuilder().store(verification.Store([ca])).time(now)
    try:
        builder.build_client_verifier().verify(chain[0], list(chain[1:]))
    except verification.VerificationError as error:
        return str(error)
    return None

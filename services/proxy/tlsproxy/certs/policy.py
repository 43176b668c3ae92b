"""When to reissue the server certificate: pure decisions from certificate, names and time.

Nothing here reads files or the clock, so every trigger is tested with made-up times.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from . import names
from .keys import PrivateKey, key_matches

RENEW_AT_FRACTION = 2 / 3  # like certbot/Let's Encrypt: 30 days before a 90-day cert ends


def renew_after(cert: x509.Certificate) -> datetime:
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    return cert.not_valid_before_utc + lifetime * RENEW_AT_FRACTION


def cert_hosts(cert: x509.Certificate) -> tuple[names.Host, ...]:
    try:
        alt_names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    found = (names.host_from_general_name(name) for name in alt_names)
    return tuple(host for host in found if host is not None)


def issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def server_reissue_reason(
    cert: x509.Certificate | None,
    key: PrivateKey | None,
    hosts: Sequence[names.Host],
    ca: x509.Certificate,
    now: datetime,
) -> str | None:
    """Why the server certificate must be reissued, or None when it is fine as it is."""
    if cert is None:
        return "no server certificate yet"
    if key is None:
        return "the server key is missing"
    if not key_matches(cert, key):
        return "the server key and certificate do not match"
    if not issued_by(cert, ca):
        return "it was not signed by the current CA"
    current = set(cert_hosts(cert))
    wanted = set(hosts)
    if current != wanted:
        added = ", ".join(str(host) for host in hosts if host not in current)
        removed = ", ".join(str(host) for host in cert_hosts(cert) if host not in wanted)
        change = "; ".join(
            part for part in (added and f"added {added}", removed and f"removed {removed}") if part
        )
        return f"its names changed ({change})"
    if now >= cert.not_valid_after_utc:
        return f"it expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    if now >= renew_after(cert):
        return "it is past two thirds of its lifetime"
    return None

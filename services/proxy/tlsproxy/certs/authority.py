"""The local certificate authority: what a kit CA certificate contains and how it is checked.

The CA is a self-signed root with pathlen 0 (it signs leaves only) and, by default, a
critical nameConstraints extension limited to the configured names, so its key cannot
be used to impersonate any other site even if stolen.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import NameOID

from . import names
from .errors import CertsError
from .keys import PrivateKey, key_matches, key_usage, signature_hash

CA_LIFETIME = timedelta(days=3650)
# Small backdating so a device whose clock runs a little slow still accepts new certificates.
CLOCK_SKEW = timedelta(minutes=5)
ORGANIZATION = "Safe Blogging Kit"


def create_ca(
    key: PrivateKey,
    subtrees: Sequence[str | names.IPNetwork] | None,
    now: datetime,
) -> x509.Certificate:
    """A new self-signed CA; ``subtrees`` None means no name constraints at all."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            # The creation time tells CAs apart in a trust store after a --new-ca.
            x509.NameAttribute(NameOID.COMMON_NAME, f"{ORGANIZATION} CA {now:%Y-%m-%d %H:%M:%S}"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            key_usage(signs_certificates=True),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if subtrees is not None:
        builder = builder.add_extension(names.name_constraints(subtrees), critical=True)
    return builder.sign(key, signature_hash())


def ca_constraints(ca: x509.Certificate) -> x509.NameConstraints | None:
    try:
        return ca.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return None


def constraint_text(ca: x509.Certificate) -> str:
    """The CA's permitted subtrees as one line: ``only localhost, home.arpa, ...``."""
    constraints = ca_constraints(ca)
    if constraints is None:
        return "none (this CA can sign for any name)"
    permitted = constraints.permitted_subtrees or []
    return "only " + ", ".join(names.general_name_text(name) for name in permitted)


def check_ca(ca: x509.Certificate, key: PrivateKey, cert_path: str, now: datetime) -> None:
    """Refuse a CA pair that cannot sign: mismatched, not a CA, or expired."""
    if not key_matches(ca, key):
        raise CertsError(
            f"The CA certificate {cert_path} and its key ca-key.pem do not belong together. "
            "Restore the matching pair from a backup (ca.pem.*.bak, ca-key.pem.*.bak), or run "
            "with --new-ca to keep them as backups and make a new CA (devices must then trust it "
            "again)."
        )
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise CertsError(
            f"{cert_path} is not a CA certificate. Move it aside, or run with --new-ca to keep "
            "it as a backup and make a new CA."
        )
    if ca.not_valid_after_utc <= now:
        raise CertsError(
            f"The CA {cert_path} expired on {ca.not_valid_after_utc:%Y-%m-%d}. Run with "
            "--new-ca to keep it as a backup and make a new CA, then trust the new ca.pem on "
            "each device."
        )

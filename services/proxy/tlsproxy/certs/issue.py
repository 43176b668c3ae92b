"""Server and client certificates signed by the kit CA, and the PKCS#12 bundle for clients."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import names
from .authority import CLOCK_SKEW, ORGANIZATION
from .keys import PrivateKey, key_usage, signature_hash

MAX_LEAF_DAYS = 397  # the CA/Browser Forum and Apple limit for server certificates
SERVER_DAYS = 90
CLIENT_DAYS = 365
P12_KDF_ROUNDS = 200_000


def _leaf(
    ca: x509.Certificate,
    ca_key: PrivateKey,
    key: PrivateKey,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    lifetime: timedelta,
    now: datetime,
    alt_names: Sequence[x509.GeneralName] = (),
) -> x509.Certificate:
    # Never outlive the CA: a chain is only as valid as its shortest-lived link.
    not_after = min(now + lifetime, ca.not_valid_after_utc)
    # Backdated for slow clocks, but never by more than a tenth of a (test-)short lifetime.
    skew = min(CLOCK_SKEW, lifetime / 10)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - skew)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            key_usage(signs_certificates=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    return builder.sign(ca_key, signature_hash())


def issue_server(
    ca: x509.Certificate,
    ca_key: PrivateKey,
    key: PrivateKey,
    hosts: Sequence[names.Host],
    lifetime: timedelta,
    now: datetime,
) -> x509.Certificate:
    """A serverAuth certificate whose subjectAltName lists exactly ``hosts``."""
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION)]
    first_dns = next((host for host in hosts if isinstance(host, str) and len(host) <= 64), None)
    if first_dns:
        # Informational only: clients match the subjectAltName, not the common name.
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, first_dns))
    return _leaf(
        ca,
        ca_key,
        key,
        x509.Name(attributes),
        ExtendedKeyUsageOID.SERVER_AUTH,
        lifetime,
        now,
        [names.general_name(host) for host in hosts],
    )


def issue_client(
    ca: x509.Certificate,
    ca_key: PrivateKey,
    key: PrivateKey,
    name: str,
    days: int,
    now: datetime,
) -> x509.Certificate:
    """A clientAuth certificate for mutual TLS, identified by its common name."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    # A URI name, not a DNS one: the CA's DNS/IP name constraints stay out of the way, and
    # verifiers that insist on a subjectAltName (cryptography's) still accept the cert.
    alt_names = [x509.UniformResourceIdentifier(f"urn:safe-blogging-kit:client:{name}")]
    lifetime = timedelta(days=days)
    return _leaf(
        ca, ca_key, key, subject, ExtendedKeyUsageOID.CLIENT_AUTH, lifetime, now, alt_names
    )


def client_bundle(
    name: str,
    cert: x509.Certificate,
    key: PrivateKey,
    ca: x509.Certificate,
    password: bytes,
    legacy: bool,
) -> bytes:
    """PKCS#12 with AES-256/PBKDF2 by default; 3DES/SHA-1 only for importers that need it."""
    if legacy:
        # Some older Windows, macOS Keychain and Android importers cannot read PBES2/AES.
        encryption = (
            PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(2048)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())  # noqa: S303
            .build(password)
        )
    else:
        encryption = (
            PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(P12_KDF_ROUNDS)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(password)
        )
    return pkcs12.serialize_key_and_certificates(name.encode(), key, cert, [ca], encryption)

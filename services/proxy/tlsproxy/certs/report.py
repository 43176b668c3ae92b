"""Human-readable output: certificate summaries and how to trust the CA on each platform."""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from . import names
from .authority import constraint_text
from .keys import describe_key
from .operations import RENEW_OFFLINE_MAKE, EnsureResult
from .policy import cert_hosts, renew_after

DOCS = "docs/certificates.md"
CA_WARN_BEFORE = timedelta(days=365)


def fingerprint(cert: x509.Certificate) -> str:
    return binascii.hexlify(cert.fingerprint(hashes.SHA256()), ":").decode().upper()


def _when(cert_time: datetime) -> str:
    return f"{cert_time:%Y-%m-%d %H:%M} UTC"


def summary(cert: x509.Certificate, title: str) -> list[str]:
    lines = [
        f"{title}: {cert.subject.rfc4514_string()}",
        f"  issuer:      {cert.issuer.rfc4514_string()}",
        f"  key:         {describe_key(cert)}",
        f"  valid:       {_when(cert.not_valid_before_utc)} to {_when(cert.not_valid_after_utc)}",
        f"  SHA-256:     {fingerprint(cert)}",
    ]
    hosts = cert_hosts(cert)
    if hosts:
        lines.append(f"  names:       {', '.join(str(host) for host in hosts)}")
        lines.append(f"  renews after {_when(renew_after(cert))}")
    return lines


def trust_commands(ca_path: Path) -> list[str]:
    ca = str(ca_path)
    return [
        f"Trust the CA once on each device ({DOCS} has the full steps, phones included):",
        f"  Debian/Ubuntu: sudo cp {ca} /usr/local/share/ca-certificates/safe-blogging-kit.crt"
        " && sudo update-ca-certificates",
        f"  Fedora:        sudo cp {ca} /etc/pki/ca-trust/source/anchors/safe-blogging-kit.pem"
        " && sudo update-ca-trust",
        "  macOS:         sudo security add-trusted-cert -d -r trustRoot"
        f" -k /Library/Keychains/System.keychain {ca}",
        f"  Windows:       certutil -addstore -f Root {ca}   (in an administrator prompt)",
        "  Firefox:       Settings > Privacy & Security > Certificates > View Certificates >"
        f" Authorities > Import {ca}, tick 'websites'",
        "  Check the fingerprint on each device matches the one above before trusting.",
    ]


_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def _extension_value(value: x509.ExtensionType) -> str:
    """A short readable form for the extensions the kit writes; repr for anything else."""
    if isinstance(value, x509.BasicConstraints):
        return f"CA:{str(value.ca).upper()}" + (
            f", pathlen {value.path_length}" if value.path_length is not None else ""
        )
    if isinstance(value, x509.KeyUsage):
        return ", ".join(usage for usage in _USAGES if getattr(value, usage))
    if isinstance(value, x509.ExtendedKeyUsage):
        return ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in value)
    if isinstance(value, x509.SubjectAlternativeName):
        return ", ".join(names.general_name_text(name) for name in value)
    if isinstance(value, x509.NameConstraints):
        permitted = ", ".join(
            names.general_name_text(name) for name in value.permitted_subtrees or []
        )
        excluded = ", ".join(
            names.general_name_text(name) for name in value.excluded_subtrees or []
        )
        return f"permitted: {permitted or '-'}; excluded: {excluded or '-'}"
    if isinstance(value, x509.SubjectKeyIdentifier):
        return value.digest.hex(":")
    if isinstance(value, x509.AuthorityKeyIdentifier) and value.key_identifier:
        return value.key_identifier.hex(":")
    return repr(value)


def extension_lines(cert: x509.Certificate) -> Iterable[str]:
    for extension in cert.extensions:
        name = getattr(extension.oid, "_name", extension.oid.dotted_string)
        flag = "critical" if extension.critical else "not critical"
        yield f"  {name} ({flag}): {_extension_value(extension.value)}"


def ensure_lines(
    result: EnsureResult,
    now: datetime,
    folder_for_user: Path,
    ca_for_user: Path,
    ignored_ca_options: bool,
) -> list[str]:
    """What ensure did: the CA, the server certificate, and what the user should do next."""
    ca, server = result.ca, result.server
    lines = [f"Certificate folder: {folder_for_user}"]
    if result.ca_created:
        lines += summary(ca, "CA created")
    else:
        lines.append(f"CA kept: {ca.subject.rfc4514_string()}")
        lines.append(f"  valid until {ca.not_valid_after_utc:%Y-%m-%d}, SHA-256 {fingerprint(ca)}")
    lines.append(f"  name constraints: {constraint_text(ca)}")
    lines += [f"  old CA file kept as {backup}" for backup in result.backups]
    lines += [
        f"note: this machine's name {host} is outside the CA's name constraints and was left "
        "out; list it in CERT_HOSTS and run ensure --new-ca if you need it."
        for host in result.dropped
    ]
    if result.server_reason is None:
        lines.append(
            f"Server certificate up to date: valid until {_when(server.not_valid_after_utc)}"
        )
        if result.ca_key_offline:
            lines.append(
                "  the CA key is kept off this machine: when renewal is due, run "
                f"{RENEW_OFFLINE_MAKE} (the certs service's log warns first)"
            )
        lines += summary(server, "")[1:]
    else:
        lines += summary(server, f"Server certificate issued ({result.server_reason})")
    if result.ca_created:
        lines += trust_commands(ca_for_user)
    elif ignored_ca_options:
        lines.append(
            "note: --ca-key-type, --no-name-constraints and --permit only apply when a CA is "
            "made; the existing CA was kept (add --new-ca to replace it)."
        )
    if ca.not_valid_after_utc - now < CA_WARN_BEFORE:
        lines.append(
            f"warning: the CA expires on {ca.not_valid_after_utc:%Y-%m-%d}; run ensure "
            "--new-ca before then and trust the new ca.pem on each device."
        )
    return lines

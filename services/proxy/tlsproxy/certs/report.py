"""Human-readable output: certificate summaries and how to trust the CA on each platform."""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .authority import ca_constraints
from .keys import describe_key
from .policy import cert_hosts, renew_after

DOCS = "docs/certificates.md"


def fingerprint(cert: x509.Certificate) -> str:
    return binascii.hexlify(cert.fingerprint(hashes.SHA256()), ":").decode().upper()


def _when(cert_time: object) -> str:
    return f"{cert_time:%Y-%m-%d %H:%M} UTC"


def _general_name(name: x509.GeneralName) -> str:
    return str(name.value)


def constraint_text(cert: x509.Certificate) -> str:
    constraints = ca_constraints(cert)
    if constraints is None:
        return "none (this CA can sign for any name)"
    permitted = ", ".join(_general_name(name) for name in constraints.permitted_subtrees or [])
    return f"only {permitted}"


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


def extension_lines(cert: x509.Certificate) -> Iterable[str]:
    for extension in cert.extensions:
        name = getattr(extension.oid, "_name", extension.oid.dotted_string)
        flag = "critical" if extension.critical else "not critical"
        yield f"  {name} ({flag}): {extension.value}"

"""What the server certificate contains, and that the web-PKI verifier accepts it."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import pytest
from certs_support import NOW, ensure, read_cert
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from tlsproxy.certs import authority, issue, keys, names, verify
from tlsproxy.certs.store import load_key


def extension(cert: x509.Certificate, kind: type) -> x509.Extension:
    return cert.extensions.get_extension_for_class(kind)


def test_subject_alt_names_are_typed(tmp_path: Path) -> None:
    ensure(tmp_path, hosts="localhost,127.0.0.1,::1,*.pics.home.arpa,pics.home.arpa")
    san = extension(
        read_cert(tmp_path / "served" / "server.pem"), x509.SubjectAlternativeName
    ).value
    assert san.get_values_for_type(x509.DNSName) == [
        "localhost",
        "*.pics.home.arpa",
        "pics.home.arpa",
    ]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]


def test_server_extensions_and_criticality(certs: Path) -> None:
    server = read_cert(certs / "served" / "server.pem")
    ca = read_cert(certs / "ca.pem")
    basic = extension(server, x509.BasicConstraints)
    assert basic.critical and not basic.value.ca
    usage = extension(server, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not usage.value.key_cert_sign and not usage.value.key_encipherment
    eku = extension(server, x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    aki = extension(server, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == extension(ca, x509.SubjectKeyIdentifier).value.digest
    ski = extension(server, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(server.public_key())
    assert server.issuer == ca.subject


@pytest.mark.parametrize("days", [1, 90, 397])
def test_validity_period(tmp_path: Path, days: int) -> None:
    ensure(tmp_path, days=days)
    server = read_cert(tmp_path / "served" / "server.pem")
    assert server.not_valid_after_utc - NOW == timedelta(days=days)
    assert NOW - timedelta(minutes=10) < server.not_valid_before_utc <= NOW


def test_chain_verifies_for_every_name(certs: Path) -> None:
    hosts = names.parse_hosts("localhost,127.0.0.1,::1,blog.home.arpa")
    ca, server = read_cert(certs / "ca.pem"), read_cert(certs / "served" / "server.pem")
    assert verify.server_failures(ca, [server], hosts, NOW) == {}
    assert keys.key_matches(server, load_key(certs / "served" / "server-key.pem"))


def test_chain_fails_for_a_name_not_in_the_certificate(certs: Path) -> None:
    ca, server = read_cert(certs / "ca.pem"), read_cert(certs / "served" / "server.pem")
    failures = verify.server_failures(ca, [server], ["other.home.arpa"], NOW)
    assert list(failures) == ["other.home.arpa"]


@pytest.mark.parametrize(
    "outside", ["example.com", "evilblog.home.arpa.example", "203.0.113.1", "2001:db8::1"]
)
def test_name_constraints_at_work(certs: Path, outside: str) -> None:
    """A certificate the CA signs for a name outside its constraints fails verification."""
    ca = read_cert(certs / "ca.pem")
    ca_key = load_key(certs / "ca-key.pem")
    hosts = names.parse_hosts(outside)
    forged = issue.issue_server(ca, ca_key, keys.generate_key(), hosts, timedelta(days=30), NOW)
    failures = verify.server_failures(ca, [forged], hosts, NOW)
    assert "name constraint" in failures[hosts[0]]


def test_without_name_constraints_any_name_verifies(tmp_path: Path) -> None:
    ca_key = keys.generate_key()
    ca = authority.create_ca(ca_key, None, NOW)
    hosts = names.parse_hosts("example.com")
    cert = issue.issue_server(ca, ca_key, keys.generate_key(), hosts, timedelta(days=30), NOW)
    assert verify.server_failures(ca, [cert], hosts, NOW) == {}


def test_server_never_outlives_the_ca() -> None:
    ca_key = keys.generate_key()
    ca = authority.create_ca(ca_key, None, NOW)
    later = ca.not_valid_after_utc - timedelta(days=10)
    cert = issue.issue_server(
        ca, ca_key, keys.generate_key(), ["localhost"], timedelta(days=90), later
    )
    assert cert.not_valid_after_utc == ca.not_valid_after_utc

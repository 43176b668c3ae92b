"""What the CA certificate contains: extensions, criticality, key type, lifetime."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import pytest
from certs_support import HOSTS, NOW, ensure, read_cert
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from tlsproxy.certs import names


def extension(cert: x509.Certificate, kind: type) -> x509.Extension:
    return cert.extensions.get_extension_for_class(kind)


def test_ca_is_a_critical_pathlen_zero_authority(certs: Path) -> None:
    ca = read_cert(certs / "ca.pem")
    basic = extension(ca, x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = extension(ca, x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature and not usage.value.key_encipherment
    ski = extension(ca, x509.SubjectKeyIdentifier)
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())
    assert ca.subject == ca.issuer


def test_ca_lives_ten_years_and_is_ecdsa_p256_by_default(certs: Path) -> None:
    ca = read_cert(certs / "ca.pem")
    assert ca.not_valid_after_utc - NOW == timedelta(days=3650)
    assert ca.not_valid_before_utc <= NOW
    key = ca.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"


def test_rsa_3072_on_request(tmp_path: Path) -> None:
    ensure(tmp_path, ca_key_type="rsa")
    key = read_cert(tmp_path / "ca.pem").public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 3072


# Issue 16: what every new CA permits, so that LAN names and addresses added later need
# no new CA while a stolen CA key still cannot impersonate a public site.
ISSUE_16 = (
    "localhost,home.arpa,internal,lan,local,127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,"
    "192.168.0.0/16,100.64.0.0/10,fc00::/7,fe80::/10"
)
PRIVATE = [
    x509.DNSName(item) if isinstance(item, str) else x509.IPAddress(item)
    for item in names.parse_permit(ISSUE_16)
]
PRIVATE_DNS, PRIVATE_IP = PRIVATE[:5], PRIVATE[5:]


def test_name_constraints_are_critical_and_permit_the_private_name_spaces(certs: Path) -> None:
    """The default names (localhost, loopback, blog.home.arpa) all lie inside them."""
    constraints = extension(read_cert(certs / "ca.pem"), x509.NameConstraints)
    assert constraints.critical
    assert constraints.value.excluded_subtrees is None
    assert list(constraints.value.permitted_subtrees) == PRIVATE_DNS + PRIVATE_IP


def test_the_machine_name_and_configured_public_names_are_added(tmp_path: Path) -> None:
    ensure(tmp_path, hosts=HOSTS + ",blog.example.org,203.0.113.7", machine="laptop")
    constraints = extension(read_cert(tmp_path / "ca.pem"), x509.NameConstraints).value
    assert list(constraints.permitted_subtrees) == [
        *PRIVATE_DNS,
        x509.DNSName("laptop"),
        x509.DNSName("blog.example.org"),
        *PRIVATE_IP,
        x509.IPAddress(ipaddress.ip_network("203.0.113.7/32")),
    ]


def test_permit_widens_a_new_ca(tmp_path: Path) -> None:
    ensure(tmp_path, permit=("example.org", ipaddress.ip_network("203.0.113.0/24")))
    constraints = extension(read_cert(tmp_path / "ca.pem"), x509.NameConstraints).value
    assert list(constraints.permitted_subtrees) == [
        *PRIVATE_DNS,
        x509.DNSName("example.org"),
        *PRIVATE_IP,
        x509.IPAddress(ipaddress.ip_network("203.0.113.0/24")),
    ]


def test_name_constraints_can_be_turned_off(tmp_path: Path) -> None:
    ensure(tmp_path, name_constraints=False)
    with pytest.raises(x509.ExtensionNotFound):
        extension(read_cert(tmp_path / "ca.pem"), x509.NameConstraints)

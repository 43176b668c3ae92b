"""What the CA certificate contains: extensions, criticality, key type, lifetime."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import pytest
from certs_support import NOW, ensure, read_cert
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa


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


def test_name_constraints_are_critical_and_list_the_configured_names(certs: Path) -> None:
    constraints = extension(read_cert(certs / "ca.pem"), x509.NameConstraints)
    assert constraints.critical
    assert constraints.value.excluded_subtrees is None
    assert list(constraints.value.permitted_subtrees) == [
        x509.DNSName("localhost"),
        x509.DNSName("blog.home.arpa"),
        x509.IPAddress(ipaddress.ip_network("127.0.0.1/32")),
        x509.IPAddress(ipaddress.ip_network("::1/128")),
    ]


def test_permit_widens_a_new_ca(tmp_path: Path) -> None:
    ensure(tmp_path, permit=(ipaddress.ip_network("192.168.0.0/16"),))
    constraints = extension(read_cert(tmp_path / "ca.pem"), x509.NameConstraints).value
    assert x509.IPAddress(ipaddress.ip_network("192.168.0.0/16")) in constraints.permitted_subtrees


def test_name_constraints_can_be_turned_off(tmp_path: Path) -> None:
    ensure(tmp_path, name_constraints=False)
    with pytest.raises(x509.ExtensionNotFound):
        extension(read_cert(tmp_path / "ca.pem"), x509.NameConstraints)

"""Client certificates for mutual TLS and their PKCS#12 bundles."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from certs_support import NOW, read_cert, snapshot
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
from tlsproxy.certs import keys, operations, store, verify
from tlsproxy.certs.errors import CertsError

# DER encodings of the algorithm identifiers inside the bundle.
PBES2 = bytes.fromhex("06092a864886f70d01050d")
AES_256_CBC = bytes.fromhex("060960864801650304012a")
TRIPLE_DES_SHA1 = bytes.fromhex("060a2a864886f70d010c0103")


def make(certs: Path, name: str = "laptop", legacy: bool = False, force: bool = False):
    return operations.new_client(certs, name, 365, legacy, force, NOW)


def test_client_certificate_is_for_client_auth_only(certs: Path) -> None:
    result = make(certs)
    cert = read_cert(certs / "clients" / "laptop.pem")
    assert cert == result.cert
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "laptop"
    assert verify.client_failure(read_cert(certs / "ca.pem"), [cert], NOW) is None
    key = store.load_key(certs / "clients" / "laptop-key.pem")
    assert keys.key_matches(cert, key)


def test_client_files_and_modes(certs: Path) -> None:
    make(certs)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (certs / "clients").iterdir()}
    assert modes == {"laptop.pem": 0o644, "laptop-key.pem": 0o600, "laptop.p12": 0o600}
    assert stat.S_IMODE((certs / "clients").stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("legacy", "present", "absent"),
    [(False, [PBES2, AES_256_CBC], [TRIPLE_DES_SHA1]), (True, [TRIPLE_DES_SHA1], [PBES2])],
)
def test_bundle_opens_with_the_shown_password_only(
    certs: Path, legacy: bool, present: list[bytes], absent: list[bytes]
) -> None:
    result = make(certs, legacy=legacy)
    data = (certs / "clients" / "laptop.p12").read_bytes()
    bundle = pkcs12.load_pkcs12(data, result.password.encode())
    assert bundle.cert is not None and bundle.cert.certificate == result.cert
    assert bundle.cert.friendly_name == b"laptop"
    assert [extra.certificate for extra in bundle.additional_certs] == [read_cert(certs / "ca.pem")]
    assert bundle.key is not None and keys.key_matches(result.cert, bundle.key)
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(data, b"wrong password")
    for marker in present:
        assert marker in data
    for marker in absent:
        assert marker not in data


def test_each_bundle_gets_its_own_password(certs: Path) -> None:
    assert make(certs, "laptop").password != make(certs, "phone").password
    assert len(make(certs, "tablet").password) >= 20


def test_an_existing_client_is_not_replaced_without_force(certs: Path) -> None:
    make(certs)
    before = snapshot(certs)
    with pytest.raises(CertsError, match=r"already exists.*--force"):
        make(certs)
    assert snapshot(certs) == before
    make(certs, force=True)
    assert snapshot(certs)["clients/laptop.pem"] != before["clients/laptop.pem"]


def test_client_needs_a_ca(tmp_path: Path) -> None:
    with pytest.raises(CertsError, match=r"no CA.*ensure"):
        make(tmp_path)
    assert list(tmp_path.iterdir()) == []

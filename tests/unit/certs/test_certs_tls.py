"""Real TLS handshakes over loopback with Python's ssl (OpenSSL): what a client actually sees."""

from __future__ import annotations

import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from certs_support import ensure
from tlsproxy.certs import issue, keys, names, operations, store


def handshake(
    server_files: tuple[Path, Path],
    ca: Path,
    server_hostname: str,
    client_files: tuple[Path, Path] | None = None,
    require_client: bool = False,
) -> str:
    """Connect to a one-shot TLS server on an ephemeral port; return the peer's common name."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(*map(str, server_files))
    if require_client:
        server_context.verify_mode = ssl.CERT_REQUIRED
        server_context.load_verify_locations(cafile=str(ca))
    client_context = ssl.create_default_context(cafile=str(ca))
    if client_files:
        client_context.load_cert_chain(*map(str, client_files))

    listener = socket.create_server(("127.0.0.1", 0))
    seen: dict[str, object] = {}

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            with server_context.wrap_socket(connection, server_side=True) as tls:
                seen["client"] = tls.getpeercert()
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError) as error:
            seen["error"] = error

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(listener.getsockname(), timeout=10) as raw:
            with client_context.wrap_socket(raw, server_hostname=server_hostname) as tls:
                assert tls.recv(2) == b"ok"
                subject = dict(item[0] for item in tls.getpeercert()["subject"])
    finally:
        thread.join(timeout=10)
        listener.close()
    if require_client:
        client_subject = dict(item[0] for item in seen["client"]["subject"])  # type: ignore[index]
        return client_subject["commonName"]
    return subject.get("commonName", "")


def server_files(certs: Path) -> tuple[Path, Path]:
    return certs / "served" / "server.pem", certs / "served" / "server-key.pem"


@pytest.fixture
def live(tmp_path: Path) -> Path:
    """Certificates issued at the real time: OpenSSL checks validity against the clock."""
    certs = tmp_path / "certs"
    ensure(certs, now=datetime.now(UTC))
    return certs


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "::1", "blog.home.arpa"])
def test_clients_accept_the_server_for_every_configured_name(live: Path, name: str) -> None:
    assert handshake(server_files(live), live / "ca.pem", name) == "localhost"


def test_clients_refuse_a_name_not_in_the_certificate(live: Path) -> None:
    certs = live
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        handshake(server_files(certs), certs / "ca.pem", "other.home.arpa")


def test_openssl_enforces_the_name_constraints(live: Path, tmp_path: Path) -> None:
    """A certificate the stolen CA key signs for another site is refused by the client."""
    certs = live
    ca, ca_key = store.load_cert(certs / "ca.pem"), store.load_key(certs / "ca-key.pem")
    key = keys.generate_key()
    forged = issue.issue_server(
        ca, ca_key, key, names.parse_hosts("bank.example"), timedelta(days=30), datetime.now(UTC)
    )
    forged_files = (tmp_path / "forged.pem", tmp_path / "forged-key.pem")
    forged_files[0].write_bytes(keys.cert_to_pem(forged))
    forged_files[1].write_bytes(keys.key_to_pem(key))
    with pytest.raises(ssl.SSLCertVerificationError, match=r"(?i)name constraint|permitted"):
        handshake(forged_files, certs / "ca.pem", "bank.example")


def test_mutual_tls_with_a_client_certificate(live: Path) -> None:
    certs = live
    operations.new_client(certs, "laptop", 30, False, False, datetime.now(UTC))
    client = (certs / "clients" / "laptop.pem", certs / "clients" / "laptop-key.pem")
    name = handshake(server_files(certs), certs / "ca.pem", "localhost", client, True)
    assert name == "laptop"


@pytest.mark.parametrize(
    ("hosts", "server_hostname", "ca_key_type"),
    [
        ("blog.home.arpa", "blog.home.arpa", "ecdsa"),  # no address: IP placeholder subtree
        ("10.0.0.1", "10.0.0.1", "ecdsa"),  # no DNS name: .invalid placeholder subtree
        ("localhost,::1", "::1", "rsa"),
    ],
)
def test_single_type_and_rsa_cas_are_accepted(
    tmp_path: Path, hosts: str, server_hostname: str, ca_key_type: str
) -> None:
    certs = tmp_path / "certs"
    ensure(certs, hosts=hosts, ca_key_type=ca_key_type, now=datetime.now(UTC))
    handshake(server_files(certs), certs / "ca.pem", server_hostname)

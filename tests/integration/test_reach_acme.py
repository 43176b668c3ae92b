"""Issue 16, ACME end to end: a kit with ACME_DOMAINS set, made with ``make up``, against
Debian's Pebble (the ACME server) and pebble-challtestsrv (its DNS) on this machine.

Pebble's API listens on the host's docker0 address (the acme container must reach it;
a container cannot reach the host's 127.0.0.1) with a certificate made here, trusted
through ACME_CA_BUNDLE. Its DNS answers every name with 127.0.0.1, and it validates
HTTP-01 on the kit's HTTP port, published on loopback, as a CA on the internet would
on port 80. Certificates live 30 s, so renewal comes within the test; Pebble rejects
5 % of nonces (the client must cope) and never reuses an authorization.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
import pytest
from cryptography import x509
from tlsproxy.certs import authority, issue, names
from tlsproxy.certs.keys import cert_to_pem, generate_key, key_to_pem

from .conftest import Kit, free_port, service_container
from .made_kit import MadeKit

NAME = "blog.acme.test"
LIFETIME = 30  # seconds: Pebble's certificateValidityPeriod


@pytest.fixture(autouse=True, scope="module")
def pebble_installed() -> None:
    """Skip where Pebble is missing, but fail in CI, where .ci/run installs it."""
    if shutil.which("pebble") and shutil.which("pebble-challtestsrv"):
        return
    message = "needs Debian's pebble package (apt-get install pebble; .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Pebble:
    directory: str
    ca_bundle: Path  # signs Pebble's own HTTPS certificate
    management: str  # https://127.0.0.1:PORT (roots, intermediates)
    dns_management: str  # http://127.0.0.1:PORT of pebble-challtestsrv

    def root(self, folder: Path) -> Path:
        """Pebble's root of the moment (it makes a new one at each start)."""
        context = ssl.create_default_context(cafile=str(self.ca_bundle))
        with urllib.request.urlopen(f"{self.management}/roots/0", context=context) as answer:
            pem = answer.read()
        path = folder / "pebble-root.pem"
        path.write_bytes(pem)
        return path

    def point(self, name: str, address: str | None) -> None:
        """Answer A queries for ``name`` with ``address`` (None: the default, 127.0.0.1)."""
        path, body = (
            ("/clear-a", {"host": name})
            if address is None
            else ("/add-a", {"host": name, "addresses": [address]})
        )
        request = urllib.request.Request(
            self.dns_management + path, data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200


def api_certificate(folder: Path, address: str) -> tuple[Path, Path, Path]:
    """A CA and a certificate for Pebble's API at ``address``: (ca, cert, key)."""
    now = datetime.now(UTC)
    ca_key, key = generate_key(), generate_key()
    ca = authority.create_ca(ca_key, None, now)
    leaf = issue.issue_server(
        ca, ca_key, key, names.parse_hosts(f"{address},127.0.0.1"), timedelta(days=1), now
    )
    paths = (folder / "api-ca.pem", folder / "api.pem", folder / "api-key.pem")
    for path, content in zip(
        paths, (cert_to_pem(ca), cert_to_pem(leaf), key_to_pem(key)), strict=True
    ):
        path.write_bytes(content)
    return paths


def interface_address(name: str) -> str:
    """The IPv4 address of a host interface (docker0: what containers reach the host by)."""
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), siocgifaddr, struct.pack("256s", name.encode()))
        except OSError as error:
            pytest.skip(f"no {name} interface to offer Pebble to the kit's containers: {error}")
    return socket.inet_ntoa(packed[20:24])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def made(
    pebble_installed: None, tmp_path_factory: pytest.TempPathFactory, kit: Kit
) -> Iterator[tuple[MadeKit, Pebble]]:
    folder = tmp_path_factory.mktemp("acme")
    made = MadeKit.new(f"{kit.project}-acme", folder)
    gateway = interface_address("docker0")
    api_port, management_port, dns_port, dns_management_port = (free_port() for _ in range(4))
    ca_bundle, cert, key = api_certificate(folder, gateway)
    config = {
        "pebble": {
            "listenAddress": f"{gateway}:{api_port}",
            "managementListenAddress": f"127.0.0.1:{management_port}",
            "certificate": str(cert),
            "privateKey": str(key),
            "httpPort": made.kit.http_port,
            "tlsPort": made.kit.https_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "certificateValidityPeriod": LIFETIME,
        }
    }
    (folder / "pebble.json").write_text(json.dumps(config))
    dns = subprocess.Popen(
        ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns_port}",
         "-management", f"127.0.0.1:{dns_management_port}", "-http01", "", "-https01", "",
         "-tlsalpn01", "", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
        stdout=(folder / "challtestsrv.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    pebble = subprocess.Popen(
        ["pebble", "-config", str(folder / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns_port}"],
        env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": "0", "PATH": "/usr/bin:/bin"},
        stdout=(folder / "pebble.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_port(management_port)
        wait_for_port(dns_management_port)
        server = Pebble(
            f"https://{gateway}:{api_port}/dir",
            ca_bundle,
            f"https://127.0.0.1:{management_port}",
            f"http://127.0.0.1:{dns_management_port}",
        )
        made.set(
            ACME_DOMAINS=NAME,
            ACME_EMAIL=f"owner@{NAME}",
            ACME_DIRECTORY=server.directory,
            ACME_CA_BUNDLE=str(ca_bundle),
            ACME_RETRY_INTERVAL="2s",
        )
        made.make("up")
        yield made, server
    finally:
        made.remove()
        for process in (pebble, dns):
            process.terminate()
            process.wait(timeout=10)


def served(made: MadeKit, name: str) -> x509.Certificate:
    """The leaf served for ``name``, without verifying it (the tests verify separately)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", made.kit.https_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def served_soon(
    made: MadeKit, check: Callable[[x509.Certificate], bool], timeout: float = 60.0
) -> x509.Certificate:
    """Poll until the leaf served for NAME satisfies ``check``."""
    deadline = time.monotonic() + timeout
    leaf = served(made, NAME)
    while not check(leaf) and time.monotonic() < deadline:
        time.sleep(0.5)
        leaf = served(made, NAME)
    assert check(leaf), f"{leaf.issuer.rfc4514_string()} serial {leaf.serial_number:x}"
    return leaf


def from_pebble(leaf: x509.Certificate) -> bool:
    return "Pebble Intermediate CA" in leaf.issuer.rfc4514_string()


def acme_log(made: MadeKit, since: str | None = None) -> str:
    return made.kit.compose("logs", "--no-log-prefix", *(["--since", since] if since else []),
                            "acme").stdout  # fmt: skip


def test_the_public_name_gets_a_pebble_certificate_and_localhost_keeps_the_local_ca(
    made: tuple[MadeKit, Pebble], tmp_path: Path
) -> None:
    kit, pebble = made
    served_soon(kit, from_pebble)
    kit.served_leaf(NAME, pebble.root(tmp_path))  # verifies against Pebble's root, for NAME
    kit.served_leaf("localhost", kit.ca)  # the local CA still serves every other name
    kit.served_leaf("127.0.0.1", kit.ca)
    with pytest.raises(ssl.SSLCertVerificationError):
        kit.served_leaf(NAME, kit.ca)  # the control: NAME is not the local CA's
    log = acme_log(kit)
    assert f"ACME account {pebble.directory.removesuffix('/dir')}" in log and ": made" in log


def test_the_certificate_is_renewed_without_a_proxy_restart(
    made: tuple[MadeKit, Pebble], tmp_path: Path
) -> None:
    kit, pebble = made
    client = docker.from_env()
    proxy_before = service_container(client, kit.kit, "proxy").attrs["State"]["StartedAt"]
    first = served_soon(kit, from_pebble)
    renewed = served_soon(
        kit, lambda leaf: from_pebble(leaf) and leaf.serial_number != first.serial_number
    )
    kit.served_leaf(NAME, pebble.root(tmp_path))
    proxy = service_container(client, kit.kit, "proxy").attrs
    assert proxy["State"]["StartedAt"] == proxy_before and proxy["RestartCount"] == 0
    assert "it is past two thirds of its lifetime" in acme_log(kit)
    assert renewed.not_valid_after_utc > first.not_valid_after_utc


def test_a_validation_that_cannot_succeed_keeps_the_pair_and_says_why(
    made: tuple[MadeKit, Pebble],
) -> None:
    kit, pebble = made
    pebble.point(NAME, "127.0.0.2")  # DNS leads where nothing answers on the HTTP port
    try:
        time.sleep(2)  # an order begun before the change finishes first
        kept = served(kit, NAME)
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        deadline = time.monotonic() + 60
        while "failed;" not in acme_log(kit, since) and time.monotonic() < deadline:
            time.sleep(0.5)
        log = acme_log(kit, since)
        assert (
            f"obtaining a certificate for {NAME} failed; the served certificate is unchanged" in log
        )
        assert f"validation of {NAME} failed (connection:" in log
        assert "forward TCP ports 80 and 443" in log
        assert served(kit, NAME).serial_number == kept.serial_number
    finally:
        pebble.point(NAME, None)


def test_the_account_key_survives_make_down_and_make_up(made: tuple[MadeKit, Pebble]) -> None:
    kit, _ = made
    digest = ["sha256sum", "/acme/account/account-key.pem"]
    before = kit.kit.compose("exec", "-T", "acme", *digest).stdout
    found = re.search(r"ACME account (\S+) at", acme_log(kit))
    assert found is not None
    account = found[1]
    kit.make("down")
    kit.make("up")
    assert kit.kit.compose("exec", "-T", "acme", *digest).stdout == before
    served_soon(kit, from_pebble)
    assert f"ACME account {account} at" in acme_log(kit)
    assert "found again with the key in the volume" in acme_log(kit)
    assert "made the ACME account key" not in acme_log(kit)

"""TLS judged by others: sslyze checks the proxy against Mozilla's profiles.

sslyze (a scanner the project did not write) runs from its own virtualenv, because
it pins an older `cryptography` than the proxy does: `SSLYZE` names the program,
default `.cache/sslyze/bin/sslyze` (docs/testing.md says how to make it). It trusts
only the kit's CA (`--certinfo_ca_file`). The modern profile is checked on a second
proxy container started from the same image with `profile = "modern"`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from .conftest import ROOT, Kit, service_container
from .stack_probes import extra_proxy, get_request, read_answer, record, send_raw

SSLYZE = os.environ.get("SSLYZE", str(ROOT / ".cache/sslyze/bin/sslyze"))


def sslyze_program() -> str:
    found = shutil.which(SSLYZE)
    if found:
        return found
    message = f"sslyze not found at {SSLYZE} (docs/testing.md: make its virtualenv)"
    if os.environ.get("CI"):
        pytest.fail(message)  # in CI a missing scanner is a failure, not a skip
    pytest.skip(message)


def sslyze(
    port: int, ca: Path, profile: str, out: Path
) -> tuple[subprocess.CompletedProcess[str], Any]:
    """Scan 127.0.0.1:port as "localhost" against one Mozilla profile; JSON result too."""
    result = subprocess.run(
        [
            sslyze_program(),
            f"--mozilla_config={profile}",
            f"--certinfo_ca_file={ca}",
            f"--json_out={out}",
            f"localhost:{port}{{127.0.0.1}}",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return result, json.loads(out.read_text())


def accepted(scan: Any, protocol: str) -> list[str]:
    result = scan["server_scan_results"][0]["scan_result"][f"{protocol}_cipher_suites"]["result"]
    return [s["cipher_suite"]["name"] for s in result["accepted_cipher_suites"]]


@pytest.fixture(scope="module")
def intermediate_scan(stack: Kit, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    out = tmp_path_factory.mktemp("sslyze") / "intermediate.json"
    return sslyze(stack.https_port, stack.ca, "intermediate", out)


def test_sslyze_finds_the_proxy_compliant_with_mozilla_intermediate(
    intermediate_scan: tuple[subprocess.CompletedProcess[str], Any],
) -> None:
    result, _ = intermediate_scan
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert ": OK - Compliant." in result.stdout
    record("TLS compliance (sslyze)", "intermediate")


@pytest.mark.parametrize("protocol", ["ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"])
def test_sslyze_finds_legacy_protocol_refused(
    intermediate_scan: tuple[subprocess.CompletedProcess[str], Any], protocol: str
) -> None:
    _, scan = intermediate_scan
    assert accepted(scan, protocol) == []
    record("TLS versions refused", protocol)


@pytest.mark.parametrize("protocol", ["tls_1_2", "tls_1_3"])
def test_sslyze_control_current_protocol_accepted(
    intermediate_scan: tuple[subprocess.CompletedProcess[str], Any], protocol: str
) -> None:
    """Proves the scan saw the server: the protocols it must speak are accepted."""
    _, scan = intermediate_scan
    assert accepted(scan, protocol)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
@pytest.mark.parametrize(
    "version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1], ids=["tls1.0", "tls1.1"]
)
def test_python_tls_1_0_and_1_1_handshakes_are_refused(stack: Kit, version: ssl.TLSVersion) -> None:
    ctx = stack.ssl_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let OpenSSL offer the old versions at all
    ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            ctx.wrap_socket(raw, server_hostname="localhost")


def test_plain_http_on_https_port_gets_closed_and_proxy_keeps_serving(stack: Kit) -> None:
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as sock:
        sock.sendall(get_request("/"))
        answer = read_answer(sock)  # an answer or a close, both harmless, within the timeout
    assert answer.status in (None, 400), answer
    assert answer.closed or answer.status == 400
    assert send_raw(stack, get_request("/healthz")).status == 200
    record("bad inputs tried", "plain HTTP on the HTTPS port")


@pytest.fixture(scope="module")
def modern_proxy(
    stack: Kit, docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """A second proxy from the kit's image with `profile = "modern"`, on a free loopback port."""
    folder = tmp_path_factory.mktemp("modern")
    edit = ('profile = "${TLS_PROFILE:-intermediate}"', 'profile = "modern"')
    with extra_proxy(docker_client, stack, folder, edit) as port:
        yield port


def test_sslyze_finds_modern_profile_compliant_with_mozilla_modern(
    stack: Kit, modern_proxy: int, tmp_path: Path
) -> None:
    result, scan = sslyze(modern_proxy, stack.ca, "modern", tmp_path / "modern.json")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert ": OK - Compliant." in result.stdout
    assert accepted(scan, "tls_1_2") == [] and accepted(scan, "tls_1_3")
    record("TLS compliance (sslyze)", "modern")


def test_sslyze_finds_intermediate_proxy_not_modern(stack: Kit, tmp_path: Path) -> None:
    """Proves the modern check can fail: the default (intermediate) proxy is not modern."""
    result, _ = sslyze(stack.https_port, stack.ca, "modern", tmp_path / "not-modern.json")
    assert result.returncode != 0
    assert ": OK - Compliant." not in result.stdout
    assert "FAILED - Not compliant." in result.stdout, result.stdout[-3000:]


def test_proxy_container_cannot_read_the_ca_private_key(
    stack: Kit, docker_client: docker.DockerClient
) -> None:
    assert not readable_in_proxy(stack, docker_client, "/certs/ca-key.pem")


def test_control_proxy_container_reads_its_server_key(
    stack: Kit, docker_client: docker.DockerClient
) -> None:
    """Proves the probe above can see a readable file: the key the proxy must read."""
    assert readable_in_proxy(stack, docker_client, "/certs/server-key.pem")


def readable_in_proxy(stack: Kit, client: docker.DockerClient, path: str) -> bool:
    proxy = service_container(client, stack, "proxy")
    code, _ = proxy.exec_run(["python3", "-c", f"open({path!r}, 'rb').read(1)"])
    return code == 0

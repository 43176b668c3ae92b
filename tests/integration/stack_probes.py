"""Shared probes for the whole-stack security, fault and bad-input tests (test_stack_*.py).

Owns: raw request exchanges with the proxy (bytes on a socket, so no HTTP library
repairs a malformed request before it leaves), the evidence that a request did or
did not reach the blog (a unique marker in its path, looked for in the blog
container's aiohttp access log), fresh container look-ups (the fault tests restart
and recreate containers, so a session-wide container object may be stale), and the
session summary printed by `pytest_terminal_summary`.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import ssl
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import pytest
from docker.models.containers import Container

from .images import PROXY_IMAGE

if TYPE_CHECKING:  # conftest may import this module for the summary hook: no import cycle
    from .conftest import Kit

ROOT = Path(__file__).resolve().parents[2]
STATUS_LINE = re.compile(rb"^(HTTP/\d\.\d) (\d{3}) ")


@dataclass(frozen=True)
class Answer:
    """What came back for a raw request: the status (None: closed without an answer)."""

    status: int | None
    head: bytes
    closed: bool
    version: bytes = b""
    after: bytes = b""  # anything sent after the first response: a second answer is smuggling
    body: bytes = b""

    def leaks(self) -> list[str]:
        """What an error page must never show (docs/proxy.md): addresses, exceptions, traces."""
        text = (self.head + b"\r\n" + self.body).decode(errors="replace")
        return LEAK.findall(text)


# Backend names and addresses, exception and errno text, Python traces, file paths.
LEAK = re.compile(
    r"\bblog:4334\b|\b(?:\d{1,3}\.){3}\d{1,3}\b|Traceback|Errno|Error\(|Exception|File \"/"
)


def marker() -> str:
    """A path segment no other request carries, to find one request in the blog's log."""
    return f"stack-probe-{uuid.uuid4().hex}"


def tls_socket(kit: Kit, *, timeout: float = 10.0) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", kit.https_port), timeout=timeout)
    return kit.ssl_context().wrap_socket(raw, server_hostname="localhost")


def read_answer(sock: socket.socket) -> Answer:
    """Read one response head (and its Content-Length body) or until the peer closes."""
    data = b""
    closed = False
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
        while length and not closed and len(body) < int(length.group(1)):
            chunk = sock.recv(65536)
            closed = not chunk
            body += chunk
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        closed = True
    head = data.partition(b"\r\n\r\n")[0]
    status = STATUS_LINE.match(head)
    if not status:
        return Answer(None, head, closed)
    return Answer(int(status.group(2)), head, closed, status.group(1), body=body)


def read_rest(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """What else arrives within `timeout`, and whether the peer closed."""
    sock.settimeout(timeout)
    rest = b""
    try:
        while chunk := sock.recv(65536):
            rest += chunk
    except TimeoutError:
        return rest, False
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        pass
    return rest, True


def send_raw(kit: Kit, request: bytes, *, timeout: float = 10.0, linger: float = 0.0) -> Answer:
    """Send bytes exactly as given over TLS and read what the proxy answers.

    With `linger`, keep reading that long after the answer: whatever else comes is
    in `after`, and `closed` says whether the proxy closed the connection.
    """
    with tls_socket(kit, timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            pass  # the proxy may answer and close before a large request is all sent
        answer = read_answer(sock)
        if linger and not answer.closed:
            after, closed = read_rest(sock, linger)
            answer = dataclasses.replace(answer, after=after, closed=closed)
        return answer


def blog(client: docker.DockerClient, kit: Kit) -> Container:
    from .conftest import service_container

    return service_container(client, kit, "blog")


def blog_log(client: docker.DockerClient, kit: Kit) -> str:
    return blog(client, kit).logs(stdout=True, stderr=True).decode(errors="replace")


def wait_for_blog_log(
    client: docker.DockerClient, kit: Kit, needle: str, timeout: float = 10.0
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in blog_log(client, kit):
            return True
        time.sleep(0.2)
    return False


def assert_never_reached_blog(client: docker.DockerClient, kit: Kit, bad: str) -> None:
    """A control request sent after the bad one must appear in the blog's log, the bad one not.

    The control proves the log is read and up to date, so absence is evidence.
    """
    control = marker()
    answer = send_raw(kit, get_request(f"/{control}"))
    assert answer.status == 404, answer  # the blog's own 404 for an unknown path
    assert wait_for_blog_log(client, kit, control), "control request not in the blog's log"
    assert bad not in blog_log(client, kit), f"{bad} reached the blog"


def get_request(path: str, *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: localhost", *extra, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@contextmanager
def extra_proxy(
    client: docker.DockerClient,
    kit: Kit,
    folder: Path,
    *edits: tuple[str, str],
    internal: bool = False,
) -> Iterator[int]:
    """A second proxy from the kit's image, its proxy.toml edited, on a free loopback port.

    `internal` joins it to the kit's internal network too, so it reaches the blog.
    Yields the published HTTPS port; the container is removed at the end.
    """
    config = (ROOT / "services/proxy/proxy.toml").read_text()
    for old, new in edits:
        assert old in config, f"{old!r} not in proxy.toml"
        config = config.replace(old, new)
    (folder / "proxy.toml").write_text(config)
    (folder / "proxy.toml").chmod(0o644)
    container = client.containers.run(
        PROXY_IMAGE,
        detach=True,
        user="10001:10001",
        read_only=True,
        cap_drop=["ALL"],
        tmpfs={"/tmp": "size=16m"},
        network=f"{kit.project}_public",
        volumes={
            str(folder / "proxy.toml"): {"bind": "/etc/tlsproxy/proxy.toml", "mode": "ro"},
            f"{kit.project}_certs-served": {"bind": "/certs", "mode": "ro"},
        },
        ports={"8443/tcp": ("127.0.0.1", None)},
        labels={"blogkit-test": kit.project},
    )
    try:
        if internal:
            client.networks.get(f"{kit.project}_internal").connect(container)
        yield wait_for_tls(container)
    finally:
        container.remove(force=True)


def wait_for_tls(container: Container, timeout: float = 30.0) -> int:
    """The published port once the container speaks TLS on it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            raise AssertionError(container.logs().decode())
        bindings = container.ports.get("8443/tcp")
        if bindings:
            port = int(bindings[0]["HostPort"])
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
                    ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
            except ssl.SSLCertVerificationError:
                return port  # it speaks TLS (trust is the caller's business)
            except OSError:
                pass
        time.sleep(0.3)
    raise AssertionError(f"extra proxy not answering: {container.logs().decode()}")


# The session summary: tests record what they proved; the hook prints it at the end.
SUMMARY: dict[str, list[str]] = defaultdict(list)


def record(topic: str, item: str) -> None:
    SUMMARY[topic].append(item)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Register from conftest (`from .stack_probes import pytest_terminal_summary`)."""
    if not SUMMARY:
        return
    terminalreporter.section("whole-stack summary")
    for topic, items in SUMMARY.items():
        counted = Counter(items)  # "400 x21" rather than twenty-one "400"s
        kinds = ", ".join(f"{item} x{n}" if n > 1 else item for item, n in counted.items())
        terminalreporter.write_line(f"{topic}: {len(items)} ({kinds})")
    if "writes acknowledged" in SUMMARY:
        lost = SUMMARY.get("writes lost", [])
        terminalreporter.write_line(f"writes lost: {len(lost)}")

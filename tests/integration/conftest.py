"""The whole kit under docker compose, brought up once per test session.

The stack runs as its own compose project on free loopback ports, from no volumes
at all, so it never collides with a kit started by `make up`: its certs service
makes a new CA on the first start, exactly as a plain `docker compose up` does.
Trust comes only from that CA (ca.pem, copied out of the certs service):
verification is never disabled.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import docker
import pytest
from docker.models.containers import Container

from .images import ACME_IMAGE, BLOG_IMAGE, PROXY_IMAGE

# The whole-stack summary (TLS compliance, faults survived, writes lost) at the end.
from .stack_probes import pytest_terminal_summary  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
IMAGES = (PROXY_IMAGE, BLOG_IMAGE, ACME_IMAGE)
OWNER = "owner"
OWNER_PASSWORD = "correct horse battery staple 42"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.integration)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Kit:
    project: str
    https_port: int
    http_port: int
    workdir: Path  # the test's own files: ca.pem once the stack is up
    env: dict[str, str] = field(default_factory=dict)  # compose variables of this kit

    @classmethod
    def new(cls, project: str, workdir: Path, **settings: str) -> Kit:
        """A kit on free loopback ports; ``settings`` are further compose variables."""
        https_port, http_port = free_port(), free_port()
        env = {
            "HTTPS_PORT": str(https_port),
            "HTTP_PORT": str(http_port),
            "PUBLISH_ADDRESS": "127.0.0.1",
            "PUBLISH_ADDRESS_V6": "::1",  # both families, loopback only
            "BLOG_PUBLIC_URL": f"https://localhost:{https_port}",  # for the setup link
            **settings,
        }
        return cls(project, https_port, http_port, workdir, env)

    @property
    def ca(self) -> Path:
        return self.workdir / "ca.pem"

    def url(self, path: str = "/") -> str:
        return f"https://localhost:{self.https_port}{path}"

    def compose(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "compose", "-p", self.project, *args],
            cwd=ROOT,
            env={**os.environ, **self.env},
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )

    def copy_ca_out(self) -> None:
        """What a user does to trust the kit: copy ca.pem out of the certs service."""
        self.compose("cp", "certs:/certs/ca.pem", str(self.ca))

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    """Ports, project name and certificates, exported for compose to read."""
    client = docker.from_env()
    for image in IMAGES:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            subprocess.run([ROOT / "scripts/build-images.sh"], check=True)
            break
    kit = Kit.new(f"blogkit-test-{os.getpid()}", tmp_path_factory.mktemp("kit"))
    os.environ.update(kit.env)  # pytest-docker runs compose with this process's environment
    return kit


# pytest-docker's hooks: our compose file, project and commands.
@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(ROOT / "compose.yaml")


@pytest.fixture(scope="session")
def docker_compose_project_name(kit: Kit) -> str:
    return kit.project


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    return ["up -d --wait"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["down -v --remove-orphans"]


@pytest.fixture(scope="session")
def stack(kit: Kit, docker_services: object) -> Kit:
    """The running stack (healthy: `up --wait` returned), its CA copied out."""
    kit.copy_ca_out()
    return kit


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


def service_container(client: docker.DockerClient, kit: Kit, service: str) -> Container:
    found = client.containers.list(
        filters={
            "label": [
                f"com.docker.compose.project={kit.project}",
                f"com.docker.compose.service={service}",
            ]
        }
    )
    assert len(found) == 1, f"expected one running {service} container, got {found}"
    return found[0]


@pytest.fixture(scope="session")
def blog_container(stack: Kit, docker_client: docker.DockerClient) -> Container:
    return service_container(docker_client, stack, "blog")


@pytest.fixture(scope="session")
def proxy_container(stack: Kit, docker_client: docker.DockerClient) -> Container:
    return service_container(docker_client, stack, "proxy")


@pytest.fixture(scope="session")
def owner(stack: Kit) -> tuple[str, str]:
    """The first admin, made the documented way: blogctl inside the blog container."""
    stack.compose(
        "exec",
        "-T",
        "blog",
        "blogctl",
        "user",
        "add",
        OWNER,
        "--admin",
        "--password-stdin",
        stdin=OWNER_PASSWORD + "\n",
    )
    return OWNER, OWNER_PASSWORD


@pytest.fixture
async def https(stack: Kit) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client trusting only the kit's CA, with its own cookie jar."""
    connector = aiohttp.TCPConnector(ssl=stack.ssl_context())
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session

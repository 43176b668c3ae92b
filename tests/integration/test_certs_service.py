"""The certificate split: the CA key lives only in the networkless certs service.

Each probe runs on the proxy, which must fail it, and on the certs service as the
control that shows the probe can see what it looks for.
"""

from __future__ import annotations

import io
import tarfile

import docker
import pytest
from docker.models.containers import Container

from .conftest import Kit, service_container


def mounted_files(container: Container) -> dict[str, bytes]:
    """Every file under every mount of ``container``, read through the docker SDK."""
    files: dict[str, bytes] = {}
    for mount in container.attrs["Mounts"]:
        stream, _ = container.get_archive(mount["Destination"])
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            for member in archive.getmembers():
                handle = archive.extractfile(member) if member.isfile() else None
                if handle is not None:
                    files[f"{mount['Destination']}:{member.name}"] = handle.read()
    return files


def ca_key(client: docker.DockerClient, kit: Kit) -> bytes:
    certs = service_container(client, kit, "certs")
    stream, _ = certs.get_archive("/certs/ca-key.pem")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        handle = archive.extractfile("ca-key.pem")
        assert handle is not None
        return handle.read()


@pytest.mark.parametrize(("service", "holds_the_ca_key"), [("proxy", False), ("certs", True)])
def test_only_the_certs_service_has_the_ca_key_mounted(
    stack: Kit, docker_client: docker.DockerClient, service: str, holds_the_ca_key: bool
) -> None:
    key = ca_key(docker_client, stack)
    assert b"PRIVATE KEY" in key
    files = mounted_files(service_container(docker_client, stack, service))
    assert any(name.endswith("server-key.pem") for name in files)  # the probe reads mounts
    holding = [name for name, content in files.items() if key.strip() in content]
    assert bool(holding) == holds_the_ca_key, holding


def test_the_proxy_mounts_only_the_served_volumes_read_only(
    stack: Kit, docker_client: docker.DockerClient
) -> None:
    mounts = service_container(docker_client, stack, "proxy").attrs["Mounts"]
    assert sorted((m["Name"], m["Destination"], m["RW"]) for m in mounts) == [
        (f"{stack.project}_acme-certs", "/acme/certs", False),
        (f"{stack.project}_acme-challenges", "/acme/challenges", False),
        (f"{stack.project}_certs-served", "/certs", False),
    ]


@pytest.mark.parametrize(("service", "interfaces"), [("certs", {"lo"}), ("proxy", None)])
def test_the_certs_service_has_no_network_but_loopback(
    stack: Kit, docker_client: docker.DockerClient, service: str, interfaces: set[str] | None
) -> None:
    container = service_container(docker_client, stack, service)
    code, output = container.exec_run(["cat", "/proc/net/dev"])
    assert code == 0
    found = {line.split(":")[0].strip() for line in output.decode().splitlines()[2:]}
    if interfaces is None:  # the control: the proxy has more than loopback
        assert found - {"lo"}, found
    else:
        assert found == interfaces
        assert container.attrs["HostConfig"]["NetworkMode"] == "none"


@pytest.mark.parametrize("service", ["certs", "acme"])
def test_the_key_holding_services_run_without_privileges(
    stack: Kit, docker_client: docker.DockerClient, service: str
) -> None:
    host_config = service_container(docker_client, stack, service).attrs["HostConfig"]
    assert host_config["ReadonlyRootfs"] is True
    assert host_config["CapDrop"] == ["ALL"] and not host_config["CapAdd"]
    assert "no-new-privileges:true" in host_config["SecurityOpt"]
    config = service_container(docker_client, stack, service).attrs["Config"]
    assert config["User"] not in ("", "0", "root")

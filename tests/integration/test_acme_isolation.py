"""The acme service (issue 16) in the default kit: idle without ACME_DOMAINS, on the
public network only, with its own volumes and nothing of the local CA or the blog."""

from __future__ import annotations

import docker
import pytest

from .conftest import Kit, service_container
from .test_isolation import probe_from_container


def test_without_acme_domains_it_only_idles_and_makes_nothing(
    stack: Kit, docker_client: docker.DockerClient
) -> None:
    assert (
        "ACME is off (ACME_DOMAINS is empty): nothing to do" in stack.compose("logs", "acme").stdout
    )
    container = service_container(docker_client, stack, "acme")
    code, output = container.exec_run(
        ["find", "/acme/account", "/acme/certs", "/acme/challenges", "-type", "f"]
    )
    assert code == 0 and output == b""  # no account key, no certificate, no answer


def test_it_is_on_the_public_network_only(stack: Kit, docker_client: docker.DockerClient) -> None:
    def networks(service: str) -> set[str]:
        container = service_container(docker_client, stack, service)
        return set(container.attrs["NetworkSettings"]["Networks"])

    assert networks("acme") == {f"{stack.project}_public"}
    assert networks("proxy") == {f"{stack.project}_public", f"{stack.project}_internal"}


def test_it_mounts_its_own_volumes_and_nothing_of_the_ca_or_the_blog(
    stack: Kit, docker_client: docker.DockerClient
) -> None:
    mounts = service_container(docker_client, stack, "acme").attrs["Mounts"]
    found = sorted((m.get("Name") or m["Source"], m["Destination"], m["RW"]) for m in mounts)
    assert found == [
        ("/dev/null", "/etc/acme/directory-ca.pem", False),  # ACME_CA_BUNDLE unset
        (f"{stack.project}_acme-account", "/acme/account", True),
        (f"{stack.project}_acme-certs", "/acme/certs", True),
        (f"{stack.project}_acme-challenges", "/acme/challenges", True),
    ]


@pytest.mark.parametrize(("service", "reaches"), [("acme", False), ("proxy", True)])
def test_it_cannot_reach_the_blog(
    stack: Kit, docker_client: docker.DockerClient, service: str, reaches: bool
) -> None:
    """The proxy is the control: the same probe reaches the blog from there."""
    result = probe_from_container(service_container(docker_client, stack, service), "blog", 4334)
    assert result["connected"] is reaches, result

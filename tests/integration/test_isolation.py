"""The blog is on an internal network only: nothing outside reaches in, it reaches nothing out.

Each "cannot connect" check has a control that connects the same way to a target
that is reachable, so a broken probe cannot pass for isolation.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator

import docker
import pytest
from docker.models.containers import Container

from .conftest import Kit
from .images import PROXY_IMAGE

PROBE = """
import json, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection((host, port), timeout=3).close()
    print(json.dumps({"connected": True}))
except OSError as exc:
    print(json.dumps({"connected": False, "error": repr(exc)}))
"""


def probe_from_container(container: Container, host: str, port: int) -> dict[str, object]:
    code, output = container.exec_run(["python3", "-c", PROBE, host, str(port)])
    assert code == 0, output
    return json.loads(output)


def probe_on_network(
    client: docker.DockerClient, network: str, host: str, port: int
) -> dict[str, object]:
    """A fresh container on `network` tries to connect (the kit's image has Python)."""
    output = client.containers.run(
        PROXY_IMAGE,
        ["python3", "-c", PROBE, host, str(port)],
        network=network,
        remove=True,
        user="10001",
    )
    return json.loads(output)


def network_ip(container: Container, network: str) -> str:
    container.reload()
    return container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]


@pytest.fixture(scope="module")
def host_listener() -> Iterator[int]:
    """A TCP server on the host, on every address, accepting until the module ends."""
    server = socket.create_server(("0.0.0.0", 0))
    server.settimeout(0.5)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    server.close()


def test_blog_publishes_no_port_and_joins_only_the_internal_network(
    stack: Kit, blog_container: Container, docker_client: docker.DockerClient
) -> None:
    blog_container.reload()
    assert blog_container.attrs["HostConfig"]["PortBindings"] in ({}, None)
    assert all(not bindings for bindings in blog_container.ports.values())
    networks = list(blog_container.attrs["NetworkSettings"]["Networks"])
    assert networks == [f"{stack.project}_internal"]
    assert docker_client.networks.get(networks[0]).attrs["Internal"] is True


def test_proxy_joins_both_networks_and_publishes_only_https_and_http(
    stack: Kit, proxy_container: Container
) -> None:
    proxy_container.reload()
    networks = set(proxy_container.attrs["NetworkSettings"]["Networks"])
    assert networks == {f"{stack.project}_internal", f"{stack.project}_public"}
    published = {
        port: sorted((b["HostIp"], b["HostPort"]) for b in bindings)
        for port, bindings in proxy_container.ports.items()
        if bindings
    }
    # On both address families (the test stack: loopback of each), and nothing else.
    assert published == {
        "8443/tcp": [("127.0.0.1", str(stack.https_port)), ("::1", str(stack.https_port))],
        "8080/tcp": [("127.0.0.1", str(stack.http_port)), ("::1", str(stack.http_port))],
    }


@pytest.mark.parametrize("service", ["blog", "proxy"])
def test_services_run_as_non_root_with_no_capabilities(
    stack: Kit, docker_client: docker.DockerClient, service: str
) -> None:
    from .conftest import service_container

    container = service_container(docker_client, stack, service)
    code, output = container.exec_run(["python3", "-c", "import os; print(os.getuid())"])
    assert code == 0 and int(output) != 0
    host_config = container.attrs["HostConfig"]
    assert host_config["CapDrop"] == ["ALL"] and host_config["ReadonlyRootfs"] is True


def assert_on_this_host(address: str) -> None:
    """Probes go only to the kit's own bridges: refuse an address this host does not own."""
    with socket.socket() as sock:
        sock.bind((address, 0))  # OSError when the address is not one of this host's


def test_public_network_cannot_reach_blog(
    stack: Kit,
    docker_client: docker.DockerClient,
    blog_container: Container,
    proxy_container: Container,
) -> None:
    public = f"{stack.project}_public"
    internal = docker_client.networks.get(f"{stack.project}_internal")
    assert_on_this_host(internal.attrs["IPAM"]["Config"][0]["Gateway"])
    # Control: from the public network the proxy answers on its own address.
    assert probe_on_network(docker_client, public, network_ip(proxy_container, public), 8443)[
        "connected"
    ]
    blog_ip = network_ip(blog_container, internal.name)
    assert not probe_on_network(docker_client, public, "blog", 4334)["connected"]
    assert not probe_on_network(docker_client, public, blog_ip, 4334)["connected"]


def test_the_host_gets_no_page_from_the_blog_around_the_proxy(
    stack: Kit, docker_client: docker.DockerClient, blog_container: Container
) -> None:
    """Docker gives the internal network's bridge a host address, so the host can open a
    TCP connection to the blog (README: Isolation); the blog answers it only with 403,
    as it answers every peer that is neither its proxy nor its own loopback."""
    internal = f"{stack.project}_internal"
    gateway = docker_client.networks.get(internal).attrs["IPAM"]["Config"][0]["Gateway"]
    assert_on_this_host(gateway)  # the host has an address on that bridge
    connection = http.client.HTTPConnection(network_ip(blog_container, internal), 4334, timeout=5)
    try:
        connection.request("GET", "/", headers={"X-Forwarded-For": "203.0.113.5"})
        answer = connection.getresponse()
        body = answer.read().decode()
    finally:
        connection.close()
    assert answer.status == 403, body[:300]
    assert "only through its reverse proxy" in body


def test_blog_reachable_from_proxy_only_inside(stack: Kit, proxy_container: Container) -> None:
    """Control for the test above: on the internal network the blog does answer."""
    assert probe_from_container(proxy_container, "blog", 4334)["connected"]


def test_blog_cannot_reach_the_public_network(
    stack: Kit,
    docker_client: docker.DockerClient,
    blog_container: Container,
    proxy_container: Container,
) -> None:
    public = docker_client.networks.get(f"{stack.project}_public")
    assert_on_this_host(public.attrs["IPAM"]["Config"][0]["Gateway"])
    proxy_public_ip = network_ip(proxy_container, public.name)
    # Control: from the public network the proxy's public address answers.
    assert probe_on_network(docker_client, public.name, proxy_public_ip, 8443)["connected"]
    result = probe_from_container(blog_container, proxy_public_ip, 8443)
    assert not result["connected"], result


@pytest.mark.xfail(
    strict=True,
    reason="Docker Engine 20.10 gives an internal network's bridge a host address, so host "
    "services listening on all addresses are reachable from the blog (README: Isolation)",
)
def test_blog_cannot_reach_services_on_the_host(
    stack: Kit,
    docker_client: docker.DockerClient,
    blog_container: Container,
    host_listener: int,
) -> None:
    internal = docker_client.networks.get(f"{stack.project}_internal")
    gateway = internal.attrs["IPAM"]["Config"][0]["Gateway"]
    assert_on_this_host(gateway)
    result = probe_from_container(blog_container, gateway, host_listener)
    assert not result["connected"], result

"""Issue 16, the README's own sequence: ``make up`` with the defaults, then the names
other devices use added to CERT_HOSTS and ``make up`` again. The same certs/ca.pem
verifies every name; a public name is refused with the way on, and nothing changes.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from .conftest import ROOT, Kit
from .made_kit import INHERITED_OUT, MadeKit

FIRST = ["localhost", "127.0.0.1", "::1"]
SECOND_DEVICE = "localhost,127.0.0.1,::1,blog.home.arpa,192.168.1.20"  # the README's line


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, kit: Kit) -> Iterator[MadeKit]:
    made = MadeKit.new(f"{kit.project}-lan", tmp_path_factory.mktemp("lan"))
    try:
        made.make("up")
        yield made
    finally:
        made.remove()


def volume_files(made: MadeKit) -> dict[str, str]:
    """Every file of the CA and served volumes with its SHA-256 (read by the certs image)."""
    listing = made.kit.compose(
        "run", "--rm", "--no-deps", "-T", "--entrypoint", "sh", "certs", "-c",
        "find /certs /served -type f | sort | xargs sha256sum",
    ).stdout  # fmt: skip
    return {path: digest for digest, path in (line.split() for line in listing.splitlines())}


def test_make_up_with_the_defaults_serves_the_first_names(made: MadeKit) -> None:
    for name in FIRST:
        made.served_leaf(name, made.ca)
    # Both address families are published: the IPv6 loopback verifies the same way.
    made.served_leaf("::1", made.ca, address="::1")


def test_a_second_device_is_added_without_a_new_ca(made: MadeKit) -> None:
    ca_before = made.ca.read_bytes()
    made.set(CERT_HOSTS=SECOND_DEVICE)
    made.make("up")
    assert made.ca.read_bytes() == ca_before  # every device keeps trusting the same CA
    for name in SECOND_DEVICE.split(","):
        made.served_leaf(name, made.ca)
    made.served_leaf("blog.home.arpa", made.ca, address="::1")


def test_a_public_name_is_refused_with_the_way_on_and_nothing_changes(made: MadeKit) -> None:
    before = volume_files(made)
    exported = {p.name: p.read_bytes() for p in made.kit.workdir.iterdir() if p.is_file()}
    served = made.served_leaf("blog.home.arpa", made.ca)
    env_before = made.env_file.read_text()
    made.set(CERT_HOSTS=SECOND_DEVICE + ",blog.example.com")
    result = made.make("up", check=False)
    assert result.returncode == 2
    message = " ".join(result.stderr.split())  # one paragraph, however it is wrapped
    for part in (
        "error: The CA may not sign for blog.example.com: its name constraints permit",
        "ACME_DOMAINS",
        "`make new-ca` (without make: `docker compose run --rm certs ensure --new-ca`)",
        "CERT_PERMIT",
        "each must trust the new ca.pem again",
        "Nothing was changed.",
    ):
        assert part in message, result.stderr
    assert volume_files(made) == before
    after = {p.name: p.read_bytes() for p in made.kit.workdir.iterdir() if p.is_file()}
    assert {k: v for k, v in after.items() if k != "kit.env"} == {
        k: v for k, v in exported.items() if k != "kit.env"
    }
    assert made.served_leaf("blog.home.arpa", made.ca) == served
    made.env_file.write_text(env_before)


# (settings, the proxy's published bindings): the default, this machine only, IPv6 off
PUBLISHED = [
    ({}, [("0.0.0.0", 8080), ("0.0.0.0", 8443), ("::", 8080), ("::", 8443)]),
    ({"PUBLISH_ADDRESS": "127.0.0.1", "PUBLISH_ADDRESS_V6": "::1"},
     [("127.0.0.1", 8080), ("127.0.0.1", 8443), ("::1", 8080), ("::1", 8443)]),
    ({"PUBLISH_ADDRESS_V6": "0.0.0.0"}, [("0.0.0.0", 8080), ("0.0.0.0", 8443)]),
]  # fmt: skip


@pytest.mark.parametrize(("settings", "bindings"), PUBLISHED)
def test_both_address_families_are_published_unless_told_otherwise(
    settings: dict[str, str], bindings: list[tuple[str, int]]
) -> None:
    environment = {k: v for k, v in os.environ.items() if k not in INHERITED_OUT}
    config = subprocess.run(
        ["docker", "compose", "config", "--format", "json"],
        cwd=ROOT, env={**environment, **settings}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    ports = json.loads(config.stdout)["services"]["proxy"]["ports"]
    assert sorted((p["host_ip"], p["target"]) for p in ports) == bindings

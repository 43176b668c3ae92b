"""A kit driven the way the README says: ``make up`` with settings in an env file.

The file is the test's own (make's ENV_FILE), as is the folder ``make`` copies
``ca.pem`` into (EXPORT_DIR), so a developer's .env and certs/ are never touched;
the ports are free loopback ports on both address families, and the compose project
is the test's own (COMPOSE_PROJECT_NAME), removed with its volumes at the end.
"""

from __future__ import annotations

import os
import shlex
import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .conftest import ROOT, Kit
from .images import IMAGE_TAG

# The kit's variables, never inherited by a made kit, whose settings come from its env
# file alone: those a test session exports for its own stack (conftest), and every one
# .env.example names (`make test` exports them, empty or from a developer's .env, and a
# value in the environment wins over the env file's, as with docker compose).
INHERITED_OUT = frozenset(
    ("HTTPS_PORT", "HTTP_PORT", "PUBLISH_ADDRESS", "PUBLISH_ADDRESS_V6", "BLOG_PUBLIC_URL")
) | frozenset(
    line.split("=", 1)[0].strip()
    for line in (ROOT / ".env.example").read_text().splitlines()
    if "=" in line and not line.lstrip().startswith("#")
)


@dataclass
class MadeKit:
    kit: Kit
    env_file: Path

    @classmethod
    def new(cls, project: str, workdir: Path, **settings: str) -> MadeKit:
        kit = Kit.new(project, workdir)
        made = cls(kit, workdir / "kit.env")
        made.env_file.write_text("")
        made.set(**{k: v for k, v in kit.env.items() if k != "BLOG_PUBLIC_URL"}, **settings)
        return made

    @property
    def ca(self) -> Path:
        """certs/ca.pem as ``make`` leaves it for the user."""
        return self.kit.workdir / "ca.pem"

    def set(self, **settings: str) -> None:
        """Add or change lines of the env file, as a user edits .env."""
        lines = [line for line in self.env_file.read_text().splitlines() if line]
        for name, value in settings.items():
            lines = [line for line in lines if not line.startswith(f"{name}=")]
            lines.append(f"{name}={value}")
        self.env_file.write_text("\n".join(lines) + "\n")

    def make(self, *targets: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if k not in INHERITED_OUT}
        environment.update(COMPOSE_PROJECT_NAME=self.kit.project, IMAGE_TAG=IMAGE_TAG)
        command = ["make", "-C", str(ROOT), f"ENV_FILE={self.env_file}",
                   f"EXPORT_DIR={self.kit.workdir}", *targets]  # fmt: skip
        result = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=600
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{shlex.join(command)} exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def remove(self) -> None:
        self.kit.compose("down", "-v", "--remove-orphans")

    def served_leaf(self, name: str, cafile: Path, address: str = "127.0.0.1") -> bytes:
        """The leaf served for ``name`` (SNI, or the IP checked), verified against ``cafile``."""
        context = ssl.create_default_context(cafile=str(cafile))
        with socket.create_connection((address, self.kit.https_port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                leaf = tls.getpeercert(binary_form=True)
        assert leaf is not None
        return leaf

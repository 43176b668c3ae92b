"""The pinned server processes: started once, idle while another one is measured.

Every process is started under ``taskset`` so the proxy under test (ours or nginx)
owns its core and the load generator, the backend and the blog share the other.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .setup import LOOPBACK, PROJECT_PYTHON, REPO


class StartError(RuntimeError):
    """A server did not start listening; the message holds the tail of its log."""


@dataclass(frozen=True)
class Cores:
    proxy: int  # ours or nginx, alone
    client: int  # load generator, backend, blog

    def pin(self, command: Sequence[str], core: int) -> list[str]:
        return ["taskset", "-c", str(core), *command]


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def project_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


def wait_listening(server: Server, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, server.port), 0.5):
            return
        time.sleep(0.1)
    tail = server.log.read_text(errors="replace")[-2000:] if server.log.exists() else ""
    raise StartError(f"{server.name} did not listen on {LOOPBACK}:{server.port}:\n{tail}")


class Servers:
    """Starts servers and stops every one of them on exit (SIGTERM, then SIGKILL)."""

    def __init__(self, workdir: Path, cores: Cores) -> None:
        self.workdir = workdir
        self.cores = cores
        self.started: list[Server] = []

    def start(
        self,
        name: str,
        command: Sequence[str],
        port: int,
        core: int,
        env: Mapping[str, str] | None = None,
    ) -> Server:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 - commands built here
                self.cores.pin(command, core),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=REPO,
                start_new_session=True,  # its own process group, stopped as one
            )
        server = Server(name, process, port, log)
        self.started.append(server)
        wait_listening(server)
        return server

    def python(
        self, name: str, args: Sequence[str], port: int, core: int, env: Mapping[str, str]
    ) -> Server:
        return self.start(name, [str(PROJECT_PYTHON), *args], port, core, project_env(env))

    def stop_all(self) -> None:
        for server in reversed(self.started):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
        for server in reversed(self.started):
            try:
                server.process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGKILL)
                server.process.wait()
        self.started.clear()


@contextlib.contextmanager
def running(workdir: Path, cores: Cores) -> Iterator[Servers]:
    servers = Servers(workdir, cores)
    try:
        yield servers
    finally:
        servers.stop_all()

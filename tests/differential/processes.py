"""Server processes of the suite: started in a session of their own, stopped by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"


class StartError(RuntimeError):
    """A server did not start listening; the message holds the tail of its log."""


def free_port() -> int:
    """A TCP port of the loopback address that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """One started server: its process, its combined stdout/stderr log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_tail(self, size: int = 3000, since: int = 0) -> str:
        """The end of the log, at most ``size`` characters, from byte ``since`` on."""
        if not self.log.exists():
            return ""
        with self.log.open("rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")[-size:]

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL after 10 s (only what we started)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


def start(
    name: str,
    command: Sequence[str],
    ports: Sequence[int],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Process:
    """Start ``command`` and wait until it listens on every one of ``ports``."""
    with log.open("wb") as out:
        popen = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # its own process group, stopped as one
        )
    process = Process(name, popen, log)
    try:
        for port in ports:
            _wait_listening(process, port)
    except StartError:
        process.stop()
        raise
    return process


def _wait_listening(process: Process, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.popen.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.5):
            return
        time.sleep(0.05)
    raise StartError(f"{process.name} did not listen on {LOOPBACK}:{port}:\n{process.log_tail()}")

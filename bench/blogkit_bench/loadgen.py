"""The load generators: ``wrk`` (keep-alive and new connections), ``curl`` (upload) and
``resume_client`` (resumed TLS sessions).

Each run returns a ``Load``: what was done in the window, measured by the client.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SUMMARY_SCRIPT = Path(__file__).with_name("summary.lua")


class LoadError(RuntimeError):
    """The load generator failed or the target answered with errors only."""


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    bytes: int  # response bytes read (wrk) or request body bytes sent (upload)
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0


def wrk(
    url: str,
    seconds: float,
    connections: int,
    core: int,
    headers: Sequence[str] = (),
) -> Load:
    command = ["taskset", "-c", str(core), "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s"]
    command += ["--timeout", "10s", "-s", str(SUMMARY_SCRIPT)]
    for header in headers:
        command += ["-H", header]
    done = subprocess.run(  # noqa: S603 - our own fixed command line
        [*command, url], capture_output=True, text=True, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise LoadError(f"wrk {url} failed ({done.returncode}): {done.stderr or done.stdout}")
    figures = json.loads(lines[-1])
    # With "Connection: close" wrk counts each close as a read error; not a failure.
    errors = figures["connect_errors"] + figures["status_errors"] + figures["timeouts"]
    if figures["requests"] == 0:
        raise LoadError(f"wrk {url}: no request completed:\n{done.stdout}")
    return Load(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        bytes=figures["bytes"],
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=errors,
    )


def upload(url: str, body: Path, size: int, ca: Path, core: int) -> Load:
    """PUT ``body`` once, streamed by curl; the answer is the byte count received."""
    command = ["taskset", "-c", str(core), "curl", "-sS", "--fail", "--cacert", str(ca)]
    # No "Expect: 100-continue": the bare backend (the ceiling) would leave curl waiting.
    command += ["-H", "Expect:", "-T", str(body), "-w", r"\n%{time_total}\n", url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) < 2 or lines[0] != str(size):
        raise LoadError(f"upload to {url} failed ({done.returncode}): {done.stderr}{done.stdout}")
    return Load(requests=1, seconds=float(lines[-1]), bytes=size)


def resumed(url: str, seconds: float, ca: Path, core: int) -> Load:
    """New connections, each resuming the last one's TLS session (``resume_client``)."""
    command = ["taskset", "-c", str(core), sys.executable, "-m", "blogkit_bench.resume_client"]
    done = subprocess.run(  # noqa: S603 - our own fixed command line
        [*command, url, f"{seconds:g}", str(ca)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise LoadError(f"resume_client {url} failed ({done.returncode}): {done.stderr}")
    figures = json.loads(lines[-1])
    if figures["resumed"] < figures["connections"] - 1:
        raise LoadError(
            f"{url}: only {figures['resumed']} of {figures['connections']} sessions resumed"
        )
    return Load(requests=figures["connections"], seconds=figures["seconds"], bytes=figures["bytes"])

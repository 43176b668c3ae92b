"""``--profile DIR``: py-spy samples our proxy while each workload runs against it.

Writes ``DIR/<workload>.txt``: collapsed stacks, one line per stack with its sample
count (for ``flamegraph.pl``, speedscope, or ``bench/top-frames``).
py-spy runs on the client core so it never takes the proxy's CPU time.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PY_SPY = Path(sys.executable).with_name("py-spy")


@contextlib.contextmanager
def sampled(pid: int | None, out: Path | None, name: str, core: int) -> Iterator[None]:
    if pid is None or out is None:
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    command = ["taskset", "-c", str(core), str(PY_SPY), "record", "--pid", str(pid)]
    command += ["--rate", "250", "--subprocesses", "--nonblocking", "--format", "raw"]
    recorder = subprocess.Popen(  # noqa: S603 - our own fixed command line
        [*command, "--output", str(out / f"{name}.txt")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its file and exits
        recorder.wait(30)


# What a sample's innermost frame is spent on; the first rule that matches wins.
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("TLS handshake (OpenSSL)", ("do_handshake", "SSLSocket._create", "wrap_socket")),
    ("TLS encrypt and send to the client", ("SSLSocket.send", "SSLObject.write")),
    ("TLS decrypt and receive", ("SSLSocket.read", "SSLSocket.recv", "SSLObject.read")),
    ("TLS close (close_notify)", ("SSLSocket.unwrap", "SSLSocket._real_close")),
    ("event loop, system calls, C callbacks (no Python frame)", ("Runner.run", "process ")),
    ("send to the backend (uvloop write)", ("BackendConnection.send",)),
    ("HTTP parsing (llhttp via httptools, with its callbacks' bytes)", ("._parse", ".feed ")),
    ("lines of tlsproxy (with the C calls they make)", ("tlsproxy/",)),
)


def summarise(path: Path) -> list[tuple[str, float]]:
    """Share of samples per bucket of a collapsed-stacks file, largest first."""
    counts: dict[str, int] = {}
    total = 0
    # Lines end at "\n" only: str.splitlines would also split at the form feeds and
    # separators a frame's text may hold (a bytes literal in a newconn profile did).
    for line in path.read_text(errors="replace").split("\n"):
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        name = next(
            (label for label, keys in BUCKETS if any(k in leaf for k in keys)),
            "other: " + leaf.split(" (")[0],
        )
        counts[name] = counts.get(name, 0) + int(number)
        total += int(number)
    return sorted(((n, c / total) for n, c in counts.items()), key=lambda x: -x[1])


if __name__ == "__main__":  # python -m blogkit_bench.profiling FILE...
    for name in sys.argv[1:]:
        print(f"== {name}")
        for label, share in summarise(Path(name))[:10]:
            print(f"{share:6.1%}  {label}")

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

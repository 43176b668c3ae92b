"""Session fixtures (both proxies and their backends, started once) and the summary.

Without nginx or openssl the suite is skipped, except when ``CI`` is set: there
``.ci/run`` installs them, so their absence is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .systems import Certificate, System, start_nginx, start_ours

SBIN = os.pathsep.join((os.environ.get("PATH", ""), "/usr/sbin", "/sbin"))
VERDICTS = ("identical", "justified", "known fault", "failure")


@dataclass
class Tally:
    """Each case's verdict, for the summary printed at the end of the session."""

    verdicts: dict[str, str] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)  # known faults that passed

    def record(self, case_id: str, verdict: str) -> None:
        self.verdicts[case_id] = verdict


TALLY_KEY = pytest.StashKey[Tally]()


@dataclass(frozen=True)
class Pair:
    """nginx and ours, each with its own recording backend, and the CA clients trust."""

    nginx: System
    ours: System
    ca: Path


def _require(tool: str) -> str:
    found = shutil.which(tool, path=SBIN)
    if found is None:
        message = (
            f"{tool} is not installed (apt-get install {tool}): the differential suite needs it"
        )
        if os.environ.get("CI"):
            pytest.fail(message)  # .ci/run installs it: missing in CI is a failure
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    _require("nginx")
    _require("openssl")
    workdir = tmp_path_factory.mktemp("differential")
    os.environ["PATH"] = SBIN  # Debian keeps nginx in /usr/sbin, off a user's PATH
    certificate = Certificate.make(workdir)
    started: list[System] = []
    try:
        started.append(start_nginx(workdir, certificate))
        started.append(start_ours(workdir, certificate))
        yield Pair(started[0], started[1], certificate.cert)
    finally:
        for system in started:
            system.stop()
            system.backend.stop()


@pytest.fixture(scope="session")
def tally(request: pytest.FixtureRequest) -> Tally:
    return request.config.stash.setdefault(TALLY_KEY, Tally())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tally = terminalreporter.config.stash.get(TALLY_KEY, None)
    if tally is None or not tally.verdicts:
        return
    counts = Counter(tally.verdicts.values())
    terminalreporter.section("differential suite: ours against nginx")
    parts = [f"{len(tally.verdicts)} cases"] + [f"{counts[v]} {v}" for v in VERDICTS]
    terminalreporter.write_line(", ".join(parts))
    for verdict in ("known fault", "failure"):
        for case_id, got in sorted(tally.verdicts.items()):
            if got == verdict:
                terminalreporter.write_line(f"  {verdict}: {case_id}")
    for case_id in tally.fixed:
        terminalreporter.write_line(f"  known fault no longer fails (remove its entry): {case_id}")

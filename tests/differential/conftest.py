"""Session fixtures (both proxies and their backends, started once) and the summary.

Without nginx or openssl the suite is skipped, except when ``CI`` is set: there
``.ci/run`` installs them, so their absence is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from .summary import TALLY_KEY, Tally
from .systems import Certificate, Pair, System, start_nginx, start_ours

# Debian keeps nginx in /usr/sbin, which is not on every user's PATH.
SBIN = os.pathsep.join((os.environ.get("PATH", ""), "/usr/sbin", "/sbin"))


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
    nginx = _require("nginx")
    certificate = Certificate.make(tmp_path_factory.mktemp("certificate"), _require("openssl"))
    workdir = tmp_path_factory.mktemp("differential")
    started: list[System] = []
    try:
        started.append(start_nginx(workdir, certificate, nginx))
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
    terminalreporter.section("differential suite: ours against nginx")
    for line in tally.lines():
        terminalreporter.write_line(line)

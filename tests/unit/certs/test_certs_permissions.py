"""File permissions as the kit meets them: any umask, a non-root uid, folders of others."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from certs_support import ensure, snapshot

PROXY_SOURCES = Path(__file__).resolve().parents[3] / "services" / "proxy"
NOBODY = 65534
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="switching to another uid needs root and setpriv",
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_modes_do_not_depend_on_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        ensure(tmp_path / "certs")
    finally:
        os.umask(previous)
    certs = tmp_path / "certs"
    assert mode(certs) == 0o700
    assert (mode(certs / "ca-key.pem"), mode(certs / "served" / "server-key.pem")) == (0o600, 0o600)
    assert (mode(certs / "ca.pem"), mode(certs / "served" / "server.pem")) == (0o644, 0o644)


def as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as an unprivileged uid, as the proxy image does."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(PROXY_SOURCES)}
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
         sys.executable, "-m", "tlsproxy.certs", *argv],
        env=env, capture_output=True, text=True, check=False, cwd="/",
    )  # fmt: skip


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder the unprivileged uid can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="certs-uid-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@needs_root
def test_a_non_root_uid_makes_everything(shared: Path) -> None:
    certs = shared / "certs"
    certs.mkdir()
    os.chown(certs, NOBODY, NOBODY)
    done = as_nobody("ensure", "--dir", str(certs), "--hosts", "localhost")
    assert done.returncode == 0, done.stderr
    assert mode(certs / "ca-key.pem") == 0o600 and (certs / "ca-key.pem").stat().st_uid == NOBODY


@needs_root
def test_a_folder_of_another_user_is_a_clear_error(shared: Path) -> None:
    certs = shared / "certs"
    certs.mkdir(mode=0o755)
    done = as_nobody("ensure", "--dir", str(certs), "--hosts", "localhost")
    assert done.returncode == 2
    assert f"not writable by uid {NOBODY}" in done.stderr and "Traceback" not in done.stderr
    assert list(certs.iterdir()) == []


@needs_root
def test_an_unreadable_key_is_a_clear_error(shared: Path) -> None:
    certs = shared / "certs"
    ensure(certs)
    certs.chmod(0o777)  # reachable, but ca-key.pem stays root's 0600
    before = snapshot(certs)
    done = as_nobody("ensure", "--dir", str(certs))
    assert done.returncode == 2
    assert "ca-key.pem: permission denied" in done.stderr and "Traceback" not in done.stderr
    assert snapshot(certs) == before

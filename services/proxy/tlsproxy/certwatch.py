"""Watching certificate files so a renewed certificate is served without a signal.

Every ``tls.certificate_check_interval`` seconds the watcher compares the inode,
size and modification time of every configured certificate and key file; on a
change it asks the proxy to reload with the same configuration. A half-written or
mismatched pair fails to load, is logged, and the old certificates keep serving; the
next write of either file triggers another attempt.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from .config import Config

FileState = tuple[int, int, int] | None  # (inode, size, mtime_ns); None when missing


def certificate_files(config: Config) -> tuple[Path, ...]:
    paths = [p for lst in config.listeners for c in lst.certificates for p in (c.cert, c.key)]
    paths += [lst.client_ca for lst in config.listeners if lst.client_ca is not None]
    return tuple(dict.fromkeys(paths))


def files_state(paths: tuple[Path, ...]) -> tuple[FileState, ...]:
    states: list[FileState] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            states.append(None)
        else:
            states.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(states)


class CertificateWatcher:
    """Polls the files of the current configuration; calls ``reload`` on a change."""

    def __init__(
        self, current: Callable[[], Config], reload: Callable[[str], Awaitable[object]]
    ) -> None:
        self._current = current
        self._reload = reload
        config = current()
        self._seen = (config, files_state(certificate_files(config)))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._current().tls.certificate_check_interval)
            if self.changed():
                await self._reload("certificate files changed")

    def changed(self) -> bool:
        config = self._current()
        state = files_state(certificate_files(config))
        seen_config, seen_state = self._seen
        self._seen = (config, state)
        # After a SIGHUP reload the new configuration's files were just read.
        return seen_config is config and state != seen_state

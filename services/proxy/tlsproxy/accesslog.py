"""The access log: one line per request on stdout, Apache "combined" or JSON."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from aiohttp import web


class AccessLog:
    """Writes one line per finished request; ``fmt`` is combined, json or off."""

    def __init__(self, fmt: str, stream: TextIO | None = None) -> None:
        self.enabled = fmt != "off"
        self._json = fmt == "json"
        self._stream = stream or sys.stdout
        self._stamp_second = -1
        self._stamp = ""

    def _timestamp(self, now: float) -> str:
        second = int(now)
        if second != self._stamp_second:  # formatted once per second, not per request
            self._stamp_second = second
            self._stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second))
        return self._stamp

    def log(
        self, request: web.BaseRequest, peer: str, status: int, size: int, started: float
    ) -> None:
        if not self.enabled:
            return
        now = time.time()
        headers = request.headers
        version = request.version
        target = request.raw_path
        if self._json:
            line = json.dumps(
                {
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)),
                    "remote": peer,
                    "host": headers.get("Host", ""),
                    "method": request.method,
                    "path": target,
                    "protocol": f"HTTP/{version.major}.{version.minor}",
                    "status": status,
                    "bytes": size,
                    "duration_ms": round((now - started) * 1000, 3),
                    "referer": headers.get("Referer", ""),
                    "user_agent": headers.get("User-Agent", ""),
                },
                separators=(",", ":"),
            )
        else:
            line = (
                f'{peer} - - [{self._timestamp(now)}] "{request.method} {_quote(target)} '
                f'HTTP/{version.major}.{version.minor}" {status} {size or "-"} '
                f'"{_quote(headers.get("Referer", "-"))}" '
                f'"{_quote(headers.get("User-Agent", "-"))}"'
            )
        self._stream.write(line + "\n")


def _quote(value: str) -> str:
    # Client-controlled text must not be able to forge fields or lines.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

"""The access log: one line per request on stdout, Apache "combined" or JSON."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .request import RequestHead


class AccessLog:
    """Writes one line per finished request; ``fmt`` is combined, json or off."""

    def __init__(
        self, fmt: str, stream: TextIO | None = None, redact: tuple[str, ...] = ()
    ) -> None:
        self.enabled = fmt != "off"
        self._redact = redact
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
        self, request: RequestHead | None, peer: str, status: int, size: int, started: float
    ) -> None:
        """One line for a finished request; ``request`` is None when its head was refused
        before it could be read (logged with ``-`` for what is unknown)."""
        if not self.enabled:
            return
        now = time.time()
        if request is None:
            method, target, protocol, host, referer, agent = "-", "-", "-", "", "-", "-"
        else:
            method, target = request.method, redacted(request.raw_target, self._redact)
            protocol = f"HTTP/{request.version}"
            fields = request.fields
            host = request.host.text
            referer = fields.get("referer", "-") or "-"
            agent = fields.get("user-agent", "-") or "-"
        if self._json:
            line = json.dumps(
                {
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)),
                    "remote": peer,
                    "host": host,
                    "method": method,
                    "path": target,
                    "protocol": protocol,
                    "status": status,
                    "bytes": size,
                    "duration_ms": round((now - started) * 1000, 3),
                    "referer": "" if referer == "-" else referer,
                    "user_agent": "" if agent == "-" else agent,
                },
                separators=(",", ":"),
            )
        else:
            line = (
                f'{peer} - - [{self._timestamp(now)}] "{method} {_quote(target)} '
                f'{protocol}" {status} {size or "-"} '
                f'"{_quote(referer)}" "{_quote(agent)}"'
            )
        self._stream.write(line + "\n")


def redacted(target: str, prefixes: tuple[str, ...]) -> str:
    """``target`` with the segment after any of ``prefixes`` replaced by ``[redacted]``:
    ``/password-link/SECRET?x`` -> ``/password-link/[redacted]?x``. A one-time link's
    token must not outlive its use in a log anyone with ``docker logs`` can read."""
    for prefix in prefixes:
        if target.startswith(prefix):
            rest = target[len(prefix) :]
            end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
            return prefix + "[redacted]" + rest[end:]
    return target


def _quote(value: str) -> str:
    """Client-controlled text must not forge fields or lines: quotes and backslashes
    are escaped, and bytes outside ASCII shown as ``\\xNN`` (one line, plain ASCII)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return escaped.encode("latin-1").decode("ascii", "backslashreplace")

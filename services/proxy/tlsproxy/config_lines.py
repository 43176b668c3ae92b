"""Where a key sits in the TOML text, for error messages (tomllib keeps no positions).

Best effort over our own schema: top-level ``[table]`` and ``[[array]]`` headers,
then ``key =`` inside that block (inline tables included). When the key is not
written at all (a required key), the block's header line is the answer.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[")
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)(?:\[(?P<index>\d+)\])?$")


def key_line(text: str, prefix: str, key: str) -> int | None:
    """1-based line of ``prefix + key`` (e.g. ``"listeners[1]."``, ``"port"``) or None."""
    lines = text.splitlines()
    start, end, header = 0, _next_header(lines, 0), None
    segments = [s for s in prefix.split(".") if s]
    if segments:
        match = _SEGMENT.match(segments[0])
        if match is None:
            return None
        found = _find_header(lines, match.group("name"), match.group("index"))
        if found is None:
            return None
        header = found
        start, end = found + 1, _next_header(lines, found + 1)
    pattern = re.compile(rf"(^|[{{,\s]){re.escape(key)}\s*=")
    for number in range(start, end):
        if pattern.search(lines[number]):
            return number + 1
    return header + 1 if header is not None else None


def _next_header(lines: list[str], start: int) -> int:
    for number in range(start, len(lines)):
        if _HEADER.match(lines[number]):
            return number
    return len(lines)


def _find_header(lines: list[str], name: str, index: str | None) -> int | None:
    if index is None:
        pattern = re.compile(rf"^\s*\[\s*{re.escape(name)}\s*\]")
        wanted = 0
    else:
        pattern = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
        wanted = int(index)
    seen = 0
    for number, line in enumerate(lines):
        if pattern.match(line):
            if seen == wanted:
                return number
            seen += 1
    return None

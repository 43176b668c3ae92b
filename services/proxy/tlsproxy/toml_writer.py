"""The configuration document written as TOML that ``config`` reads back to the same
document: what ``python -m tlsproxy import-pound`` prints.

Tables come in the order of the reference (``[server]``, ``[tls]``, ``[limits]``,
``[[listeners]]``, ``[[routes]]``); lists of tables (certificates, backends, match)
are written one entry per line. A caveat (``pound.Note``) is written as a comment
above the line it concerns, or at the top when nothing was written for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .pound import Note

_BARE_KEY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def write_toml(document: dict[str, Any], notes: Sequence[Note], header: Sequence[str]) -> str:
    """``document`` as TOML, ``header`` lines first (as comments), ``notes`` placed."""
    writer = _Writer(notes)
    for text in header:
        writer.comment(text)
    for note in notes:
        if note.anchor is None:
            writer.comment(note.message)
    for name in ("server", "tls", "limits", "metrics"):
        if name in document:
            writer.table(name, document[name], array=False)
    for name in ("listeners", "routes"):
        for table in document.get(name, ()):
            writer.table(name, table, array=True)
    return "\n".join(writer.lines) + "\n"


class _Writer:
    def __init__(self, notes: Sequence[Note]) -> None:
        self.lines: list[str] = []
        self.notes: dict[tuple[int, str | None], list[Note]] = {}
        for note in notes:
            if note.anchor is not None:
                self.notes.setdefault((id(note.anchor), note.key), []).append(note)

    def comment(self, text: str, indent: str = "") -> None:
        self.lines.append(f"{indent}# {text}")

    def _notes(self, table: dict[str, Any], key: str | None, indent: str = "") -> None:
        for note in self.notes.get((id(table), key), ()):
            self.comment(note.message, indent)

    def table(self, name: str, table: dict[str, Any], array: bool) -> None:
        self.lines.append("")
        self._notes(table, None)
        self.lines.append(f"[[{name}]]" if array else f"[{name}]")
        for key, value in table.items():
            self._notes(table, key)
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                self.lines.append(f"{_key(key)} = [")
                for entry in value:
                    self._notes(entry, None, "  ")
                    self.lines.append(f"  {_value(entry)},")
                self.lines.append("]")
            else:
                if isinstance(value, dict):
                    self._notes(value, None)
                self.lines.append(f"{_key(key)} = {_value(value)}")


def _key(key: str) -> str:
    return key if key and set(key) <= _BARE_KEY else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} cannot be written in TOML")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"{type(value).__name__} has no TOML form here")


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'

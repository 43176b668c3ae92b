"""HTTP field sections (RFC 9110 section 5): the header or trailer lines of a message.

A ``Fields`` keeps every line as received: the name as sent, the value as a string
decoded from Latin-1, so any byte (obs-text, RFC 9110 5.5) survives the trip to the
other side unchanged. Lookups go by the lower-case name, stored beside each line
because a proxy looks names up far more often than it adds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class Fields:
    """An ordered multi-map of field lines; lookups are case-insensitive.

    ``lines`` holds ``(lower_name, name, value)`` triples; ``value`` is the field value
    without surrounding whitespace, Latin-1 decoded (bytes 0x80-0xFF kept as such).
    """

    __slots__ = ("lines",)

    def __init__(self, lines: list[tuple[str, str, str]] | None = None) -> None:
        self.lines = lines if lines is not None else []

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> Fields:
        """Fields from ``(name, value)`` pairs, in order."""
        return cls([(name.lower(), name, value) for name, value in pairs])

    def add(self, name: str, value: str) -> None:
        self.lines.append((name.lower(), name, value))

    def set(self, name: str, value: str) -> None:
        """Replace every line named ``name`` by one line, at the end."""
        self.remove(name.lower())
        self.lines.append((name.lower(), name, value))

    def get(self, lower: str, default: str | None = None) -> str | None:
        """The first value of the field named ``lower`` (lower-case), else ``default``."""
        for key, _, value in self.lines:
            if key == lower:
                return value
        return default

    def get_all(self, lower: str) -> list[str]:
        return [value for key, _, value in self.lines if key == lower]

    def count(self, lower: str) -> int:
        return sum(1 for key, _, _ in self.lines if key == lower)

    def remove(self, lower: str) -> list[str]:
        """Remove every line named ``lower``; return their values."""
        removed = [value for key, _, value in self.lines if key == lower]
        if removed:
            self.lines = [line for line in self.lines if line[0] != lower]
        return removed

    def __contains__(self, lower: object) -> bool:
        for line in self.lines:
            if line[0] == lower:
                return True
        return False

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """``(name, value)`` pairs in order."""
        return ((name, value) for _, name, value in self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    def __repr__(self) -> str:
        return f"Fields({[(n, v) for _, n, v in self.lines]!r})"

    def without(self, dropped: frozenset[str] | set[str]) -> Fields:
        """A copy without the lines whose lower-case name is in ``dropped``."""
        return Fields([line for line in self.lines if line[0] not in dropped])

    def encode(self) -> bytes:
        """The field lines as they go on the wire, each ending in CRLF."""
        return "".join([f"{name}: {value}\r\n" for _, name, value in self.lines]).encode("latin-1")


def list_tokens(values: Iterable[str]) -> list[str]:
    """Lower-case elements of comma-separated list fields (RFC 9110 5.6.1), empty ones
    skipped: ``["Upgrade, keep-alive", "x"]`` -> ``["upgrade", "keep-alive", "x"]``.

    Only OWS (space and tab) is trimmed: ``str.strip()`` would also take a no-break
    space (0xA0) away, and ``upgrade\xa0`` would become ``upgrade`` here while llhttp,
    rightly, does not read it so."""
    return [
        token
        for value in values
        for element in value.split(",")
        if (token := element.strip(" \t").lower())
    ]


def wire_value(text: str) -> str:
    """``text`` (any Unicode) as a field value the proxy may send: UTF-8 octets (held,
    as all values here, as Latin-1 characters) with control characters written as
    ``\\xNN``, so no value the proxy makes can end a line or a header (RFC 9110 5.5)."""
    octets = text.encode("utf-8", "backslashreplace").decode("latin-1")
    return "".join(char if " " <= char != "\x7f" else f"\\x{ord(char):02x}" for char in octets)

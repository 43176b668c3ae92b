"""Pound's configuration syntax, lexically: one directive per line, a keyword
(case-insensitive) and its arguments, ``#`` comments, double-quoted strings in which
``\\"`` and ``\\\\`` are escapes (any other backslash is kept, as Pound does), and
``Include "file"`` (or ``"conf.d/*.cfg"``: the files in name order) anywhere, read in
place.

Every line keeps its file and number, so each error and caveat of the translation
(``pound``) can name them. Relative file names are taken from the include
directory: ``IncludeDir`` when set, else the directory of the main file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_INCLUDE_DEPTH = 16
MAX_FILE_BYTES = 4 * 1024 * 1024


class PoundError(ValueError):
    """A Pound file the proxy cannot serve; the message names the file, the line, the
    directive and what to do instead."""


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    quoted: bool


@dataclass(frozen=True, slots=True)
class Line:
    """One directive: ``keyword`` (lower-case) and its ``args``, where it was written,
    and the include directory in force there (``base``)."""

    source: str
    number: int
    name: str  # the keyword as written
    args: tuple[Token, ...]
    base: Path

    @property
    def keyword(self) -> str:
        return self.name.lower()

    @property
    def where(self) -> str:
        return f"{self.source}, line {self.number}"

    def error(self, message: str) -> PoundError:
        return PoundError(f"{self.where}: {self.name}: {message}")

    def path(self, text: str) -> Path:
        """A file named in this directive, relative ones from the include directory."""
        path = Path(text)
        return path if path.is_absolute() else self.base / path

    @property
    def text(self) -> str:
        """The directive as written (for comments): keyword and arguments."""
        return " ".join([self.name, *(_shown(t) for t in self.args)])


def _shown(token: Token) -> str:
    if not token.quoted:
        return token.text
    return '"' + token.text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_lines(source: str, text: str) -> list[Line]:
    """The directives of ``text`` (the file ``source``) with its ``Include`` files in
    place; raises PoundError for an unreadable include, an include loop or too deep
    nesting, or a string left open."""
    base = Path(source).resolve().parent
    lines: list[Line] = []
    _read(source, text, [Path(source).resolve()], base, lines)
    return lines


def _read(source: str, text: str, stack: list[Path], base: Path, out: list[Line]) -> Path:
    for number, raw in enumerate(text.splitlines(), 1):
        tokens = _tokens(raw, source, number)
        if not tokens:
            continue
        name, args = tokens[0].text, tuple(tokens[1:])
        line = Line(source, number, name, args, base)
        if line.keyword == "includedir":
            if len(args) != 1:
                raise line.error('takes one directory: IncludeDir "/etc/pound"')
            base = line.path(args[0].text)
            continue
        if line.keyword == "include":
            base = _include(line, stack, base, out)
            continue
        out.append(line)
    return base


def _include(line: Line, stack: list[Path], base: Path, out: list[Line]) -> Path:
    if len(line.args) != 1:
        raise line.error('takes one file name: Include "file.cfg"')
    name = line.args[0].text
    if any(c in name for c in "*?["):  # a pattern: its files in name order
        pattern = line.path(name)
        for path in sorted(pattern.parent.glob(pattern.name)):
            base = _include_file(line, path, stack, base, out)
        return base
    return _include_file(line, line.path(name), stack, base, out)


def _include_file(line: Line, path: Path, stack: list[Path], base: Path, out: list[Line]) -> Path:
    resolved = path.resolve()
    if resolved in stack:
        raise line.error(f"{path} includes itself (through {' -> '.join(map(str, stack))})")
    if len(stack) >= MAX_INCLUDE_DEPTH:
        raise line.error(f"includes nest deeper than {MAX_INCLUDE_DEPTH} files")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise line.error(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise line.error(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise line.error(f"{path} is not UTF-8 text: {exc}") from exc
    return _read(str(path), text, [*stack, resolved], base, out)


def _tokens(raw: str, source: str, number: int) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(raw)
    while i < n:
        char = raw[i]
        if char in " \t\r\f\v":
            i += 1
        elif char == "#":
            break
        elif char == '"':
            text, i = _string(raw, i + 1, source, number)
            tokens.append(Token(text, True))
        else:
            start = i
            while i < n and raw[i] not in ' \t\r\f\v"#':
                i += 1
            tokens.append(Token(raw[start:i], False))
    return tokens


def _string(raw: str, i: int, source: str, number: int) -> tuple[str, int]:
    out: list[str] = []
    n = len(raw)
    while i < n:
        char = raw[i]
        if char == '"':
            return "".join(out), i + 1
        if char == "\\" and i + 1 < n and raw[i + 1] in '"\\':
            out.append(raw[i + 1])
            i += 2
            continue
        out.append(char)
        i += 1
    raise PoundError(f'{source}, line {number}: a string is not closed (a missing ")')

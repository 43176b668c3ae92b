"""The request-target (RFC 9112 section 3.2): its form, and the one path used both to
route and to forward.

Routing rules (``path_prefix``, ``allow``, ``basic_auth``, ...) protect paths. A rule
is only as good as the agreement between the path the proxy matched and the path
the backend serves, and backends disagree on dot segments, empty segments,
percent-encoded characters and backslashes. So the proxy normalizes the path once,
matches on the result and forwards exactly that result (as nginx matches on its
normalized URI); what cannot be normalized without guessing is refused with 400:

- percent-encoded unreserved characters are decoded and the hex digits of the rest
  upper-cased (RFC 3986 6.2.2.1-2): ``/%61dmin`` is ``/admin``;
- dot segments are removed (RFC 3986 5.2.4), raw or encoded in any case
  (``/x/%2E%2e/admin``), and empty segments merged (``//admin`` is ``/admin``);
- refused: an encoded ``/`` or ``\\`` (``%2F``, ``%5C``: one backend decodes them
  into separators, another does not), a backslash, an encoded NUL or control
  character, a malformed percent-escape, a dot segment carrying parameters
  (``..;x``, which servlet containers resolve), and ``..`` above the root.

The query is forwarded as received.

Some backends map still more spellings to one file: servlet containers drop a
segment's ``;parameters`` (``/admin;x/`` is ``/admin/``), IIS trims a segment's
trailing dots and spaces (``/admin./``, ``/admin%20/``). Rejecting those would break
applications that use them (``;jsessionid=``), so routes are matched on the path with
them taken away (``route``) while the path is forwarded as it is: a rule on
``/admin/`` then also holds for every such spelling, on any backend. A segment that
becomes a dot segment that way (``..%20``, ``...``) is refused with 400.
"""

from __future__ import annotations

from dataclasses import dataclass

_HEX = "0123456789ABCDEFabcdef"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Encoded octets that would change the path's structure or are never legitimate in it.
_REFUSED_OCTETS = frozenset((0x2F, 0x5C, 0x7F, *range(0x20)))


class TargetError(ValueError):
    """A request-target the proxy refuses; ``status`` is what the client gets."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed origin- or absolute-form target.

    ``path``: normalized, always starting with ``/``; ``query``: ``""`` or ``"?..."``
    as received; ``authority``: ``"host[:port]"`` of an absolute-form target, else
    None; ``scheme``: its lower-case scheme, else None; ``route``: the path routes are
    matched on (``route_path``).
    """

    path: str
    query: str
    authority: str | None = None
    scheme: str | None = None
    route: str = ""

    @property
    def origin_form(self) -> str:
        """What is forwarded: the normalized path and the query."""
        return self.path + self.query


def parse_target(raw: str) -> Target:
    """Parse and normalize a request-target; raise ``TargetError`` (400) if refused.

    Asterisk-form (``OPTIONS *``) and authority-form (``CONNECT``) are refused by the
    caller; this accepts origin-form and absolute-form (``http(s)://authority/...``).
    """
    if "#" in raw:
        raise TargetError(400, "a fragment never belongs in a request-target")
    authority = scheme = None
    if raw.startswith("/"):
        rest = raw
    else:
        scheme, sep, after = raw.partition("://")
        scheme = scheme.lower()
        if not sep or scheme not in ("http", "https"):
            raise TargetError(400, "the request-target is neither a path nor an http(s) URL")
        slash = after.find("/")
        question = after.find("?")
        end = min(i for i in (slash, question, len(after)) if i != -1)
        authority, rest = after[:end], after[end:]
        if not authority or "@" in authority:
            raise TargetError(400, "an absolute-form target needs a host and no user info")
        if not rest.startswith("/"):
            rest = "/" + rest
    path, question, query = rest.partition("?")
    normalized = normalize_path(path)
    return Target(normalized, question + query, authority, scheme, route_path(normalized))


def route_path(path: str) -> str:
    """The normalized ``path`` with each segment's ``;parameters`` and trailing dots and
    spaces taken away (see the module docstring); raises ``TargetError`` (400) when a
    segment then reads as a dot segment. ``"/admin;x/a."`` -> ``"/admin/a"``."""
    if ";" not in path and "./" not in path and "%20" not in path and not path.endswith("."):
        return path  # the common case: nothing a backend could read otherwise
    segments = path.split("/")
    for index, segment in enumerate(segments):
        trimmed = _trim_segment(segment)
        if trimmed != segment and trimmed in ("", ".", ".."):
            raise TargetError(400, "a path segment that reads as a dot segment is ambiguous")
        segments[index] = trimmed
    return "/".join(segments)


def _trim_segment(segment: str) -> str:
    segment = segment.split(";", 1)[0]
    while True:
        if segment.endswith("."):
            segment = segment[:-1]
        elif segment.endswith("%20"):
            segment = segment[:-3]
        else:
            return segment


def normalize_path(path: str) -> str:
    """The normalized form of an absolute path (see the module docstring).

    ``"/a/./b/../c//d/"`` -> ``"/a/c/d/"``; raises ``TargetError`` for refused forms.
    """
    if "\\" in path:
        raise TargetError(400, "a backslash in the path is ambiguous")
    if "%" in path:
        path = _normalize_escapes(path)
    if "/." not in path and "//" not in path:
        return path  # the common case: nothing to resolve
    return _resolve_segments(path)


def _normalize_escapes(path: str) -> str:
    out: list[str] = []
    i, n = 0, len(path)
    while i < n:
        char = path[i]
        if char != "%":
            out.append(char)
            i += 1
            continue
        pair = path[i + 1 : i + 3]
        if len(pair) != 2 or pair[0] not in _HEX or pair[1] not in _HEX:
            raise TargetError(400, "a malformed percent-escape in the path")
        octet = int(pair, 16)
        if octet in _REFUSED_OCTETS:
            raise TargetError(400, "an encoded slash, backslash or control character")
        decoded = chr(octet)
        out.append(decoded if decoded in _UNRESERVED else "%" + pair.upper())
        i += 3
    return "".join(out)


def _resolve_segments(path: str) -> str:
    """RFC 3986 5.2.4 on an absolute path whose escapes are normalized, with empty
    segments merged; ``..`` above the root is refused (as nginx does)."""
    segments = path.split("/")[1:]
    kept: list[str] = []
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if not kept:
                raise TargetError(400, "the path climbs above the root")
            kept.pop()
            continue
        head = segment.split(";", 1)[0]
        if head in (".", ".."):
            raise TargetError(400, "a dot segment with parameters is ambiguous")
        kept.append(segment)
    last = segments[-1] if segments else ""
    trailing = last in ("", ".", "..") and bool(kept)
    return "/" + "/".join(kept) + ("/" if trailing else "")

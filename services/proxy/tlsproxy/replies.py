"""Routes the proxy answers itself: a redirect (``redirect``) or an error page
(``error``), Pound's ``Redirect`` and ``Error`` backends.

A redirect's ``location`` is a template: literal text with placeholders in braces,
``{{`` and ``}}`` for literal braces:

- ``{url}`` the normalized path and the query, ``{path}``, ``{query}`` (without
  ``?``), ``{host}`` (the Host name without port), ``{port}`` (``:8443``, or nothing
  when Host has no port), ``{header NAME}``, ``{param NAME}`` (a query parameter);
- ``{N}``: group N (0: the whole match) of the most recent regex match of the route's
  ``match`` conditions, ``{N.M}`` of the M-th before it (Pound's ``$N`` and
  ``$N(M)``); a group that did not take part is empty.

What is put in from the request is percent-encoded where RFC 3986 allows nothing
else, so no space, quote, control character or non-ASCII byte reaches ``Location``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from .conditions import all_hold, query_values
from .errors import Answer, error_answer
from .fields import Fields
from .listener import own_fields

if TYPE_CHECKING:
    from .config import Route
    from .request import RequestHead

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_CAPTURE = re.compile(r"^(?P<group>[0-9]{1,2})(?:\.(?P<back>[0-9]{1,2}))?$")
_NAMED = re.compile(r"^(?P<kind>header|param) +(?P<name>[A-Za-z0-9_.!#$%&'*+^`|~-]+)$")
_PARTS = ("url", "path", "query", "host", "port")
# RFC 3986 2.2 and 2.3, and "%" so escapes already in the path stay as they are.
_URI_SAFE = ":/?#[]@!$&'()*+,;=-._~%"
_HTML = "text/html"


class TemplateError(ValueError):
    """A location template that cannot be used; the message says what to write."""


Part = str | tuple[str, str] | tuple[int, int]


@dataclass(frozen=True, slots=True)
class LocationTemplate:
    """A parsed location: literal strings, ``(part, name)`` and ``(group, back)``."""

    text: str
    parts: tuple[Part, ...]

    @classmethod
    def parse(cls, text: str) -> LocationTemplate:
        """Raises TemplateError for an unknown placeholder, a lone brace, or literal text
        that is not printable ASCII without spaces."""
        parts: list[Part] = []
        last = 0
        for found in _PLACEHOLDER.finditer(text):
            literal = _literal(text[last : found.start()])
            last = found.end()
            token = found.group(0)
            if token in ("{{", "}}"):
                parts.append(literal + token[0])
                continue
            if literal:
                parts.append(literal)
            parts.append(_placeholder(found.group(1), token))
        if text[last:]:
            parts.append(_literal(text[last:]))
        return cls(text, tuple(parts))

    @property
    def uses_captures(self) -> bool:
        return any(isinstance(p, tuple) and isinstance(p[0], int) for p in self.parts)

    def expand(self, request: RequestHead, captures: list[re.Match[str]]) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(quote(_value(part, request, captures), safe=_URI_SAFE))
        return "".join(out)


def _literal(text: str) -> str:
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in text):
        raise TemplateError("must be printable ASCII without spaces (a URL)")
    return text


def _placeholder(inner: str | None, token: str) -> Part:
    if inner is None:
        raise TemplateError(f"a lone {token!r}: write {token * 2} for a literal brace")
    if inner in _PARTS:
        return (inner, "")
    named = _NAMED.match(inner)
    if named is not None:
        return (named.group("kind"), named.group("name"))
    capture = _CAPTURE.match(inner)
    if capture is not None:
        return (int(capture.group("group")), int(capture.group("back") or 0))
    raise TemplateError(
        f"{{{inner}}} is not a placeholder; use {{url}}, {{path}}, {{query}}, {{host}}, "
        "{port}, {header NAME}, {param NAME}, {N} or {N.M}"
    )


def _value(part: tuple[str, str] | tuple[int, int], request: RequestHead, captures: list) -> str:
    what, detail = part
    if isinstance(what, int):
        assert isinstance(detail, int)
        if detail >= len(captures):
            return ""
        match = captures[-1 - detail]
        if what > (match.re.groups or 0):
            return ""
        return match.group(what) or ""
    if what == "url":
        return request.target.origin_form
    if what == "path":
        return request.target.path
    if what == "query":
        return request.target.query[1:]
    if what == "host":
        return request.host.host
    if what == "port":
        return f":{request.host.port}" if request.host.port is not None else ""
    if what == "header":
        return request.fields.get(str(detail).lower()) or ""
    return next(query_values(request.target.query[1:], str(detail)), "")


def route_reply(route: Route, request: RequestHead, peer: str) -> Answer:
    """The answer of a route with ``redirect`` or ``error`` (``config.Route``)."""
    redirect = route.redirect
    if redirect is not None:
        captures: list[re.Match[str]] = []
        if redirect.location.uses_captures:
            all_hold(route.match, request, peer, captures)  # again, keeping the matches
        location = redirect.location.expand(request, captures)
        fields = own_fields(("Location", location))
        return Answer(redirect.status, f"Moved to {location}\n".encode(), fields)
    page = route.error
    assert page is not None
    if page.body is None:
        return error_answer(page.status)
    fields = Fields.of((("Content-Type", _HTML), ("Cache-Control", "no-store")))
    return Answer(page.status, page.body, fields)

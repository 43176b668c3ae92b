"""The ``Host`` field (RFC 9110 section 7.2, RFC 9112 section 3.2): validated once, then
used for routing, the forwarding headers, redirects and ``Location`` rewrites.

Its value reaches backends, logs, feeds and redirects, so only the shapes RFC 3986
defines for a host are accepted, stricter where the RFC allows what no browser sends:
a DNS-style name (letters, digits, ``-``, ``_``, dots), an IPv4 address, or a
bracketed IPv6 address, each with an optional decimal port. Everything else
(spaces, quotes, ``<>``, user info, ``;`` or ``,``, percent-escapes, IPvFuture) is
refused with 400.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")
MAX_HOST_LENGTH = 255
DEFAULT_PORTS = {"http": 80, "https": 443}


class HostError(ValueError):
    """A Host value (or absolute-form authority) that is not a plain host[:port]."""


@dataclass(frozen=True, slots=True)
class Authority:
    """A validated ``host[:port]``: ``host`` lower-case (IPv6 in brackets), without the
    root's trailing dot, so that ``Admin.Example.org.`` routes as ``admin.example.org``
    (a backend strips it too); ``port`` the explicit port or None; ``text`` the
    normalized ``host[:port]``, which is what the backend gets as Host."""

    host: str
    port: int | None
    text: str

    def port_or(self, scheme: str) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[scheme]

    def same_origin(self, other: Authority, scheme: str, other_scheme: str) -> bool:
        """Whether two authorities name the same host and (effective) port."""
        return self.host == other.host and self.port_or(scheme) == other.port_or(other_scheme)


# A site's clients send a handful of Host values: each is checked once (about 4 % of a
# small request's CPU before). Authority is immutable; refusals are not cached.
@functools.lru_cache(maxsize=256)
def parse_authority(value: str) -> Authority:
    """Validate ``value`` as ``host[:port]``; raise ``HostError`` if it is anything else.

    ``"Example.org.:8443"`` -> ``Authority("example.org", 8443, "example.org:8443")``.
    """
    if not value or len(value) > MAX_HOST_LENGTH:
        raise HostError("empty or too long")
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            raise HostError("an unterminated IPv6 literal")
        literal, rest = value[1:end], value[end + 1 :]
        if "%" in literal:
            raise HostError("a zone index means nothing to another machine")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError as exc:
            raise HostError("not an IPv6 address") from exc
        host = "[" + literal.lower() + "]"
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep:
            host, port_text = value, ""
        rest = ":" + port_text if sep else ""
        host = host.lower()
        if host.endswith("."):  # the root's label: example.org. is example.org
            host = host[:-1]
        if (
            not host
            or not set(host) <= _NAME_CHARS
            or host.startswith(("-", "."))
            or host.endswith(".")
            or ".." in host
        ):
            raise HostError("not a host name or IPv4 address")
    port = None
    if rest and rest != ":":  # an empty port is no port (RFC 3986 3.2.3)
        digits = rest[1:]
        if not rest.startswith(":") or not digits.isdigit() or not digits.isascii():
            raise HostError("a port must be decimal digits")
        if len(digits) > 5 or not 0 < int(digits) <= 65535:
            raise HostError("a port must be 1-65535")
        port = int(digits)
    # The form forwarded and used in links: what the backend would make of it anyway.
    text = host if port is None else f"{host}:{port}"
    return Authority(host, port, text)

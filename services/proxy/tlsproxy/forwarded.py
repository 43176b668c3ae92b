"""X-Forwarded-For/-Proto/-Host/-Port and RFC 7239 ``Forwarded`` toward the backend.

Headers from clients are never trusted: they are replaced by what the proxy saw,
unless the peer is inside ``server.trusted_proxies`` (another proxy in front of us),
in which case its chain is kept and our hop appended.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from multidict import CIMultiDict, CIMultiDictProxy

FORWARDING_HEADERS = frozenset(
    ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "forwarded")
)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_DEFAULT_PORTS = {"https": "443", "http": "80"}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustPolicy:
    """Decides whether a peer address may pass forwarding headers through."""

    def __init__(self, networks: Sequence[Network]) -> None:
        self._networks = tuple(networks)
        self._cache: dict[str, bool] = {}

    def trusts(self, peer: str) -> bool:
        if not self._networks:
            return False
        known = self._cache.get(peer)
        if known is None:
            try:
                address = ipaddress.ip_address(peer)
            except ValueError:
                known = False
            else:
                known = any(address in network for network in self._networks)
            if len(self._cache) < 4096:
                self._cache[peer] = known
        return known


def _forwarded_node(peer: str) -> str:
    return f'"[{peer}]"' if ":" in peer else peer


def _forwarded_value(value: str) -> str:
    return value if _TOKEN.match(value) else '"' + value.replace('"', "") + '"'


def add_forwarding_headers(
    out: CIMultiDict[str],
    incoming: CIMultiDictProxy[str],
    *,
    peer: str,
    proto: str,
    host: str,
    port: str | None,
    trusted: bool,
) -> None:
    """Add our hop to ``out`` (which must not hold forwarding headers yet).

    ``host`` is the client's Host header; ``port`` its port, else the scheme default,
    so the backend learns the public port even when the container listens elsewhere.
    """
    port = port or _DEFAULT_PORTS[proto]
    ours = f"for={_forwarded_node(peer)};proto={proto}"
    if host:
        ours += f";host={_forwarded_value(host)}"
    if trusted:
        chain = ", ".join(incoming.getall("X-Forwarded-For", ()))
        out["X-Forwarded-For"] = f"{chain}, {peer}" if chain else peer
        out["X-Forwarded-Proto"] = incoming.get("X-Forwarded-Proto", proto)
        forwarded_host = incoming.get("X-Forwarded-Host", host)
        if forwarded_host:
            out["X-Forwarded-Host"] = forwarded_host
        out["X-Forwarded-Port"] = incoming.get("X-Forwarded-Port", port)
        previous = ", ".join(incoming.getall("Forwarded", ()))
        out["Forwarded"] = f"{previous}, {ours}" if previous else ours
    else:
        out["X-Forwarded-For"] = peer
        out["X-Forwarded-Proto"] = proto
        if host:  # HTTP/1.0 clients may send none
            out["X-Forwarded-Host"] = host
        out["X-Forwarded-Port"] = port
        out["Forwarded"] = ours

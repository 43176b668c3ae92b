"""The client's address toward the backend: ``X-Forwarded-For/-Proto/-Host/-Port`` and
RFC 7239 ``Forwarded``.

Fields from clients are never trusted: every field that claims a client address or
origin (``CLIENT_ADDRESS_FIELDS``: ``X-Real-IP``, ``True-Client-IP`` and the like, which
frameworks read as readily as ``X-Forwarded-For``) is removed, and ours are set from
what the proxy saw. Only when the peer is inside ``server.trusted_proxies`` (another
proxy in front of us) is its ``X-Forwarded-*``/``Forwarded`` chain kept and our hop
appended.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from .fields import Fields

FORWARDING_FIELDS = frozenset(
    ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "forwarded")
)
# Claimed by clients, believed by some framework or other: never passed on.
CLIENT_ADDRESS_FIELDS = frozenset(
    (
        "x-real-ip",
        "true-client-ip",
        "x-client-ip",
        "client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
        "x-cluster-client-ip",
        "x-original-forwarded-for",
        "x-forwarded",
        "forwarded-for",
        "x-forwarded-server",
        "x-proxyuser-ip",
        "x-originating-ip",
        "x-remote-ip",
        "x-remote-addr",
        "x-forwarded-scheme",
        "x-forwarded-ssl",
        "x-url-scheme",
        "front-end-https",
        "x-original-url",
        "x-rewrite-url",
        "x-original-host",
        "x-host",
        "proxy-client-ip",
        "wl-proxy-client-ip",
        "http-client-ip",
        "x-envoy-external-address",
        "cf-connecting-ipv6",
        "x-azure-clientip",
        "x-azure-socketip",
        "x-appengine-user-ip",
        "x-forwarded-prefix",
        "x-forwarded-uri",
        "x-original-uri",
        "x-envoy-original-path",
        "x-forwarded-client-cert",
        "x-client-verify",
    )
)
# Whole families of claims: a client's TLS or client-certificate facts (the proxy sets
# its own, e.g. X-Client-Cert-Subject).
CLIENT_CLAIM_PREFIXES = ("x-ssl-", "ssl-client-", "x-client-cert")
# Method overrides: dropped on routes that allow only some methods (``methods``), where
# a framework honouring them would run a method the route refused.
METHOD_OVERRIDE_FIELDS = frozenset(("x-http-method-override", "x-http-method", "x-method-override"))
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustPolicy:
    """Decides whether a peer address may pass forwarding fields through."""

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


def forwarded_node(peer: str) -> str:
    """RFC 7239 6: an IPv6 node is quoted and bracketed."""
    return f'"[{peer}]"' if ":" in peer else peer


def forwarded_value(value: str) -> str:
    """A token as is, anything else as an RFC 9110 5.6.4 quoted-string."""
    if _TOKEN.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_forwarding_fields(
    out: Fields,
    incoming: Fields,
    *,
    peer: str,
    proto: str,
    host: str,
    port: int,
    trusted: bool,
) -> None:
    """Add our hop to ``out`` (which holds no forwarding or client-address fields).

    ``host`` is the client's validated Host field; ``port`` the port the client
    reached us on (the listener's public port, not the container's).
    """
    ours = f"for={forwarded_node(peer)};proto={proto};host={forwarded_value(host)}"
    if trusted:
        chain = ", ".join(incoming.get_all("x-forwarded-for"))
        out.add("X-Forwarded-For", f"{chain}, {peer}" if chain else peer)
        out.add("X-Forwarded-Proto", incoming.get("x-forwarded-proto") or proto)
        out.add("X-Forwarded-Host", incoming.get("x-forwarded-host") or host)
        out.add("X-Forwarded-Port", incoming.get("x-forwarded-port") or str(port))
        previous = ", ".join(incoming.get_all("forwarded"))
        out.add("Forwarded", f"{previous}, {ours}" if previous else ours)
    else:
        out.lines += (
            ("x-forwarded-for", "X-Forwarded-For", peer),
            ("x-forwarded-proto", "X-Forwarded-Proto", proto),
            ("x-forwarded-host", "X-Forwarded-Host", host),
            ("x-forwarded-port", "X-Forwarded-Port", str(port)),
            ("forwarded", "Forwarded", ours),
        )

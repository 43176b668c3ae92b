"""How many client connections may be open: in all, and per client address.

Without a per-address cap one client can hold every connection the proxy allows
(1,030 idle TLS connections from one address were enough) and everybody else gets
503. An address here is an IPv4 address or an IPv6 /64: one IPv6 host usually
owns a whole /64, so counting /128s would cap nothing.
"""

from __future__ import annotations

import ipaddress


def client_key(peer: str) -> str:
    """The unit a client is counted by: ``"192.0.2.7"``, or ``"2001:db8:1:2::/64"``."""
    if ":" not in peer:
        return peer
    try:
        network = ipaddress.IPv6Network(f"{peer}/64", strict=False)
    except ValueError:
        return peer
    if network.network_address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is IPv4
        return str(network.network_address.ipv4_mapped)
    return str(network)


class ConnectionGate:
    """Counts open client connections across all listeners and reload generations.

    ``limit``: all connections; ``per_client``: connections per ``client_key``.
    """

    def __init__(self, limit: int, per_client: int) -> None:
        self.limit = limit
        self.per_client = per_client
        self.open = 0
        self._by_client: dict[str, int] = {}

    def admit(self, key: str) -> int | None:
        """Count a new connection from ``key``; None when admitted, else the status
        to refuse it with (503: the proxy is full; 429: this client holds its share)."""
        if self.open >= self.limit:
            return 503
        held = self._by_client.get(key, 0)
        if held >= self.per_client:
            return 429
        self.open += 1
        self._by_client[key] = held + 1
        return None

    def release(self, key: str) -> None:
        self.open -= 1
        held = self._by_client[key] - 1
        if held:
            self._by_client[key] = held
        else:
            del self._by_client[key]

    def held_by(self, key: str) -> int:
        return self._by_client.get(key, 0)

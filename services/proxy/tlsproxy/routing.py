"""Route selection: the first route whose host, path and method all match wins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .config import Route


@dataclass(frozen=True, slots=True)
class _CompiledRoute:
    route: Route
    exact_hosts: frozenset[str]
    wildcard_parents: tuple[str, ...]  # "*.example.org" -> ".example.org"

    def matches(self, host: str, path: str, method: str) -> bool:
        route = self.route
        if route.methods and method not in route.methods:
            return False
        if self.exact_hosts or self.wildcard_parents:
            if host not in self.exact_hosts and not host.endswith(self.wildcard_parents):
                return False
        if route.path_regex is not None:
            return route.path_regex.search(path) is not None
        return path.startswith(route.path_prefix)


class Router:
    """Matches requests against the configured routes, in file order."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self._routes = tuple(
            _CompiledRoute(
                route,
                frozenset(h for h in route.hosts if not h.startswith("*.")),
                tuple(h[1:] for h in route.hosts if h.startswith("*.")),
            )
            for route in routes
        )

    def match(self, host: str, path: str, method: str) -> Route | None:
        """``host`` is lower-case without port; ``path`` the raw path (no query)."""
        for compiled in self._routes:
            if compiled.matches(host, path, method):
                return compiled.route
        return None


def split_host(host_header: str) -> tuple[str, str | None]:
    """``"Example.org:8443"`` -> ``("example.org", "8443")``; IPv6 brackets kept."""
    if host_header.startswith("["):
        end = host_header.find("]")
        if end != -1:
            rest = host_header[end + 1 :]
            port = rest[1:] if rest.startswith(":") else None
            return host_header[: end + 1].lower(), port
    name, sep, port = host_header.rpartition(":")
    if sep and port.isdigit():
        return name.lower(), port
    return host_header.lower(), None

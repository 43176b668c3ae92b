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
        """``host``: the validated Host's host, lower-case, no port (``host.Authority``);
        ``path``: the normalized path (``target``), no query."""
        for compiled in self._routes:
            if compiled.matches(host, path, method):
                return compiled.route
        return None

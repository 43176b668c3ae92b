"""Route selection: the first route whose host, path, method and ``match`` conditions
all match wins."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .conditions import all_hold
from .config import Route

if TYPE_CHECKING:
    from .request import RequestHead


@dataclass(frozen=True, slots=True)
class _CompiledRoute:
    route: Route
    exact_hosts: frozenset[str]
    wildcard_parents: tuple[str, ...]  # "*.example.org" -> ".example.org"

    def matches(
        self, host: str, path: str, method: str, request: RequestHead | None, peer: str
    ) -> bool:
        route = self.route
        if route.methods and method not in route.methods:
            return False
        if self.exact_hosts or self.wildcard_parents:
            if host not in self.exact_hosts and not host.endswith(self.wildcard_parents):
                return False
        if route.path_regex is not None:
            if route.path_regex.search(path) is None:
                return False
        elif not path.startswith(route.path_prefix):
            return False
        if route.match:  # the costly tests last, and only where configured
            return request is not None and all_hold(route.match, request, peer)
        return True


class Router:
    """Matches requests against the configured routes, in file order."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = tuple(
            _CompiledRoute(
                route,
                frozenset(h for h in route.hosts if not h.startswith("*.")),
                tuple(h[1:] for h in route.hosts if h.startswith("*.")),
            )
            for route in routes
        )

    def match(
        self,
        host: str,
        path: str,
        method: str,
        request: RequestHead | None = None,
        peer: str = "",
    ) -> Route | None:
        """``host``: the validated Host's host, lower-case, no port (``host.Authority``);
        ``path``: the normalized path (``target``), no query; ``request`` and ``peer``
        (its client address) for routes with ``match`` conditions, which never match
        without them."""
        for compiled in self._routes:
            if compiled.matches(host, path, method, request, peer):
                return compiled.route
        return None

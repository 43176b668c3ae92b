"""The forwarding listener: route a request, decide who may pass, shape the fields the
backend gets, and hand the rest to an ``Exchange``.

Per request it only does what cannot be done at start: pick a route (on the
normalized path, ``target``), copy the end-to-end fields and add our hop
(``forwarded``), check access (``access``), and rewrite what in a response would
expose the backend's own address (``rewrite``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .access import SUBJECT_HEADER, USER_HEADER, RouteAccess, admit_user
from .balancer import Balancer
from .cache import RouteCache, RouteCaches
from .errors import NO_CLIENT_CERTIFICATE, NO_ROUTE, Answer, error_answer
from .exchange import Exchange
from .fields import Fields, wire_value
from .forwarded import (
    CLIENT_ADDRESS_FIELDS,
    CLIENT_CLAIM_PREFIXES,
    FORWARDING_FIELDS,
    METHOD_OVERRIDE_FIELDS,
    TrustPolicy,
    add_forwarding_fields,
)
from .hop_by_hop import dropping, end_to_end
from .listener import ListenerHandler
from .replies import route_reply
from .rewrite import BackendRewriter
from .routing import Router
from .ssl_headers import SSL_FIELD_NAMES, add_ssl_fields

if TYPE_CHECKING:
    from .backend_health import HealthBoard
    from .backend_pool import BackendPool
    from .basic_auth import BasicAuthGuard
    from .client_connection import ClientConnection
    from .config import Backend, Config, Listener
    from .request import RequestHead

# Never from the client: forwarding and address claims, our own identity fields
# (X-SSL-* too), framing (ours describes what we send), Host (sent first, by us), and
# Expect (the proxy answers 100-continue itself).
_DROP_FROM_REQUEST = dropping(
    FORWARDING_FIELDS
    | CLIENT_ADDRESS_FIELDS
    | SSL_FIELD_NAMES
    | frozenset(("host", "content-length", "expect", USER_HEADER.lower(), SUBJECT_HEADER.lower()))
)

_DROP_WITH_METHOD_OVERRIDES = _DROP_FROM_REQUEST | METHOD_OVERRIDE_FIELDS


class ProxyHandler(ListenerHandler):
    """Forwards routed requests to their backend and streams the answer back."""

    def __init__(
        self,
        config: Config,
        listener: Listener,
        pool: BackendPool,
        health: HealthBoard,
        caches: dict[int, RouteCache] | None = None,
    ) -> None:
        super().__init__(config, listener)
        self.limits = limits = config.limits
        # How often an exchange looks at its time limits, at least.
        self.soonest_limit = min(
            limits.body_timeout, limits.backend_read_timeout, limits.send_timeout
        )
        self.pool = pool
        self.health = health
        self.router = Router(
            r for r in config.routes if listener.name in r.listeners or not r.listeners
        )
        self.no_route_status = config.server.no_route_status
        self.ssl_headers = listener.ssl_headers
        self.balancers = {id(r): Balancer(r, health) for r in config.routes}
        self.access = {id(r): a for r in config.routes if (a := RouteAccess.for_route(r))}
        self.client_cert = listener.client_cert if listener.client_ca is not None else None
        self.trust = TrustPolicy(config.server.trusted_proxies)
        self.public_port = listener.public_port
        self.rewriters: dict[Backend, BackendRewriter] = {
            b: BackendRewriter(b) for r in config.routes for b in r.backends
        }
        # By id(route); shared by the listeners of a generation (``server``).
        self.caches = RouteCaches().for_routes(config.routes) if caches is None else caches

    def handle(self, client: ClientConnection, request: RequestHead) -> None:
        host = request.host
        peer = client.peer
        route = self.router.match(host.host, request.target.route, request.method, request, peer)
        if route is None:
            client.answer(error_answer(self.no_route_status, explanation=NO_ROUTE))
            return
        client.log_extra = (route.name, "none")
        balancer = self.balancers[id(route)]
        sticky = balancer.sticky_key(request, peer) if balancer.sticky else None
        dropped = _DROP_WITH_METHOD_OVERRIDES if route.methods else _DROP_FROM_REQUEST
        fields = end_to_end(request.fields, dropped, CLIENT_CLAIM_PREFIXES)
        add_forwarding_fields(
            fields,
            request.fields,
            peer=peer,
            proto=self.scheme,
            host=host.text,
            port=self.public_port or host.port_or(self.scheme),
            trusted=self.trust.trusts(peer),
        )
        if self.ssl_headers and client.transport is not None:
            add_ssl_fields(fields, client.transport.get_extra_info("ssl_object"))
        if self.client_cert is not None:
            subject = client.client_subject()
            if subject is not None:
                fields.add(SUBJECT_HEADER, wire_value(subject))
            elif self.client_cert == "page":
                client.answer(error_answer(403, explanation=NO_CLIENT_CERTIFICATE))
                return
        access = self.access.get(id(route))
        guard = None
        if access is not None:
            refusal = access.refuse(peer, fields)
            if refusal is None and access.auth is not None:
                verdict = access.auth.check_now(fields.get("authorization"), peer)
                if isinstance(verdict, str):
                    admit_user(fields, verdict)
                elif verdict is None:
                    guard = access.auth  # the password's hash must be checked first
                else:
                    refusal = verdict
            if refusal is not None:
                client.answer(refusal)
                return
        if route.redirect is not None or route.error is not None:
            client.answer(route_reply(route, request, peer))
            return
        public_origin = f"{self.scheme}://{host.text}"
        if self.caches and guard is None:
            cache = self.caches.get(id(route))
            if cache is not None:
                cache.handle(self, client, request, balancer, fields, public_origin)
                return
        self.forward(client, request, balancer, fields, public_origin, sticky, guard)

    def forward(
        self,
        client: ClientConnection,
        request: RequestHead,
        balancer: Balancer,
        fields: Fields,
        public_origin: str,
        sticky: str | None = None,
        guard: BasicAuthGuard | None = None,
    ) -> None:
        """Send ``request`` with ``fields`` to the route's backends and relay the answer
        (after ``guard`` checked the password, when given)."""
        exchange = Exchange(
            self,
            client,
            request,
            balancer,
            balancer.candidates(sticky),
            fields,
            public_origin,
            sticky,
        )
        client.attach(exchange)
        if guard is None:
            exchange.start()
        else:
            exchange.start_after(asyncio.ensure_future(_authorize(guard, client, exchange)))

    def rewrite_response(self, fields: Fields, backend: Backend, public_origin: str) -> None:
        """Move ``Location`` and cookie domains naming the backend to the public origin."""
        rewriter = self.rewriters[backend]
        location = fields.get("location")
        if location is not None:
            fields.set("Location", rewriter.location(location, public_origin))
        if "set-cookie" in fields:
            for cookie in fields.remove("set-cookie"):
                fields.add("Set-Cookie", rewriter.set_cookie(cookie))


async def _authorize(guard: BasicAuthGuard, client: ClientConnection, exchange: Exchange) -> bool:
    """Check a Basic-auth password; on failure the exchange ends with our answer."""
    verdict = await guard.verify(exchange.fields.get("authorization"), client.peer)
    if isinstance(verdict, str):
        admit_user(exchange.fields, verdict)
        return True
    if not exchange.finished:
        exchange.finished = True
        client.answer(_closing(verdict, client))
    return False


def _closing(answer: Answer, client: ClientConnection) -> Answer:
    if not client.request_complete:
        answer.close = True
    return answer

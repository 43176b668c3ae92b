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
from .errors import NO_CLIENT_CERTIFICATE, Answer, error_answer
from .exchange import Exchange
from .fields import Fields
from .forwarded import CLIENT_ADDRESS_FIELDS, FORWARDING_FIELDS, TrustPolicy, add_forwarding_fields
from .hop_by_hop import dropping, end_to_end
from .listener import ListenerHandler
from .rewrite import BackendRewriter
from .routing import Router

if TYPE_CHECKING:
    from .backend_health import HealthBoard
    from .backend_pool import BackendPool
    from .basic_auth import BasicAuthGuard
    from .client_connection import ClientConnection
    from .config import Backend, Config, Listener
    from .request import RequestHead

# Never from the client: forwarding and address claims, our own identity fields,
# framing (ours describes what we send), Host (sent first, by us), and Expect
# (the proxy answers 100-continue itself).
_DROP_FROM_REQUEST = dropping(
    FORWARDING_FIELDS
    | CLIENT_ADDRESS_FIELDS
    | frozenset(("host", "content-length", "expect", USER_HEADER.lower(), SUBJECT_HEADER.lower()))
)


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
        self.router = Router(config.routes)
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
        route = self.router.match(host.host, request.target.path, request.method)
        if route is None:
            client.answer(error_answer(404))
            return
        client.log_extra = (route.name, "none")
        balancer = self.balancers[id(route)]
        sticky = None
        if balancer.affinity_cookie is not None:
            sticky = cookie_value(request.fields, balancer.affinity_cookie)
        fields = end_to_end(request.fields, _DROP_FROM_REQUEST)
        peer = client.peer
        add_forwarding_fields(
            fields,
            request.fields,
            peer=peer,
            proto=self.scheme,
            host=host.text,
            port=self.public_port or host.port_or(self.scheme),
            trusted=self.trust.trusts(peer),
        )
        if self.client_cert is not None:
            subject = client.client_subject()
            if subject is not None:
                fields.add(SUBJECT_HEADER, subject)
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


def cookie_value(fields: Fields, name: str) -> str | None:
    """The value of cookie ``name`` in the request's ``Cookie`` fields (RFC 6265 5.4)."""
    for header in fields.get_all("cookie"):
        for pair in header.split(";"):
            key, sep, value = pair.strip().partition("=")
            if sep and key == name:
                return value
    return None

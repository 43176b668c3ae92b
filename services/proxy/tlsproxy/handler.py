"""The forwarding handler: one client request in, one backend exchange, streamed.

Per request it only does what cannot be done at start: pick a route, copy the
end-to-end headers and add our hop, then relay bodies both ways (``streaming``) and
rewrite what would expose the backend's own address (``rewrite``).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from . import websocket
from .access import SUBJECT_HEADER, USER_HEADER, RouteAccess
from .accesslog import AccessLog
from .backend_health import BackendHealth, HealthBoard
from .backend_pool import LEAN_METHODS, BackendUnreachable, LeanResponse
from .balancer import Balancer
from .config import Backend, Config, Listener
from .errors import NO_CLIENT_CERTIFICATE, SERVER_NAME, error_response
from .forwarded import FORWARDING_HEADERS, TrustPolicy, add_forwarding_headers
from .hop_by_hop import end_to_end
from .listener import ListenerHandler, request_target
from .metrics import BACKEND_KEY, ROUTE_KEY, Metrics
from .rewrite import BackendRewriter
from .routing import Router, split_host
from .streaming import BodyTooLarge, LimitedBody, RelayedResponse, client_gone
from .upstream import Upstream

_DROP_FROM_REQUEST = FORWARDING_HEADERS | {
    "expect",
    USER_HEADER.lower(),
    SUBJECT_HEADER.lower(),
}
_DROP_WITHOUT_HOST = _DROP_FROM_REQUEST | {"host"}
# Safe to send twice (RFC 9110 9.2.2): a reset before any response byte moves them on.
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
# Failures where the backend never saw the request: any request may move on.
_NOT_CONNECTED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, BackendUnreachable)
_RESET = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


class ProxyHandler(ListenerHandler):
    """Forwards routed requests to their backend and streams the answer back."""

    def __init__(
        self,
        config: Config,
        listener: Listener,
        access_log: AccessLog,
        upstream: Upstream,
        health: HealthBoard,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(config, listener, access_log, metrics)
        self.session = upstream.session
        self.lean = upstream.lean
        self.health = health
        self.router = Router(config.routes)
        self.balancers = {id(r): Balancer(r, health) for r in config.routes}
        self.access = {id(r): a for r in config.routes if (a := RouteAccess.for_route(r))}
        self.client_cert = listener.client_cert if listener.client_ca is not None else None
        self.trust = TrustPolicy(config.server.trusted_proxies)
        self.rewriters: dict[Backend, BackendRewriter] = {
            b: BackendRewriter(b) for r in config.routes for b in r.backends
        }

    async def handle(self, request: web.BaseRequest, peer: str) -> web.StreamResponse:
        host_header = request.headers.get("Host", "")
        host, port = split_host(host_header)
        route = self.router.match(host, request.path, request.method)
        if route is None:
            return error_response(404)
        balancer = self.balancers[id(route)]
        if balancer.affinity_cookie is None:
            candidates = balancer.candidates()
        else:
            candidates = balancer.candidates(request.cookies.get(balancer.affinity_cookie))
        if self.metrics is not None:
            request[ROUTE_KEY] = route.name
        headers = end_to_end(
            request.headers, _DROP_FROM_REQUEST if route.preserve_host else _DROP_WITHOUT_HOST
        )
        add_forwarding_headers(
            headers,
            request.headers,
            peer=peer,
            proto=self.scheme,
            host=host_header,
            port=port,
            trusted=self.trust.trusts(peer),
        )
        if self.client_cert is not None:
            subject = request.protocol.client_subject()  # type: ignore[attr-defined]
            if subject is not None:
                headers[SUBJECT_HEADER] = subject
            elif self.client_cert == "page":
                return error_response(403, explanation=NO_CLIENT_CERTIFICATE)
        access = self.access.get(id(route))
        if access is not None:
            refused = await access.check(request, peer, headers)
            if refused is not None:
                return refused
        target = request_target(request)
        if websocket.is_upgrade(request):
            return await self._websocket(request, balancer, candidates, target, headers)
        # Without a Host header there is no public origin to rewrite Location to.
        public_origin = f"{self.scheme}://{host_header}" if host_header else None
        return await self.forward(request, balancer, candidates, target, headers, public_origin)

    async def _websocket(
        self,
        request: web.BaseRequest,
        balancer: Balancer,
        candidates: Sequence[BackendHealth],
        target: str,
        headers: CIMultiDict[str],
    ) -> web.StreamResponse:
        urls = [URL(s.backend.url + target, encoded=True) for s in candidates]
        connected = [0]  # index of the backend that took the upgrade

        def not_connected(index: int, exc: BaseException) -> None:
            self.health.failed(candidates[index], balancer.route.retry_interval, exc)
            connected[0] = index + 1

        response = await websocket.relay(
            request, self.session, urls, headers, self.hsts, not_connected
        )
        if self.metrics is not None and connected[0] < len(candidates):
            request[BACKEND_KEY] = candidates[connected[0]].backend.url
        return response

    async def forward(
        self,
        request: web.BaseRequest,
        balancer: Balancer,
        candidates: Sequence[BackendHealth],
        target: str,
        headers: CIMultiDict[str],
        public_origin: str | None,
    ) -> web.StreamResponse:
        body: AsyncIterator[bytes] | None = None
        if request.body_exists:
            if request.headers.get("Expect", "").lower() == "100-continue":
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = self._request_body(request)
        last = len(candidates) - 1
        for attempt, state in enumerate(candidates):
            backend = state.backend
            try:
                upstream: aiohttp.ClientResponse | LeanResponse
                if body is None and request.method in LEAN_METHODS:
                    upstream = await self.lean.request(backend, request.method, target, headers)
                else:
                    url = URL(backend.url + target, encoded=True)
                    upstream = await self.session.request(
                        request.method, url, headers=headers, data=body, allow_redirects=False
                    )
            except BodyTooLarge:
                return error_response(413, close=True)
            except _NOT_CONNECTED as exc:
                self.health.failed(state, balancer.route.retry_interval, exc)
                if attempt < last:
                    continue
                if isinstance(exc, aiohttp.ConnectionTimeoutError):
                    return error_response(503)
                return await self._no_response(request, backend, body, exc)
            except _RESET as exc:
                if attempt < last and body is None and request.method in _IDEMPOTENT:
                    self.health.failed(state, balancer.route.retry_interval, exc)
                    continue
                return await self._no_response(request, backend, body, exc)
            except (TimeoutError, aiohttp.ClientError) as exc:
                return await self._no_response(request, backend, body, exc)
            if state.down_until:
                self.health.answered(state)
            if self.metrics is not None:
                request[BACKEND_KEY] = backend.url
            pin = None
            if balancer.affinity_cookie is not None:
                sticky = request.cookies.get(balancer.affinity_cookie)
                pin = balancer.affinity_set_cookie(state, sticky, self.scheme == "https")
            try:
                return await self._relay_response(request, upstream, backend, public_origin, pin)
            finally:
                upstream.release()
        raise AssertionError("a route has at least one backend")

    async def _no_response(
        self,
        request: web.BaseRequest,
        backend: Backend,
        body: AsyncIterator[bytes] | None,
        exc: BaseException,
    ) -> web.StreamResponse:
        """No backend response came and no other backend is to be tried."""
        response = _failure_response(request, backend, body, exc)
        if isinstance(body, LimitedBody) and body.stalled:
            # Send it now and close: aiohttp would otherwise wait up to 10 s for
            # the rest of a body this client has stopped sending.
            if self.hsts is not None:
                response.headers["Strict-Transport-Security"] = self.hsts
            await response.prepare(request)
            await response.write_eof()
            request.protocol.force_close()
        return response

    def _request_body(self, request: web.BaseRequest) -> AsyncIterator[bytes]:
        return LimitedBody(request, self.max_body, self.config.limits.body_timeout)

    async def _relay_response(
        self,
        request: web.BaseRequest,
        upstream: aiohttp.ClientResponse | LeanResponse,
        backend: Backend,
        public_origin: str | None,
        pin: str | None = None,
    ) -> web.StreamResponse:
        headers = end_to_end(upstream.headers)
        if public_origin is not None and "Location" in headers:
            headers["Location"] = self.rewriters[backend].location(
                headers["Location"], public_origin
            )
        if "Set-Cookie" in headers:
            rewriter = self.rewriters[backend]
            cookies = [rewriter.set_cookie(c) for c in headers.popall("Set-Cookie")]
            for cookie in cookies:
                headers.add("Set-Cookie", cookie)
        if pin is not None:
            headers.add("Set-Cookie", pin)  # ours: after the backend's, not rewritten
        if self.hsts is not None:
            headers["Strict-Transport-Security"] = self.hsts
        if "Server" not in headers:
            headers["Server"] = SERVER_NAME
        response = RelayedResponse(status=upstream.status, reason=upstream.reason, headers=headers)
        await response.prepare(request)
        content = upstream.content
        last = b""
        try:
            if content.is_eof():
                # A small answer is whole already: one write with the headers.
                last = content.read_nowait()
            else:
                async for chunk in content.iter_any():
                    await response.write(chunk)
                    response.relayed_bytes += len(chunk)
        except (TimeoutError, ConnectionError, aiohttp.ClientError) as exc:
            if client_gone(request):
                return response  # the client went away: nothing to report
            # Headers are gone already: cut the connection so the client sees a
            # truncated body instead of a falsely complete one.
            _log_backend_error(backend, exc)
            if request.transport is not None:
                request.transport.abort()
            return response
        response.relayed_bytes += len(last)
        await response.write_eof(last)
        return response


def _failure_response(
    request: web.BaseRequest,
    backend: Backend,
    body: AsyncIterator[bytes] | None,
    exc: BaseException,
) -> web.Response:
    """The answer when no backend response came: blame the side that failed."""
    if isinstance(body, LimitedBody):
        if body.too_large:
            return error_response(413, close=True)
        if body.stalled:
            return error_response(408, close=True)
    if client_gone(request):
        return error_response(502, close=True)  # its upload broke off: not our error
    if isinstance(exc, TimeoutError):  # aiohttp.ServerTimeoutError is one
        return error_response(504)
    _log_backend_error(backend, exc)
    return error_response(502)


def _log_backend_error(backend: Backend, exc: BaseException) -> None:
    print(f"tlsproxy: backend {backend.url}: {type(exc).__name__}: {exc}", file=sys.stderr)

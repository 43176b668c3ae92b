"""The reverse-proxy handler: one client request in, one backend exchange, streamed.

Per request it only does what cannot be done at start: validate framing, pick a
route, copy end-to-end headers, then pump body chunks in both directions as they
come (bounded memory, server-sent events flushed at once).
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import HttpVersion10, HttpVersion11, web
from multidict import CIMultiDict
from yarl import URL

from . import websocket
from .accesslog import AccessLog
from .config import Backend, Config, Listener
from .errors import SERVER_NAME, error_response
from .forwarded import FORWARDING_HEADERS, TrustPolicy, add_forwarding_headers
from .hop_by_hop import end_to_end
from .protocol import ProxyProtocol
from .rewrite import BackendRewriter
from .routing import Router, split_host
from .upstream import choose_backend

_SUPPORTED_VERSIONS = frozenset((HttpVersion10, HttpVersion11))
# A reverse proxy is no tunnel (CONNECT), and TRACE would echo cookies back (XST).
_REFUSED_METHODS = frozenset(("CONNECT", "TRACE"))
_OWN_HEADERS = {"Cache-Control": "no-store", "Server": SERVER_NAME}
_DROP_FROM_REQUEST = FORWARDING_HEADERS | {"expect"}
_DROP_WITHOUT_HOST = _DROP_FROM_REQUEST | {"host"}


class BodyTooLarge(Exception):
    """A chunked request body went over ``limits.max_body_bytes`` while streaming."""


def hsts_value(config: Config) -> str | None:
    if config.tls.hsts_max_age <= 0:
        return None
    value = f"max-age={config.tls.hsts_max_age}"
    return value + "; includeSubDomains" if config.tls.hsts_include_subdomains else value


class ListenerHandler:
    """Common front of every listener: header deadline, /healthz, framing, access log."""

    def __init__(self, config: Config, listener: Listener, access_log: AccessLog) -> None:
        self.config = config
        self.listener = listener
        self.scheme = "https" if listener.kind == "https" else "http"
        self.access_log = access_log
        self.health_path = config.server.health_path
        self.max_body = config.limits.max_body_bytes
        self.hsts = hsts_value(config) if listener.kind == "https" else None

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.time()
        protocol = request.protocol
        if isinstance(protocol, ProxyProtocol):
            protocol.headers_complete()
        peer = _peer(request)
        response: web.StreamResponse | None = None
        try:
            response = self.precheck(request)
            if response is None:
                response = await self.handle(request, peer)
            if self.hsts is not None and not response.prepared:
                response.headers["Strict-Transport-Security"] = self.hsts
            return response
        finally:
            if isinstance(protocol, ProxyProtocol):
                protocol.request_done()
            if response is not None:
                self.access_log.log(request, peer, response.status, _body_size(response), started)

    def precheck(self, request: web.BaseRequest) -> web.StreamResponse | None:
        """Answers the proxy gives itself before any routing; None to continue."""
        if request.version not in _SUPPORTED_VERSIONS:
            return error_response(400, close=True)  # HTTP/0.9 has no headers to check
        if "#" in request.raw_path:
            return error_response(400, close=True)  # fragments never belong on the wire
        if request.method in _REFUSED_METHODS:
            return error_response(405, close=True)
        headers = request.headers
        te = headers.get("Transfer-Encoding")
        if te is not None and te.strip().lower() != "chunked":
            return error_response(501, close=True)  # e.g. "gzip, chunked": never guess
        if self.max_body and request.content_length and request.content_length > self.max_body:
            return error_response(413, close=True)
        expect = headers.get("Expect")
        if expect is not None and expect.lower() != "100-continue":
            return error_response(417, close=True)
        if request.path == self.health_path and request.method in ("GET", "HEAD"):
            return web.Response(text="ok\n", headers=_OWN_HEADERS)
        return None

    async def handle(self, request: web.BaseRequest, peer: str) -> web.StreamResponse:
        raise NotImplementedError


class RedirectHandler(ListenerHandler):
    """HTTP listener that sends every request to the same URL over HTTPS (308)."""

    def __init__(self, config: Config, listener: Listener, access_log: AccessLog) -> None:
        super().__init__(config, listener, access_log)
        port = listener.redirect_port
        self.port_suffix = "" if port == 443 else f":{port}"

    async def handle(self, request: web.BaseRequest, peer: str) -> web.StreamResponse:
        host, _ = split_host(request.headers.get("Host", ""))
        if not host or not _is_plain_host(host):
            return error_response(400, close=True)
        location = f"https://{host}{self.port_suffix}{_target(request)}"
        return web.Response(
            status=308,
            headers={"Location": location, **_OWN_HEADERS},
            text=f"Moved to {location}\n",
        )


class ProxyHandler(ListenerHandler):
    """Forwards routed requests to their backend and streams the answer back."""

    def __init__(
        self,
        config: Config,
        listener: Listener,
        access_log: AccessLog,
        session: aiohttp.ClientSession,
    ) -> None:
        super().__init__(config, listener, access_log)
        self.session = session
        self.router = Router(config.routes)
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
        backend = choose_backend(route)
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
        url = URL(backend.url + _target(request), encoded=True)
        if websocket.is_upgrade(request):
            return await websocket.relay(request, self.session, url, headers, self.hsts)
        # Without a Host header there is no public origin to rewrite Location to.
        public_origin = f"{self.scheme}://{host_header}" if host_header else None
        return await self.forward(request, backend, url, headers, public_origin)

    async def forward(
        self,
        request: web.BaseRequest,
        backend: Backend,
        url: URL,
        headers: CIMultiDict[str],
        public_origin: str | None,
    ) -> web.StreamResponse:
        body: AsyncIterator[bytes] | None = None
        if request.body_exists:
            if request.headers.get("Expect", "").lower() == "100-continue":
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = self._request_body(request)
        try:
            upstream = await self.session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False
            )
        except BodyTooLarge:
            return error_response(413, close=True)
        except aiohttp.ConnectionTimeoutError:
            return error_response(503)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            return error_response(504)
        except aiohttp.ClientError as exc:
            if isinstance(exc.__cause__, BodyTooLarge) or _too_large(body):
                return error_response(413, close=True)
            if _client_gone(request):
                return error_response(502, close=True)  # its upload broke off: not our error
            _log_backend_error(backend, exc)
            return error_response(502)
        try:
            return await self._relay_response(request, upstream, backend, public_origin)
        finally:
            upstream.release()

    def _request_body(self, request: web.BaseRequest) -> AsyncIterator[bytes]:
        return _LimitedBody(request, self.max_body)

    async def _relay_response(
        self,
        request: web.BaseRequest,
        upstream: aiohttp.ClientResponse,
        backend: Backend,
        public_origin: str | None,
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
        if self.hsts is not None:
            headers["Strict-Transport-Security"] = self.hsts
        if "Server" not in headers:
            headers["Server"] = SERVER_NAME
        response = RelayedResponse(status=upstream.status, reason=upstream.reason, headers=headers)
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
                response.relayed_bytes += len(chunk)
        except (TimeoutError, ConnectionError, aiohttp.ClientError) as exc:
            if _client_gone(request):
                return response  # the client went away: nothing to report
            # Headers are gone already: cut the connection so the client sees a
            # truncated body instead of a falsely complete one.
            _log_backend_error(backend, exc)
            if request.transport is not None:
                request.transport.abort()
            return response
        await response.write_eof()
        return response


class RelayedResponse(web.StreamResponse):
    """A streamed backend response that counts the body bytes it relayed (access log)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.relayed_bytes = 0


class _LimitedBody:
    """Async iterator over the client's body that enforces the body size limit."""

    def __init__(self, request: web.BaseRequest, limit: int) -> None:
        self._content = request.content
        self._limit = limit
        self.received = 0
        self.too_large = False

    def __aiter__(self) -> _LimitedBody:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._content.readany()
        if not chunk:
            raise StopAsyncIteration
        self.received += len(chunk)
        if self._limit and self.received > self._limit:
            self.too_large = True
            raise BodyTooLarge
        return chunk


def _body_size(response: web.StreamResponse) -> int:
    if isinstance(response, RelayedResponse):
        return response.relayed_bytes
    # The proxy's own small answers are not sent yet; their length is known.
    return response.content_length or 0


def _too_large(body: object) -> bool:
    return isinstance(body, _LimitedBody) and body.too_large


def _client_gone(request: web.BaseRequest) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _log_backend_error(backend: Backend, exc: BaseException) -> None:
    print(f"tlsproxy: backend {backend.url}: {type(exc).__name__}: {exc}", file=sys.stderr)


def _peer(request: web.BaseRequest) -> str:
    transport = request.transport
    peername = transport.get_extra_info("peername") if transport is not None else None
    return str(peername[0]) if peername else "-"


def _target(request: web.BaseRequest) -> str:
    raw = request.raw_path
    return raw if raw.startswith("/") else request.rel_url.raw_path_qs


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_IPV6_CHARS = frozenset("0123456789abcdef:.")


def _is_plain_host(host: str) -> bool:
    """A DNS name, IPv4 or bracketed IPv6 literal (lower-case): safe to put in Location."""
    if host.startswith("[") and host.endswith("]"):
        return len(host) > 2 and set(host[1:-1]) <= _IPV6_CHARS
    return set(host) <= _NAME_CHARS

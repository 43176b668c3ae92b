"""What every listener does before its own work: the header deadline hand-off,
framing checks the parser leaves to us, ``/healthz``, HSTS and the access log."""

from __future__ import annotations

import time

from aiohttp import HttpVersion10, HttpVersion11, web

from .accesslog import AccessLog
from .config import Config, Listener
from .errors import SERVER_NAME, answer_as_http_1_1, error_response
from .metrics import Metrics
from .protocol import ProxyProtocol
from .streaming import body_size

_SUPPORTED_VERSIONS = frozenset((HttpVersion10, HttpVersion11))
# A reverse proxy is no tunnel (CONNECT), and TRACE would echo cookies back (XST).
_REFUSED_METHODS = frozenset(("CONNECT", "TRACE"))
OWN_HEADERS = {"Cache-Control": "no-store", "Server": SERVER_NAME}


def hsts_value(config: Config) -> str | None:
    if config.tls.hsts_max_age <= 0:
        return None
    value = f"max-age={config.tls.hsts_max_age}"
    return value + "; includeSubDomains" if config.tls.hsts_include_subdomains else value


class ListenerHandler:
    """Base of the per-listener handlers; subclasses implement ``handle``."""

    def __init__(
        self,
        config: Config,
        listener: Listener,
        access_log: AccessLog,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics
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
        peer = peer_address(request)
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
                if protocol.retired and response is not None:
                    response.force_close()  # a reload happened: no keep-alive
            if response is not None:
                self.access_log.log(request, peer, response.status, body_size(response), started)
                if self.metrics is not None:
                    self.metrics.request_done(request, response.status, started)

    def precheck(self, request: web.BaseRequest) -> web.StreamResponse | None:
        """Answers the proxy gives itself before any routing; None to continue."""
        if request.version not in _SUPPORTED_VERSIONS:
            answer_as_http_1_1(request)
            return error_response(400, close=True)  # HTTP/0.9 has no headers to check
        if "#" in request.raw_path:
            return error_response(400, close=True)  # fragments never belong on the wire
        authority = absolute_form_authority(request.raw_path)
        if authority is not None and authority.lower() != request.headers.get("Host", "").lower():
            # RFC 9112 3.2.2: the target's authority outranks Host. Routing and the backend
            # go by Host, so a request naming two different hosts is refused, not guessed.
            return error_response(400, close=True)
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
            return web.Response(text="ok\n", headers=OWN_HEADERS)
        return None

    async def handle(self, request: web.BaseRequest, peer: str) -> web.StreamResponse:
        raise NotImplementedError


def peer_address(request: web.BaseRequest) -> str:
    transport = request.transport
    peername = transport.get_extra_info("peername") if transport is not None else None
    return str(peername[0]) if peername else "-"


def absolute_form_authority(raw_target: str) -> str | None:
    """``host:port`` of an absolute-form target (``http://host:port/path``); None otherwise."""
    _, sep, rest = raw_target.partition("://")
    if not sep or raw_target.startswith("/"):
        return None
    return rest.split("/", 1)[0].split("?", 1)[0]


def request_target(request: web.BaseRequest) -> str:
    """The raw path and query as received (absolute-form targets reduced to them)."""
    raw = request.raw_path
    return raw if raw.startswith("/") else request.rel_url.raw_path_qs

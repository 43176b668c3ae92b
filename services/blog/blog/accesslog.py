"""The access log: one line per request, naming the client, not just the TCP peer.

Behind the kit's proxy every TCP peer is the proxy, so aiohttp's ``%a`` would log
the same address for everyone. This logger writes the client the forwarded
middleware worked out (from X-Forwarded-For, only when the peer is a trusted proxy)
and adds ``via PEER`` then, so both stay visible:

    203.0.113.9 "GET /feed.atom HTTP/1.1" 200 5120 0.003412 via 172.19.0.4

Requests refused before the middleware ran (a malformed request line) show the peer.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .forwarded import CLIENT


def logged_target(request: web.BaseRequest) -> str:
    """The path and query, with a route's ``{token}`` (a one-time link's secret: the setup
    and password links) replaced by ``[redacted]``: whoever reads ``docker logs`` must
    not be able to use a link that has not been used yet."""
    match_info = getattr(request, "match_info", None)
    token = match_info.get("token") if match_info is not None else None
    if not token:
        return request.path_qs
    return request.path_qs.replace(token, "[redacted]")


class ClientAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        peer = request.remote or "-"
        info = request.get(CLIENT)
        client = str(info.ip) if info is not None and info.ip is not None else peer
        via = f" via {peer}" if info is not None and info.via_trusted_proxy else ""
        version = request.version
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d %.6f%s',
            client,
            request.method,
            logged_target(request),
            version.major,
            version.minor,
            response.status,
            response.body_length,
            time,
            via,
        )

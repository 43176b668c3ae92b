"""The plain-HTTP listener that only redirects: 308 to the same host, path and query
over HTTPS, on the public HTTPS port (omitted when it is 443)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .errors import error_response
from .listener import OWN_HEADERS, ListenerHandler, request_target
from .routing import split_host

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_IPV6_CHARS = frozenset("0123456789abcdef:.")


class RedirectHandler(ListenerHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        listener = self.listener
        port = listener.redirect_port
        self.port_suffix = "" if port == 443 else f":{port}"

    async def handle(self, request: web.BaseRequest, peer: str) -> web.StreamResponse:
        host, _ = split_host(request.headers.get("Host", ""))
        if not host or not is_plain_host(host):
            return error_response(400, close=True)
        location = f"https://{host}{self.port_suffix}{request_target(request)}"
        return web.Response(
            status=308,
            headers={"Location": location, **OWN_HEADERS},
            text=f"Moved to {location}\n",
        )


def is_plain_host(host: str) -> bool:
    """A DNS name, IPv4 or bracketed IPv6 literal (lower-case): safe to put in Location."""
    if host.startswith("[") and host.endswith("]"):
        return len(host) > 2 and set(host[1:-1]) <= _IPV6_CHARS
    return set(host) <= _NAME_CHARS

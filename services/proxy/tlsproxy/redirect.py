"""The plain-HTTP listener that only redirects: 308 to the same host, path and query
over HTTPS, on the public HTTPS port (omitted when it is 443). ACME HTTP-01 validation
requests are answered first (``acme_challenge``), when ``acme_challenge_dir`` is set."""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from .acme_challenge import CONTENT_TYPE, key_authorization
from .errors import error_response
from .listener import OWN_HEADERS, ListenerHandler, request_target
from .routing import split_host

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


class RedirectHandler(ListenerHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        listener = self.listener
        port = listener.redirect_port
        self.port_suffix = "" if port == 443 else f":{port}"
        self.acme_challenge_dir = listener.acme_challenge_dir

    async def handle(self, request: web.BaseRequest, peer: str) -> web.StreamResponse:
        target = request_target(request)
        if self.acme_challenge_dir is not None and request.method in ("GET", "HEAD"):
            answer = key_authorization(self.acme_challenge_dir, target)
            if answer is not None:
                return web.Response(
                    body=answer, content_type=CONTENT_TYPE, headers=dict(OWN_HEADERS)
                )
        host = location_host(request.headers.get("Host", ""))
        if host is None:
            return error_response(400, close=True)
        location = f"https://{host}{self.port_suffix}{target}"
        return web.Response(
            status=308,
            headers={"Location": location, **OWN_HEADERS},
            text=f"Moved to {location}\n",
        )


def location_host(host_header: str) -> str | None:
    """The host of a ``Host`` header (``host[:port]``, RFC 9110 7.2) fit for Location:
    lower-case, a DNS name, an IPv4 address or a bracketed IPv6 literal; None when the
    header is anything else (``[::1]junk``, a zone index, quotes)."""
    host, port = split_host(host_header)
    if port is not None and not port.isdigit():
        return None
    if host_header.lower() != (host if port is None else f"{host}:{port}"):
        return None
    return host if host and is_plain_host(host) else None


def is_plain_host(host: str) -> bool:
    """A DNS name, IPv4 or bracketed IPv6 literal (lower-case): safe to put in Location."""
    if host.startswith("[") and host.endswith("]"):
        literal = host[1:-1]
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return False
        return "%" not in literal  # a zone index means nothing to another machine
    return set(host) <= _NAME_CHARS

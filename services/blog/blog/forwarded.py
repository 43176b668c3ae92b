"""Who is the client? Trusted reverse proxies and their X-Forwarded-* headers.

X-Forwarded-For is read only when the TCP peer is a configured trusted proxy, and
then right to left, skipping further trusted proxies: the first untrusted address
is the client. Anything further left was written by the client and is ignored.

Trusted proxies may be host names (the kit's `proxy` container). They are resolved
at request time and cached briefly, because the proxy starts after the blog; an
address not in the cache makes the name be looked up again (at most every
REFRESH_ON_MISS seconds), so a recreated proxy with a new address is known at once.

With trusted proxies configured, the blog answers only them and loopback (its own
health check): any other peer gets 403. On Docker's internal network the host
itself has an address (the bridge's gateway) and could otherwise open the blog
over plain HTTP, around the proxy's TLS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from .config import HOST_PATTERN

log = logging.getLogger("blog.forwarded")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded")
RESOLVED_TTL = 30.0
FAILED_TTL = 5.0
# Docker's DNS on an internal network waits ~10 s forwarding names it does not know;
# a request must never wait that long on who its peer is.
RESOLVE_TIMEOUT = 1.0
REFRESH_ON_MISS = 2.0
ONLY_THROUGH_PROXY = (
    "This blog answers only through its reverse proxy (BLOG_TRUSTED_PROXIES); open it at the"
    " proxy's https:// address."
)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    ip: IPAddress | None
    # True when the request came straight from a loopback peer with no forwarding headers.
    direct_local: bool
    via_trusted_proxy: bool


CLIENT = web.RequestKey("client", ClientInfo)


def parse_ip(text: str) -> IPAddress | None:
    """One address from a forwarding field (``1.2.3.4``, ``1.2.3.4:80``, ``[v6]:80``),
    IPv4-mapped IPv6 as IPv4; None for anything else, including an IPv6 zone index
    (``fe80::1%eth0``: it means nothing beyond the sender's machine, and its free text
    would reach the logs)."""
    text = text.strip()
    if "%" in text:
        return None
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


Resolver = Callable[[str], Awaitable[list[str]]]


async def resolve_host(name: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class TrustedProxies:
    """Static networks plus host names resolved with a short cache."""

    def __init__(self, entries: Iterable[str], resolver: Resolver = resolve_host) -> None:
        self.networks: list[IPNetwork] = []
        self.names: list[str] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.append(entry)
        self._resolver = resolver
        # name -> (looked up at, valid until, addresses)
        self._cache: dict[str, tuple[float, float, frozenset[IPAddress]]] = {}

    def __bool__(self) -> bool:
        return bool(self.networks or self.names)

    async def _addresses_of(self, name: str, looking_for: IPAddress) -> frozenset[IPAddress]:
        now = time.monotonic()
        cached = self._cache.get(name)
        if cached and cached[1] > now:
            if looking_for in cached[2] or now - cached[0] < REFRESH_ON_MISS:
                return cached[2]
        try:
            addresses = await asyncio.wait_for(self._resolver(name), RESOLVE_TIMEOUT)
            found = frozenset(a for a in map(parse_ip, addresses) if a)
            expires = now + RESOLVED_TTL
        except (OSError, TimeoutError) as exc:
            # Expected while the proxy container is not up yet; retry soon.
            log.debug("trusted proxy %s does not resolve: %s", name, exc)
            found, expires = frozenset(), now + FAILED_TTL
        self._cache[name] = (now, expires, found)
        return found

    async def contains(self, address: IPAddress | None) -> bool:
        if address is None:
            return False
        if any(address in network for network in self.networks):
            return True
        for name in self.names:
            if address in await self._addresses_of(name, address):
                return True
        return False


def _forwarded_for(request: web.Request) -> list[str]:
    hops: list[str] = []
    for value in request.headers.getall("X-Forwarded-For", []):
        hops.extend(part.strip() for part in value.split(",") if part.strip())
    return hops


async def client_info(request: web.Request, proxies: TrustedProxies) -> ClientInfo:
    """Who the client is; raises HTTPForbidden for a peer that is neither a trusted proxy
    nor loopback when trusted proxies are configured."""
    peer = parse_ip(request.remote or "")
    has_forwarding = any(h in request.headers for h in FORWARDING_HEADERS)
    direct_local = bool(peer and peer.is_loopback and not has_forwarding)
    loopback = bool(peer and peer.is_loopback)
    # A loopback request without forwarding headers (the health check, every 5 s) is
    # served whoever the proxies are: no name lookup for it.
    peer_trusted = (
        bool(proxies) and (has_forwarding or not loopback) and await proxies.contains(peer)
    )
    if proxies and not peer_trusted and not loopback:
        raise web.HTTPForbidden(text=ONLY_THROUGH_PROXY)
    if not has_forwarding or not peer_trusted:
        return ClientInfo(ip=peer, direct_local=direct_local, via_trusted_proxy=False)
    client = peer
    for hop in reversed(_forwarded_for(request)):
        address = parse_ip(hop)
        if address is None:
            break  # garbage: stop at the last address we could trust
        client = address
        if not await proxies.contains(address):
            break
    return ClientInfo(ip=client, direct_local=direct_local, via_trusted_proxy=True)


def credentials_private(request: web.Request) -> bool:
    """Whether a password or session cookie in this request stayed off the network in clear.

    True when the request is HTTPS as the trusted proxy reported it (``request.secure``,
    set from ``X-Forwarded-Proto`` by ``forwarded_middleware``), or when it came straight
    from a loopback peer with no forwarding fields (the blog run on a desktop and opened
    at ``http://127.0.0.1``). Anything else, e.g. a proxy listener that serves plain HTTP,
    is refused: logins travel only inside TLS (README, "Three ways"; RFC 6265 section 8.6
    on cookies over insecure channels). The one rule for logins and sessions.
    """
    return request.secure or request[CLIENT].direct_local


def _scheme(values: Iterable[str]) -> str | None:
    """The scheme X-Forwarded-Proto reports: ``http`` if any hop says so (a chain that
    appends must not turn a plain-HTTP leg into HTTPS), else the last value, lowercased
    (RFC 3986 3.1: schemes are case-insensitive); None when absent or empty."""
    hops = [v.strip().lower() for value in values for v in value.split(",") if v.strip()]
    if "http" in hops:
        return "http"
    return hops[-1] if hops else None


def _first(value: str | None) -> str | None:
    if not value:
        return None
    return value.split(",")[0].strip() or None


def forwarded_middleware(proxies: TrustedProxies) -> web.Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: web.Handler) -> web.StreamResponse:
        info = await client_info(request, proxies)
        request[CLIENT] = info  # on the original too: the access log gets that one
        if info.via_trusted_proxy:
            # Scheme and host as the browser saw them: absolute URLs in feeds need them.
            proto = _scheme(request.headers.getall("X-Forwarded-Proto", ()))
            host = _first(request.headers.get("X-Forwarded-Host"))
            changes: dict[str, str] = {"remote": str(info.ip)}
            if proto in ("http", "https"):
                changes["scheme"] = proto
            if host and HOST_PATTERN.match(host):
                changes["host"] = host
            request = request.clone(**changes)  # type: ignore[arg-type]
            request[CLIENT] = info
        return await handler(request)

    return middleware

"""The keep-alive connection pools toward the backends (choosing one: ``balancer``).

``Upstream`` holds both pools of a generation: the lean one for bodiless GET and HEAD
(``backend_pool``) and one aiohttp ``ClientSession`` for the rest (request bodies,
WebSocket upgrades, health checks). The session is set up to be a transparent
forwarder: no cookie jar (clients must never share cookies), no automatic headers,
no decompression, no redirects followed.
"""

from __future__ import annotations

import aiohttp

from .backend_pool import BackendPool
from .config import Limits

SKIP_AUTO_HEADERS = frozenset(("User-Agent", "Accept", "Accept-Encoding", "Content-Type"))


def client_session(limits: Limits) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=0,  # the front side's max_connections already bounds concurrency
        keepalive_timeout=30,
        ttl_dns_cache=10,  # containers get new addresses when recreated
        enable_cleanup_closed=False,
    )
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=limits.backend_connect_timeout,
        sock_read=limits.backend_read_timeout,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        skip_auto_headers=SKIP_AUTO_HEADERS,
        trust_env=False,
        read_bufsize=64 * 1024,
        max_line_size=limits.max_header_bytes * 8,
        max_field_size=limits.max_header_bytes * 8,
    )


class Upstream:
    """The backend pools of one configuration generation, closed together."""

    def __init__(self, limits: Limits) -> None:
        self.session = client_session(limits)
        self.lean = BackendPool(limits)

    @property
    def closed(self) -> bool:
        return self.session.closed

    async def close(self) -> None:
        self.lean.close()
        await self.session.close()

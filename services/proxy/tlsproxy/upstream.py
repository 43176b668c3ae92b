"""The keep-alive connection pool toward the backends (choosing one: ``balancer``).

One aiohttp ``ClientSession`` pools connections per backend host and port. It is set
up to be a transparent forwarder: no cookie jar (clients must never share cookies),
no automatic headers, no decompression, no redirects followed.
"""

from __future__ import annotations

import aiohttp

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

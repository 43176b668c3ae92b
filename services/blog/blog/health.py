"""The container health check: ``python -m blog.health`` (also ``blogctl healthcheck``).

Docker runs it every 5 seconds for as long as the blog runs, so it imports only the
settings and the standard library's http.client: not aiohttp, the database or the
password hasher (a few milliseconds of CPU instead of a few hundred).
"""

from __future__ import annotations

import http.client
import sys

from .config import ConfigError, Settings, load_settings


def _local_host(settings: Settings) -> str:
    # A wildcard bind is reachable on loopback; a specific address only on itself.
    host = settings.bind
    if host in ("0.0.0.0", "", "*"):  # noqa: S104 - comparing, not binding
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def healthcheck_url(settings: Settings) -> str:
    host = _local_host(settings)
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}/healthz"


def check(settings: Settings, timeout: float = 3.0) -> tuple[bool, str]:
    """(healthy, what to print) from GET /healthz on the local server."""
    url = healthcheck_url(settings)
    connection = http.client.HTTPConnection(_local_host(settings), settings.port, timeout=timeout)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as exc:
        return False, f"unhealthy: {url}: {exc}"
    finally:
        connection.close()
    if response.status != 200:
        return False, f"unhealthy: {url}: HTTP {response.status}"
    return True, "healthy"


def main(timeout: float = 3.0) -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"blog healthcheck: configuration error: {exc}", file=sys.stderr)
        return 2
    healthy, text = check(settings, timeout)
    print(text, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())

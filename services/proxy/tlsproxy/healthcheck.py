"""``python -m tlsproxy healthcheck``: ask this proxy's first listener for /healthz.

Used as the container HEALTHCHECK (the image has no curl). It checks liveness of the
local process, so TLS is not verified (the certificate names the public host).
"""

from __future__ import annotations

import http.client
import ssl

from .config import Config

TIMEOUT_SECONDS = 5.0


def local_address(address: str) -> str:
    if address == "0.0.0.0":  # noqa: S104 - mapping the wildcard to loopback
        return "127.0.0.1"
    if address == "::":
        return "::1"
    return address


def check_health(config: Config, port: int | None = None) -> tuple[bool, str]:
    """(healthy, what was seen) for the first listener; ``port`` overrides (tests)."""
    listener = config.listeners[0]
    host = local_address(listener.address)
    port = port or listener.port
    connection: http.client.HTTPConnection
    if listener.kind == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, port, timeout=TIMEOUT_SECONDS, context=ctx)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", config.server.health_path, headers={"Host": "localhost"})
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{listener.label}: {exc}"
    finally:
        connection.close()
    return response.status == 200, f"{listener.label}: HTTP {response.status}"

"""The resumed-handshake load: one TLS connection after another, each resuming the
session of the one before (RFC 8446 2.2), each asking for one small page.

``python -m blogkit_bench.resume_client URL SECONDS CA_FILE`` prints one JSON line:
connections made, how many of them resumed, the seconds taken, bytes read. wrk
cannot be told to resume sessions, and ``openssl s_time -reuse`` asks in HTTP/1.0
without a Host (which our proxy refuses), so the load is this small loop; it runs
alone on the client core, and the proxy's CPU is what is divided per connection.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import time
from urllib.parse import urlsplit


def main() -> None:
    url, seconds, ca = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 443
    request = (
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    ).encode()
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False  # the certificate names the kit's host, not the address
    session = None
    made = resumed = received = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        with socket.create_connection((host, port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
                tls.sendall(request)
                while chunk := tls.recv(65536):  # the answer, and TLS 1.3's tickets
                    received += len(chunk)
                made += 1
                resumed += tls.session_reused
                session = tls.session
    print(
        json.dumps(
            {
                "connections": made,
                "resumed": resumed,
                "seconds": time.monotonic() - started,
                "bytes": received,
            }
        )
    )


if __name__ == "__main__":
    main()

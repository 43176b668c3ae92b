"""After ``101 Switching Protocols`` (a WebSocket, RFC 6455): a byte tunnel between the
client and the backend connection, with flow control both ways and an idle limit.

Frames are not parsed: both ends of a WebSocket validate their own. The proxy has
already checked the handshake (``websocket_accept``), so a backend that answers 101
to anything but the upgrade the client asked for never gets a tunnel.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backend_connection import BackendConnection
    from .client_connection import ClientConnection

_WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


def websocket_accept(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``Sec-WebSocket-Key``
    (RFC 6455 4.2.2): base64(SHA-1(key + GUID))."""
    digest = hashlib.sha1(key.strip().encode("latin-1") + _WEBSOCKET_GUID).digest()  # noqa: S324
    return base64.b64encode(digest).decode("ascii")


class Tunnel:
    """Relays bytes both ways until either side closes or ``idle_timeout`` seconds pass
    with no byte in either direction."""

    def __init__(
        self, client: ClientConnection, backend: BackendConnection, idle_timeout: float
    ) -> None:
        self.client = client
        self.backend = backend
        self.idle_timeout = idle_timeout
        self.last = client.loop.time()
        backend.switch_to_tunnel(self.from_backend, self.backend_congested, self.backend_lost)
        held = client.switch_to_tunnel(self.from_client, self.next_deadline)
        if held:
            backend.send(held)

    def from_client(self, data: bytes) -> None:
        self.last = self.client.loop.time()
        self.backend.send(data)

    def from_backend(self, data: bytes) -> None:
        self.last = self.client.loop.time()
        self.client.write(data)

    def backend_congested(self, congested: bool) -> None:
        self.client.backend_congested(congested)

    def client_congested(self, congested: bool) -> None:
        self.backend.pause_reading(congested)

    def backend_lost(self) -> None:
        self.client.close()

    def client_lost(self) -> None:
        self.backend.close()

    def next_deadline(self, now: float) -> float | None:
        deadline = self.last + self.idle_timeout
        if now < deadline:
            return deadline
        self.client.close()
        self.backend.close()
        return None

"""The plain-HTTP listener that only redirects: 308 to the same host, path and query
over HTTPS, on the public HTTPS port (omitted when it is 443).

The host comes from the validated Host field (``host``), so nothing a client typed
other than a plain host name or address reaches ``Location``; the path is the
normalized one (``target``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import Answer
from .listener import ListenerHandler, own_fields

if TYPE_CHECKING:
    from .client_connection import ClientConnection
    from .request import RequestHead


class RedirectHandler(ListenerHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        port = self.listener.redirect_port
        self.port_suffix = "" if port == 443 else f":{port}"

    def handle(self, client: ClientConnection, request: RequestHead) -> None:
        location = f"https://{request.host.host}{self.port_suffix}{request.target.origin_form}"
        client.answer(
            Answer(308, f"Moved to {location}\n".encode(), own_fields(("Location", location)))
        )

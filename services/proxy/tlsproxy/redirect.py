"""The plain-HTTP listener that only redirects: 308 to the same host, path and query
over HTTPS, on the public HTTPS port (omitted when it is 443). ACME HTTP-01 validation
requests are answered first (``acme_challenge``), when ``acme_challenge_dir`` is set.

The host comes from the validated Host field (``host``), so nothing a client typed
other than a plain host name or address reaches ``Location``; the path is the
normalized one (``target``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .acme_challenge import CONTENT_TYPE, key_authorization
from .errors import Answer
from .fields import Fields
from .listener import ListenerHandler, own_fields

if TYPE_CHECKING:
    from .client_connection import ClientConnection
    from .request import RequestHead


class RedirectHandler(ListenerHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        port = self.listener.redirect_port
        self.port_suffix = "" if port == 443 else f":{port}"
        self.acme_challenge_dir = self.listener.acme_challenge_dir

    def handle(self, client: ClientConnection, request: RequestHead) -> None:
        target = request.target.origin_form
        if self.acme_challenge_dir is not None and request.method in ("GET", "HEAD"):
            answer = key_authorization(self.acme_challenge_dir, target)
            if answer is not None:
                fields = Fields.of((("Content-Type", CONTENT_TYPE), ("Cache-Control", "no-store")))
                client.answer(Answer(200, answer, fields))
                return
        location = f"https://{request.host.host}{self.port_suffix}{target}"
        client.answer(
            Answer(308, f"Moved to {location}\n".encode(), own_fields(("Location", location)))
        )

"""What every listener answers itself before its own work: ``server.health_path``;
and the HSTS value its answers carry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import Answer, error_answer
from .fields import Fields

if TYPE_CHECKING:
    from .client_connection import ClientConnection
    from .config import Config, Listener
    from .request import RequestHead

TEXT_PLAIN = "text/plain; charset=utf-8"
METHOD_NOT_ACCEPTED = "This method is not accepted on this port."


def own_fields(*extra: tuple[str, str]) -> Fields:
    """Fields of an answer the proxy makes itself: plain text, never cached."""
    return Fields.of((("Content-Type", TEXT_PLAIN), ("Cache-Control", "no-store"), *extra))


def hsts_value(config: Config) -> str | None:
    """``Strict-Transport-Security`` for HTTPS listeners (RFC 6797), None when off."""
    if config.tls.hsts_max_age <= 0:
        return None
    value = f"max-age={config.tls.hsts_max_age}"
    return value + "; includeSubDomains" if config.tls.hsts_include_subdomains else value


class ListenerHandler:
    """Base of the per-listener handlers; subclasses implement ``handle``."""

    def __init__(self, config: Config, listener: Listener) -> None:
        self.config = config
        self.listener = listener
        self.scheme = "https" if listener.kind == "https" else "http"
        self.health_path = config.server.health_path
        self.methods = listener.methods

    def dispatch(self, client: ClientConnection, request: RequestHead) -> None:
        """Answer ``request`` (its head passed every rule of ``request.RequestHead``)."""
        if request.target.path == self.health_path and request.method in ("GET", "HEAD"):
            client.answer(Answer(200, b"ok\n", own_fields()))
            return
        if self.methods and request.method not in self.methods:
            # 501 as Pound answers a method its xHTTP level does not accept.
            client.answer(error_answer(501, explanation=METHOD_NOT_ACCEPTED))
            return
        self.handle(client, request)

    def handle(self, client: ClientConnection, request: RequestHead) -> None:
        raise NotImplementedError

"""Who may use a route: client networks (allow/deny), a client certificate (mutual
TLS, verified by the listener's ``client_ca`` in the handshake) and HTTP Basic
authentication.

Checked after routing and before any backend work, cheapest first. Routes without
such settings get no ``RouteAccess`` at all. The client address is the TCP peer,
which cannot be spoofed (a forwarded field can).
"""

from __future__ import annotations

import ipaddress

from .basic_auth import BasicAuthGuard, FailureThrottle
from .config import Route
from .errors import NO_CLIENT_CERTIFICATE, Answer, error_answer
from .fields import Fields, wire_value

# Set toward the backend by the proxy only; a client's own copies are always dropped.
USER_HEADER = "X-Forwarded-User"
SUBJECT_HEADER = "X-Client-Cert-Subject"


class RouteAccess:
    def __init__(self, route: Route) -> None:
        self.allow = route.allow
        self.deny = route.deny
        self.client_cert_required = route.client_cert_required
        self.auth: BasicAuthGuard | None = None
        if route.basic_auth is not None:
            settings = route.basic_auth
            throttle = FailureThrottle(settings.max_failures, settings.lockout)
            self.auth = BasicAuthGuard(settings, throttle)

    @staticmethod
    def for_route(route: Route) -> RouteAccess | None:
        if route.allow or route.deny or route.basic_auth or route.client_cert_required:
            return RouteAccess(route)
        return None

    def network_allows(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False  # no peer address: the lists cannot be applied
        if any(address in network for network in self.deny):
            return False
        return not self.allow or any(address in network for network in self.allow)

    def refuse(self, peer: str, fields: Fields) -> Answer | None:
        """The answer refusing by network or client certificate, or None to go on
        (``fields``: what goes to the backend, with the client subject if any)."""
        if (self.allow or self.deny) and not self.network_allows(peer):
            return error_answer(403)
        if self.client_cert_required and SUBJECT_HEADER.lower() not in fields:
            return error_answer(403, explanation=NO_CLIENT_CERTIFICATE)
        return None


def admit_user(fields: Fields, user: str) -> None:
    """A verified Basic-auth user: the backend learns the name (UTF-8, as it was typed),
    never the password."""
    fields.remove("authorization")
    fields.set(USER_HEADER, wire_value(user))

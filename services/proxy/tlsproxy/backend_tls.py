"""TLS toward ``https://`` backends (Pound's ``HTTPS`` backends).

The backend's certificate is verified by default, against the system's CAs (which
``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` can replace) or the route's ``tls_ca``, and its
name against the host in the backend's URL. ``tls_verify = false`` turns that off
(printed as a warning at start): the connection is then encrypted but anyone on the
way can stand in for the backend.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path

from .config import Backend


def backend_context(backend: Backend) -> ssl.SSLContext | None:
    """The client context for ``backend``, None for plain HTTP; built once per setting."""
    if backend.scheme != "https":
        return None
    return _context(backend.tls_ca, backend.tls_verify)


@functools.lru_cache(maxsize=32)
def _context(ca: Path | None, verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx

"""Rewrites of backend response headers that would expose the backend's own address.

A backend that only knows its internal name (``http://blog:4334``) may redirect to it
or scope cookies to it; the client cannot reach that, so ``Location`` is moved to the
public origin and a cookie ``Domain`` naming the backend is dropped, which makes the
cookie host-only on the public name (stricter than any domain we could put there).
"""

from __future__ import annotations

from .config import Backend


class BackendRewriter:
    """Prepared prefixes of one backend's internal origin."""

    def __init__(self, backend: Backend) -> None:
        host = f"[{backend.host}]" if ":" in backend.host else backend.host
        origins = [f"http://{host}:{backend.port}"]
        if backend.port == 80:
            origins.append(f"http://{host}")
        # Longest first so "http://blog:4334" wins over "http://blog" with port 80.
        self._origins = tuple(sorted({o.lower() for o in origins}, key=len, reverse=True))
        self._host = backend.host.lower()

    def location(self, value: str, public_origin: str) -> str:
        lower = value.lower()
        for origin in self._origins:
            if lower.startswith(origin):
                rest = value[len(origin) :]
                if not rest or rest[0] in "/?#":
                    return public_origin + (rest or "/")
        return value

    def set_cookie(self, value: str) -> str:
        if "domain=" not in value.lower():
            return value
        parts = value.split(";")
        kept = [parts[0]]
        for attribute in parts[1:]:
            name, _, domain = attribute.partition("=")
            if (
                name.strip().lower() == "domain"
                and domain.strip().lstrip(".").lower() == self._host
            ):
                continue
            kept.append(attribute)
        return ";".join(kept)

"""Hop-by-hop headers (RFC 9110 section 7.6.1): meaningful for one connection only.

They are removed in both directions, together with any header the ``Connection``
header names, so a client cannot, for example, ask the proxy to drop a header the
backend relies on.
"""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy, istr

HOP_BY_HOP = frozenset(
    istr(name)
    for name in (
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    )
)


def connection_listed(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> frozenset[str]:
    """Lower-case names the ``Connection`` header lists (``close`` and ``keep-alive`` too)."""
    values = headers.getall("Connection", ())
    if not values:
        return frozenset()
    return frozenset(
        token.strip().lower() for value in values for token in value.split(",") if token.strip()
    )


def end_to_end(
    headers: CIMultiDictProxy[str] | CIMultiDict[str], also_drop: frozenset[str] = frozenset()
) -> CIMultiDict[str]:
    """A copy of ``headers`` without hop-by-hop ones and without ``also_drop`` (lower-case)."""
    listed = connection_listed(headers)
    result: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        lower = name.lower()
        if name in HOP_BY_HOP or lower in listed or lower in also_drop:
            continue
        result.add(name, value)
    return result

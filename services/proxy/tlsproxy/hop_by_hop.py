"""Hop-by-hop fields (RFC 9110 section 7.6.1): meaningful for one connection only.

They are removed in both directions, together with any field the ``Connection``
field names, so a client cannot, for example, ask the proxy to drop a field the
backend relies on. Framing (``Content-Length``, ``Transfer-Encoding``) is always the
proxy's own: it describes the bytes the proxy sends, never the ones it received.
"""

from __future__ import annotations

from .fields import Fields, list_tokens

HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    )
)


def connection_listed(fields: Fields) -> frozenset[str]:
    """Lower-case names the ``Connection`` field lists (``close`` and ``keep-alive`` too)."""
    return frozenset(list_tokens(fields.get_all("connection")))


def dropping(also_drop: frozenset[str]) -> frozenset[str]:
    """The names ``end_to_end`` drops besides ``also_drop``: computed once per caller."""
    return HOP_BY_HOP | also_drop


def end_to_end(
    fields: Fields, dropped: frozenset[str] = HOP_BY_HOP, prefixes: tuple[str, ...] = ()
) -> Fields:
    """A copy of ``fields`` without the lower-case names in ``dropped`` (hop-by-hop ones
    at least: ``dropping``), those starting with one of ``prefixes``, and those
    ``Connection`` lists. A name spelt with underscores for dashes counts as that name:
    CGI and WSGI read ``X_Forwarded_For`` as ``X-Forwarded-For`` (nginx drops such names
    altogether)."""
    lines = fields.lines
    for line in lines:
        if line[0] == "connection":
            dropped = dropped | connection_listed(fields)
            break
    return Fields([line for line in lines if not _dropped(line[0], dropped, prefixes)])


def _dropped(name: str, dropped: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    if "_" in name:
        name = name.replace("_", "-")
    return name in dropped or (bool(prefixes) and name.startswith(prefixes))

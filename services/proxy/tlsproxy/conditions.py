"""Route ``match`` conditions: tests of one part of a request, combined by ``all`` /
``any`` groups and ``negate`` (Pound's ``Match AND|OR`` and ``Not``).

Each leaf's pattern was compiled once at load (``config.match_pattern``) and is used
with ``search`` on the part it tests:

- ``url``: the normalized path with the query as received (``/a/b?x=1``);
- ``path``: the normalized path; ``query``: the query without ``?`` (``""`` if none);
- ``query_param``: the raw value of every parameter of that name (``a=1&a=2``: both);
  a parameter without ``=`` has no value and never matches;
- ``header``: every field line as ``Name: value`` (Pound's ``Header``);
- ``host``: the Host name, lower-case, without its port; ``method``: the method;
- ``client``: the peer address inside one of the networks.

Successful regex matches can be kept (``captures``, most recent last) for the
``{N}`` references of a redirect's location (``replies``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Condition
    from .request import RequestHead


def all_hold(
    conditions: Sequence[Condition],
    request: RequestHead,
    peer: str,
    captures: list[re.Match[str]] | None = None,
) -> bool:
    """Whether every condition holds (a route's ``match`` list is an implicit ``all``)."""
    return all(holds(c, request, peer, captures) for c in conditions)


def holds(
    condition: Condition,
    request: RequestHead,
    peer: str,
    captures: list[re.Match[str]] | None = None,
) -> bool:
    """Whether ``condition`` holds; its matches are appended to ``captures`` (when
    given) only if it holds and is not negated."""
    found: list[re.Match[str]] | None = None
    if captures is not None and not condition.negate:
        found = []
    if condition.children:
        combine = all if condition.subject == "all" else any
        result = combine(holds(child, request, peer, found) for child in condition.children)
    elif condition.subject == "client":
        result = _client_in(peer, condition)
    else:
        match = _first_match(condition, request)
        result = match is not None
        if match is not None and found is not None:
            found.append(match)
    if condition.negate:
        return not result
    if result and found and captures is not None:
        captures.extend(found)
    return result


def _client_in(peer: str, condition: Condition) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in condition.networks)


def _first_match(condition: Condition, request: RequestHead) -> re.Match[str] | None:
    pattern = condition.pattern
    assert pattern is not None
    for text in _subject_values(condition, request):
        match = pattern.search(text)
        if match is not None:
            return match
    return None


def _subject_values(condition: Condition, request: RequestHead) -> Iterable[str]:
    subject = condition.subject
    if subject == "path":
        return (request.target.route,)  # as routes match it (target.route_path)
    if subject == "url":
        return (request.target.origin_form,)
    if subject == "query":
        return (request.target.query[1:],)
    if subject == "host":
        return (request.host.host,)
    if subject == "method":
        return (request.method,)
    if subject == "header":
        return (f"{name}: {value}" for name, value in request.fields)
    return query_values(request.target.query[1:], condition.name)


def query_values(query: str, name: str) -> Iterator[str]:
    """The raw values of parameter ``name`` in ``query`` (``a=1&b=2``, no ``?``)."""
    for pair in query.split("&"):
        key, sep, value = pair.partition("=")
        if sep and key == name:
            yield value

"""What HTTP caching (RFC 9111) says about one request or one response, as pure
functions of their fields and the time: which requests the cache may answer, which
responses it may store and for how long, how old a stored response is, which
stored variant a request selects (``Vary``) and when a client's own conditional
request is answered 304 (RFC 9110 13.1).

The cache is shared, so every rule leans the safe way: a response is stored only
when its backend said so explicitly (RFC 9111 3, narrowed), anything that names a
user (``Authorization``, a configured session cookie, a client certificate, a
``Set-Cookie``, ``private``) keeps the exchange out of the cache, and a malformed
lifetime counts as already stale (RFC 9111 4.2.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import mktime_tz, parsedate_tz

from .access import SUBJECT_HEADER
from .fields import Fields, list_tokens
from .request import RequestHead

# Statuses a response may be stored with (RFC 9110 15.1's heuristically cacheable ones
# that make sense for a reverse proxy; 206 never: ranges are not cached here).
STORABLE_STATUSES = frozenset((200, 203, 204, 300, 301, 308, 404, 410))
# What a 304 repeats of the stored response (RFC 9110 15.4.5).
NOT_MODIFIED_FIELDS = frozenset(
    ("cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified")
)
# A client's conditional fields: answered by the cache from the stored response, never
# forwarded on a fill (the fill needs the whole response, not the client's 304).
CLIENT_CONDITIONALS = frozenset(("if-none-match", "if-modified-since"))
# Requests the cache leaves to the backend: a user's credentials (RFC 9111 3.5: a
# user's answer, not the public one), preconditions it does not evaluate and ranges
# (RFC 9110 13.1.1, 13.1.4, 13.1.5, 14.2).
_PASSED_FIELDS = frozenset(
    ("authorization", "range", "if-range", "if-match", "if-unmodified-since")
)
# Fields never stored with a response: the cache writes its own Age (RFC 9111 5.1).
UNSTORED_FIELDS = frozenset(("age",))
# Fields a 304 never changes in the stored response (RFC 9111 3.2).
NOT_UPDATED_FIELDS = frozenset(("age", "content-length"))
_SUBJECT = SUBJECT_HEADER.lower()  # a verified client certificate: an answer for one user
MAX_DELTA = 2**31  # RFC 9111 1.2.2: larger delta-seconds are this
_ENTITY_TAG = re.compile(r'(?:W/)?"[^"]*"')


@dataclass(frozen=True, slots=True)
class Policy:
    """How a stored response may be used, in seconds (RFC 9111 4.2, RFC 5861).

    ``lifetime``: fresh while its age is below this; ``stale_while_revalidate`` /
    ``stale_if_error``: how long past that it may still be served while a revalidation
    runs / while the backend fails; ``always_revalidate``: ``no-cache``, validated
    before every use; ``never_stale``: ``must-revalidate``, ``proxy-revalidate`` or
    ``no-cache``, never served stale at all.
    """

    lifetime: float
    stale_while_revalidate: float = 0.0
    stale_if_error: float = 0.0
    always_revalidate: bool = False
    never_stale: bool = False


def cache_control(values: list[str]) -> dict[str, str | None]:
    """Directives of ``Cache-Control`` field values (RFC 9111 5.2): lower-case names,
    values unquoted, None when a directive has no value. A directive given twice with
    different values keeps the smaller number (or the first value), the safe reading
    of RFC 9111 4.2.1."""
    found: dict[str, str | None] = {}
    for value in values:
        for part in _split_list(value):
            name, sep, argument = part.partition("=")
            name = name.strip().lower()
            if not name:
                continue
            arg: str | None = _unquote(argument.strip()) if sep else None
            if name in found and found[name] is not None and arg is not None:
                old, new = _delta(found[name]), _delta(arg)
                if old is not None and new is not None and new < old:
                    found[name] = arg
                continue
            found.setdefault(name, arg)
    return found


def _split_list(value: str) -> list[str]:
    """Split a comma-separated list, keeping commas inside quoted strings."""
    parts, start, quoted, escaped = [], 0, False, False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append(value[start:index])
            start = index + 1
    parts.append(value[start:])
    return [p.strip() for p in parts if p.strip()]


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _delta(text: str | None) -> int | None:
    """delta-seconds (RFC 9111 1.2.2): digits only, capped at 2**31; None if invalid."""
    if text is None or not text.isascii() or not text.isdigit():
        return None
    return min(int(text), MAX_DELTA)


def http_date(value: str | None) -> float | None:
    """An HTTP-date (RFC 9110 5.6.7) as Unix seconds; None when absent or invalid."""
    if not value:
        return None
    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    try:
        return float(mktime_tz(parsed))
    except (OverflowError, ValueError):
        return None


def response_policy(status: int, fields: Fields, default_ttl: float) -> Policy | str:
    """The ``Policy`` of a response to a GET, or why it must not be stored.

    Stored only with an explicit lifetime (``s-maxage``, ``max-age``, ``Expires``) or
    ``public``, or, when ``default_ttl`` > 0, with a validator and no directive at
    all; never with ``no-store``, ``private``, ``Set-Cookie`` or ``Vary: *``
    (RFC 9111 3, 4.1, 5.2.2; heuristic lifetimes of 4.2.2 are not guessed).
    """
    if status not in STORABLE_STATUSES:
        return f"status {status}"
    directives = cache_control(fields.get_all("cache-control"))
    for refusal in ("no-store", "private"):
        if refusal in directives:
            return refusal
    if "set-cookie" in fields:
        return "set-cookie"
    if "*" in list_tokens(fields.get_all("vary")):
        return "vary *"
    validator = "etag" in fields or "last-modified" in fields
    lifetime = _explicit_lifetime(directives, fields)
    if lifetime is None:
        if "public" in directives:
            lifetime = 0.0
        elif default_ttl > 0 and validator:
            lifetime = default_ttl
        else:
            return "no explicit lifetime"
    always_revalidate = "no-cache" in directives
    never_stale = always_revalidate or "must-revalidate" in directives
    never_stale = never_stale or "proxy-revalidate" in directives
    stale = 0.0 if never_stale else 1.0  # RFC 5861 extensions give way to revalidation
    policy = Policy(
        lifetime=lifetime,
        stale_while_revalidate=stale * _seconds(directives, "stale-while-revalidate"),
        stale_if_error=stale * _seconds(directives, "stale-if-error"),
        always_revalidate=always_revalidate,
        never_stale=never_stale,
    )
    stale_use = policy.stale_while_revalidate or policy.stale_if_error
    if not validator and (always_revalidate or not lifetime) and not stale_use:
        return "stale at once, without a validator"
    return policy


def _explicit_lifetime(directives: dict[str, str | None], fields: Fields) -> float | None:
    """RFC 9111 4.2.1: s-maxage, then max-age, then Expires minus Date; an invalid
    value means stale (0)."""
    for name in ("s-maxage", "max-age"):
        if name in directives:
            return float(_delta(directives[name]) or 0)
    if "expires" in fields:
        expires = http_date(fields.get("expires"))
        date = http_date(fields.get("date"))
        if expires is None or date is None:
            return 0.0
        return max(0.0, expires - date)
    return None


def _seconds(directives: dict[str, str | None], name: str) -> float:
    return float(_delta(directives.get(name)) or 0)


def initial_age(fields: Fields, request_time: float, response_time: float, now: float) -> float:
    """``corrected_initial_age`` of RFC 9111 4.2.3, in seconds: ``request_time`` and
    ``response_time`` on one monotonic clock (when the request left, when its response
    head arrived), ``now`` the wall clock (Unix seconds) for comparing with ``Date``."""
    age_value = _delta(fields.get("age")) or 0
    date = http_date(fields.get("date"))
    apparent_age = max(0.0, now - date) if date is not None else 0.0
    return max(apparent_age, age_value + (response_time - request_time))


VaryKey = tuple[tuple[str, str | None], ...]


def vary_names(fields: Fields) -> tuple[str, ...]:
    """The lower-case field names a response's ``Vary`` lists, sorted, once each."""
    return tuple(sorted(set(list_tokens(fields.get_all("vary")))))


def vary_key(names: tuple[str, ...], request_fields: Fields) -> VaryKey:
    """The request's values of the ``Vary`` fields ``names`` (RFC 9111 4.1): lines
    combined, whitespace around commas removed; None for an absent field (which
    matches only an absent field)."""
    key = []
    for name in names:
        values = request_fields.get_all(name)
        combined = ",".join(part.strip() for v in values for part in v.split(","))
        key.append((name, combined if values else None))
    return tuple(key)


def not_modified(request_fields: Fields, etag: str | None, last_modified: str | None) -> bool:
    """Whether a GET or HEAD with these fields is answered 304 from a stored response
    with this ``ETag`` and ``Last-Modified`` (RFC 9110 13.1.2, 13.1.3, 13.2.2): a weak
    match of ``If-None-Match`` decides when it is there; else ``If-Modified-Since``."""
    if_none_match = request_fields.get_all("if-none-match")
    if if_none_match:
        if any(value.strip() == "*" for value in if_none_match):
            return True
        if etag is None:
            return False
        wanted = _opaque(etag)
        return any(_opaque(tag) == wanted for v in if_none_match for tag in _ENTITY_TAG.findall(v))
    since = http_date(request_fields.get("if-modified-since"))
    modified = http_date(last_modified)
    return since is not None and modified is not None and modified <= since


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def same_validator(stored: str | None, fresh: str | None) -> bool:
    """Whether a 304's ``ETag`` names the stored response (RFC 9111 4.3.4): a 304
    without one is taken for the response it was asked about."""
    return fresh is None or (stored is not None and _opaque(stored) == _opaque(fresh))


@dataclass(frozen=True, slots=True)
class CookieRule:
    """Which request cookies keep a request out of the cache: ``names``, or any
    cookie at all when ``any_cookie``."""

    names: frozenset[str]
    any_cookie: bool

    @classmethod
    def of(cls, names: tuple[str, ...]) -> CookieRule:
        return cls(frozenset(n for n in names if n != "*"), "*" in names)

    def matches(self, fields: Fields) -> bool:
        return any(self.matches_value(v) for v in fields.get_all("cookie"))

    def matches_value(self, header: str) -> bool:
        """Whether one ``Cookie`` field value (RFC 6265 5.4) names one of the cookies."""
        for pair in header.split(";"):
            name, sep, _ = pair.strip().partition("=")
            if sep and (self.any_cookie or name.strip() in self.names):
                return True
        return False


def bypass_reason(request: RequestHead, fields: Fields, cookies: CookieRule) -> str | None:
    """Why the cache must leave ``request`` to the backend (neither answer it from a
    stored response nor store what it gets), or None. ``fields`` are those going to
    the backend (a verified client certificate's subject is among them)."""
    if request.method not in ("GET", "HEAD"):
        return "method"
    if request.has_body or request.upgrade is not None:
        return "body or upgrade"
    for name, _, value in request.fields.lines:  # one pass: this runs for every request
        if name in _PASSED_FIELDS:
            return name
        if name == "cookie" and cookies.matches_value(value):
            return "cookie"
    if _SUBJECT in fields:
        return "client certificate"
    return None


def request_forbids_storing(request_fields: Fields) -> bool:
    """RFC 9111 5.2.1.5: ``no-store`` in the request's Cache-Control."""
    return "no-store" in cache_control(request_fields.get_all("cache-control"))

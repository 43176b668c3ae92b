"""The cache's memory: stored responses by key and variant, least recently used
evicted first once their bytes pass the bound, and short "pass" marks for keys whose
last answer could not be stored.

A key is the request's scheme, ``Host`` and normalized target (RFC 9111 4: the
target URI). One key holds one variant per set of request values of the fields its
last stored response's ``Vary`` named (RFC 9111 4.1); a lookup picks the variant
whose values equal the request's, never another one.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from .cache_rules import Policy, VaryKey, vary_key
from .fields import Fields

# What an entry costs beyond its body and field bytes (the Python objects around them),
# counted so that many small entries cannot exceed the bound either.
ENTRY_OVERHEAD = 1024
FIELD_OVERHEAD = 64
MAX_PASS_MARKS = 10_000


@dataclass(slots=True)
class Entry:
    """One stored response: ``fields`` as served (no framing, hop-by-hop or Age
    fields), the whole ``body``, its ``policy``; ``stored_at`` (monotonic seconds)
    when it was stored or last validated, then ``initial_age`` seconds old;
    ``failed_until``: a revalidation failed, not tried again before this time."""

    status: int
    reason: str
    fields: Fields
    body: bytes
    policy: Policy
    vary: VaryKey
    stored_at: float
    initial_age: float
    failed_until: float = 0.0
    size: int = 0
    head: bytes = b""  # ``fields`` as they go on the wire, encoded once
    etag: str | None = None
    last_modified: str | None = None

    def __post_init__(self) -> None:
        self.head = self.fields.encode()
        self.size = ENTRY_OVERHEAD + len(self.body) + len(self.head)
        self.size += FIELD_OVERHEAD * len(self.fields)
        self.etag = self.fields.get("etag")
        self.last_modified = self.fields.get("last-modified")

    def age(self, now: float) -> float:
        """RFC 9111 4.2.3 ``current_age``, in seconds."""
        return self.initial_age + (now - self.stored_at)

    def ttl(self, now: float) -> float:
        """Seconds of freshness left; negative once stale (RFC 9211 2.4)."""
        return self.policy.lifetime - self.age(now)

    def serves_on_error(self, now: float) -> bool:
        """Whether it may stand in for a failed backend now (``stale-if-error``)."""
        policy = self.policy
        return not policy.never_stale and -self.ttl(now) <= policy.stale_if_error


@dataclass(slots=True)
class _Key:
    vary: tuple[str, ...]  # the names the latest stored response's Vary listed
    variants: int  # entries stored under this key


class CacheStore:
    """Entries of one route, at most ``max_bytes`` of them (see ``Entry.size``)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple[str, VaryKey], Entry] = OrderedDict()
        self._keys: dict[str, _Key] = {}
        self._passes: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def variant(self, key: str, request_fields: Fields) -> VaryKey:
        """The request's variant of ``key``, by the Vary names stored for it."""
        known = self._keys.get(key)
        return vary_key(known.vary, request_fields) if known is not None else ()

    def find(self, key: str, variant: VaryKey) -> Entry | None:
        entry = self._entries.get((key, variant))
        if entry is not None:
            self._entries.move_to_end((key, variant))
        return entry

    def put(self, key: str, names: tuple[str, ...], entry: Entry) -> int:
        """Store ``entry`` (its ``vary`` holds the request's values of ``names``),
        replacing the same variant; evicts the least recently used beyond the bound and
        returns how many. An entry larger than the whole bound is not stored."""
        self.remove(key, entry.vary)
        if entry.size > self.max_bytes:
            return 0
        known = self._keys.setdefault(key, _Key(names, 0))
        known.vary = names
        known.variants += 1
        self._entries[(key, entry.vary)] = entry
        self.bytes += entry.size
        evicted = 0
        while self.bytes > self.max_bytes:
            old_key, old_variant = next(iter(self._entries))
            self.remove(old_key, old_variant)
            evicted += 1
        return evicted

    def remove(self, key: str, variant: VaryKey) -> None:
        entry = self._entries.pop((key, variant), None)
        if entry is None:
            return
        self.bytes -= entry.size
        known = self._keys[key]
        known.variants -= 1
        if not known.variants:
            del self._keys[key]

    def mark_pass(self, key: str, until: float) -> None:
        """Requests for ``key`` go straight to the backend until ``until``: its last
        answer could not be stored, so waiting for one another would only queue them."""
        self._passes[key] = until
        self._passes.move_to_end(key)
        if len(self._passes) > MAX_PASS_MARKS:
            self._passes.popitem(last=False)

    def passing(self, key: str, now: float) -> bool:
        until = self._passes.get(key)
        if until is None:
            return False
        if until > now:
            return True
        del self._passes[key]
        return False

    def clear_pass(self, key: str) -> None:
        self._passes.pop(key, None)

"""Login throttling per account and per client address (ASVS 2.2.1).

Two independent limits, both counting failures in a sliding window:
- per client address: after 10 failures in 15 minutes the address must wait
  15 minutes. This is what stops one attacker guessing many passwords;
- per account: from the 6th failure on, the account's next attempt waits 1, 2, 4...
  seconds, capped at 60 s. An attacker spraying from many addresses is slowed, yet can
  never hold the owner out for more than a minute at a time.
A successful login clears the address's and the account's counters.
Callers with no account (wrong first-admin setup links) pass None: only the
address limit applies, so nobody can slow every client down with bad guesses.
State is in memory: throttling is a speed bump, and a restart resets it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW = 15 * 60.0
ADDRESS_LIMIT = 10
ADDRESS_PENALTY = 15 * 60.0
ACCOUNT_FREE_FAILURES = 5
ACCOUNT_MAX_DELAY = 60.0
MAX_TRACKED = 10_000  # bounds memory under a flood of distinct names or addresses


@dataclass(slots=True)
class _Record:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._addresses: dict[str, _Record] = {}
        self._accounts: dict[str, _Record] = {}

    def retry_after(self, address: str, account: str | None) -> float:
        """Seconds the caller must wait before this attempt may be checked; 0 if allowed."""
        now = self._clock()
        records = [self._addresses.get(address)]
        if account is not None:
            records.append(self._accounts.get(account.lower()))
        waits = [record.blocked_until - now for record in records if record is not None]
        return max([0.0, *waits])

    def failure(self, address: str, account: str | None) -> None:
        now = self._clock()
        by_address = self._record(self._addresses, address, now)
        if len(by_address.failures) >= ADDRESS_LIMIT:
            by_address.blocked_until = now + ADDRESS_PENALTY
        if account is None:
            return
        by_account = self._record(self._accounts, account.lower(), now)
        excess = len(by_account.failures) - ACCOUNT_FREE_FAILURES
        if excess > 0:
            by_account.blocked_until = now + min(2.0 ** (excess - 1), ACCOUNT_MAX_DELAY)

    def success(self, address: str, account: str | None) -> None:
        self._addresses.pop(address, None)
        if account is not None:
            self._accounts.pop(account.lower(), None)

    def _record(self, table: dict[str, _Record], key: str, now: float) -> _Record:
        record = table.get(key)
        if record is None:
            if len(table) >= MAX_TRACKED:
                self._prune(table, now)
            record = table[key] = _Record()
        while record.failures and record.failures[0] < now - WINDOW:
            record.failures.popleft()
        record.failures.append(now)
        return record

    @staticmethod
    def _prune(table: dict[str, _Record], now: float) -> None:
        for key in [k for k, r in table.items() if not r.failures or r.failures[-1] < now - WINDOW]:
            del table[key]
        while len(table) >= MAX_TRACKED:  # still full: drop the oldest entries
            del table[next(iter(table))]

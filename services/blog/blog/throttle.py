"""Login throttling (OWASP ASVS 2.2.1): budgets of attempts, held under any concurrency.

Every login attempt is charged to budgets *before* its password is checked, in one
synchronous step with the check of those budgets, so a burst of concurrent requests
is counted exactly: of 200 simultaneous guesses only the budget's worth are checked.
A success gives its own charge back and resets that account's budgets, nobody else's.

Budgets, each counting attempts in a sliding WINDOW (15 minutes):

| key | limit | what it stops |
| --- | --- | --- |
| address and account | PAIR_LIMIT (5) | one client guessing one account |
| account | ACCOUNT_LIMIT (10) | many addresses (a botnet) guessing one account |
| a name that is no account | ACCOUNT_LIMIT (10) | the same answers as for an account |
| address | ADDRESS_LIMIT (30) | one client trying many accounts, or setup-link tokens |
| known browser | DEVICE_LIMIT (5) | a stolen known-browser cookie |

An address is an IPv4 address or an IPv6 /64 (one host is commonly given a whole /64).
A *known browser* sends the cookie the blog gave it at an earlier successful login of
the same account (devices.py). Its attempts are charged only to its own budget, so an
attacker who exhausts the account's or the shared address's budget (everyone behind
one NAT, or behind Docker's userland proxy, shares an address) cannot lock the owner
out of a browser she has logged in from before (OWASP's "device cookies").

Attempts with no account (wrong first-admin setup links) pass account None: only
the address budget applies. State is in memory; a restart starts from empty budgets.

Memory is bounded (MAX_TRACKED keys a table) without letting a flood reset a budget
under attack: the budgets of accounts that exist are kept in a table of their own,
never evicted (there are only as many as there are users); a name that is no account
is charged to the same kind of budget, so the answers do not tell the two apart, in a
table that forgets its least recently charged keys when full, a batch at a time. Only
the budgets of names that do not exist, of pairs and of addresses can be forgotten,
and the account's own budget still holds for each account.
"""

from __future__ import annotations

import ipaddress
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW = 15 * 60.0
PAIR_LIMIT = 5
ACCOUNT_LIMIT = 10
ADDRESS_LIMIT = 30
DEVICE_LIMIT = 5
IPV6_PREFIX = 64
MAX_TRACKED = 10_000  # keys per kind: bounds memory under a flood of names or addresses
PRUNE_BATCH = MAX_TRACKED // 8  # forgotten at once when full, so pruning is rare

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Key = tuple[str, str]  # (kind, value): one budget

LIMITS = {
    "pair": PAIR_LIMIT,
    "account": ACCOUNT_LIMIT,  # names of existing accounts: never forgotten
    "unknown": ACCOUNT_LIMIT,  # any other name: forgotten first under a flood
    "address": ADDRESS_LIMIT,
    "device": DEVICE_LIMIT,
}
KEPT = frozenset({"account"})


def address_key(address: IPAddress | None) -> str:
    """The throttling identity of a client address: IPv4 as is, IPv6 by its /64."""
    if address is None:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One admitted (charged) or refused attempt.

    retry_after: seconds until the budgets would admit it (0.0: admitted and charged).
    """

    retry_after: float
    charged: tuple[Key, ...]
    at: float
    account: str | None

    @property
    def admitted(self) -> bool:
        return self.retry_after == 0.0


class LoginThrottle:
    """Budgets of attempts per key. `clock` is monotonic seconds (tests move it);
    `is_account(name)` says whether a user of that name exists (any case)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        is_account: Callable[[str], bool] = lambda name: False,
    ) -> None:
        self.clock = clock
        self.is_account = is_account
        self._tables: dict[str, dict[str, deque[float]]] = {kind: {} for kind in LIMITS}

    def begin(
        self, address: IPAddress | None, account: str | None, device: str | None = None
    ) -> Attempt:
        """Check and charge every budget of this attempt in one step, before any await.

        `account` is the submitted user name (None for setup links); `device` the id
        of a known-browser cookie valid for that account (devices.verify), or None.
        """
        now = self.clock()
        name = account.lower() if account is not None else None
        exists = name is not None and self.is_account(name)
        keys = _keys(address_key(address), name, device, exists)
        wait = max(self._wait(key, now) for key in keys)
        if wait > 0:
            return Attempt(wait, (), now, name)
        for key in keys:
            self._history(key, now, create=True).append(now)
        return Attempt(0.0, keys, now, name)

    def succeeded(self, attempt: Attempt) -> None:
        """The password (or setup link) was right: give the charge back, reset the account."""
        for key in attempt.charged:
            history = self._history(key, attempt.at)
            if attempt.at in history:
                history.remove(attempt.at)
        if attempt.account is not None:
            self._tables["account"].pop(attempt.account, None)
            self._tables["unknown"].pop(attempt.account, None)
            suffix = "\0" + attempt.account
            pairs = self._tables["pair"]
            for key in [k for k in pairs if k.endswith(suffix)]:
                del pairs[key]

    def _wait(self, key: Key, now: float) -> float:
        history = self._history(key, now)
        excess = len(history) - LIMITS[key[0]]
        if excess < 0:
            return 0.0
        # Admitted again once enough of the oldest attempts have left the window.
        return max(history[excess] + WINDOW - now, 1e-3)

    def _history(self, key: Key, now: float, create: bool = False) -> deque[float]:
        table = self._tables[key[0]]
        history = table.get(key[1])
        if history is None:
            if not create:
                return deque()
            if len(table) >= MAX_TRACKED and key[0] not in KEPT:
                _prune(table, now)
            history = table[key[1]] = deque()
        while history and history[0] <= now - WINDOW:
            history.popleft()
        return history


def _keys(address: str, account: str | None, device: str | None, exists: bool) -> tuple[Key, ...]:
    if account is None:
        return (("address", address),)
    if device is not None:
        return (("device", device),)
    kind = "account" if exists else "unknown"
    return (("pair", address + "\0" + account), (kind, account), ("address", address))


def _prune(table: dict[str, deque[float]], now: float) -> None:
    """Forget expired keys; if the table is still nearly full, the PRUNE_BATCH least
    recently charged (one sort per batch, not per new key)."""
    for key in [k for k, h in table.items() if not h or h[-1] <= now - WINDOW]:
        del table[key]
    if len(table) >= MAX_TRACKED - PRUNE_BATCH:
        by_age = sorted(table, key=lambda k: table[k][-1])
        for key in by_age[: len(table) - MAX_TRACKED + PRUNE_BATCH]:
            del table[key]

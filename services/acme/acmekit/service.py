"""The acme service: keep a publicly trusted certificate for ACME_DOMAINS served.

Each round reads the served pair, asks the ACME server's renewal information (ARI,
RFC 9773) when its directory offers it, and orders a new certificate when there is
none, the names or the directory changed, or the renewal time has come (the ARI
window, else two thirds of the lifetime). Then it sleeps until the next renewal time,
or ACME_RENEW_INTERVAL if that comes first.

A failure changes no file (the proxy keeps serving what it had: the last good pair, or
the local CA's certificate for every name before the first one), is logged with the
likely fix, and is retried after a wait that doubles with each failure in a row, never
before a Retry-After the server gave. The account key is made once, in the service's
own volume, and the account found again with it on every start.

The process has no event loop: the synchronous ``acme`` client runs on its main thread,
and SIGTERM ends it between (or during) requests; an interrupted order leaves at most
answer files, removed on the next start. With ACME_DOMAINS empty it only idles.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from types import FrameType

import requests
from acme import client, errors, messages
from tlsproxy.certs.errors import CertsError
from tlsproxy.certs.policy import renew_after

from . import account, failures, served
from .answers import remove_leftovers
from .order import obtain
from .settings import Settings, SettingsError, settings_from

USER_AGENT = "blogkit-acme (certbot acme)"
NETWORK_TIMEOUT = 30  # seconds per request to the ACME server
STATUS_FILE = Path("/tmp/acme-running")  # noqa: S108 - the container's own tmpfs
SLACK = timedelta(seconds=1)

log = logging.getLogger("acmekit")


class Outcome(Enum):
    ISSUED = "issued"
    CURRENT = "current"
    FAILED = "failed"


@dataclass(frozen=True)
class Round:
    outcome: Outcome
    message: str  # the round's one line in the log (ERROR when it failed)
    wait: timedelta


class ErrorResponses:
    """A requests response hook that keeps the last error answer (its Retry-After)."""

    def __init__(self) -> None:
        self.last: requests.Response | None = None

    def __call__(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        if not response.ok:
            self.last = response


@dataclass
class Connection:
    acme: client.ClientV2
    account_key: account.AccountKey
    account: account.Account


class Service:
    """The rounds, with what lasts between them: the connection and the failure count."""

    def __init__(
        self, settings: Settings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.connection: Connection | None = None
        self.error_responses = ErrorResponses()  # of the current connection (or attempt)
        self.failures_in_row = 0

    def round(self) -> Round:
        """One round: decide, maybe order, and say how long to wait."""
        now = self.clock()
        try:
            connection = self.connection or self._connect()
            pair = served.read_served(self.settings)
            renew_at, ari_next = self._renewal_time(connection, pair)
            reason = served.reissue_reason(pair, self.settings, now, renew_at)
            if reason is not None:
                return self._order(connection, reason)
        except (errors.Error, messages.Error, requests.RequestException, CertsError, OSError) as e:
            return self._failed(e, served.read_served(self.settings), self.clock())
        except Exception as unexpected:  # a server answer acme could not make sense of, or a bug
            log.exception("unexpected error in this round")
            return self._failed(unexpected, served.read_served(self.settings), self.clock())
        self.failures_in_row = 0
        assert pair is not None  # no reason to reissue means a pair is served
        due = renew_at or pair.default_renewal()
        wait = self._until(due, now)
        if ari_next is not None:
            wait = min(wait, max(ari_next - now, SLACK))
        message = (
            f"certificate for {', '.join(self.settings.domains)} current (valid until "
            f"{pair.leaf.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC, renewal from "
            f"{due:%Y-%m-%d %H:%M:%S} UTC); next check in {wait}"
        )
        return Round(Outcome.CURRENT, message, wait)

    def _until(self, due: datetime, now: datetime) -> timedelta:
        """The wait until just after ``due``, at most ACME_RENEW_INTERVAL."""
        return min(max(due - now + SLACK, SLACK), self.settings.renew_interval)

    def _connect(self) -> Connection:
        settings = self.settings
        key = account.load_or_create_key(settings.account_key)
        if key.created:
            log.info("made the ACME account key %s (kept in its volume)", settings.account_key)
        self.error_responses = ErrorResponses()
        net = client.ClientNetwork(
            key.jwk,
            alg=account.ALGORITHM,
            verify_ssl=str(settings.ca_bundle) if settings.ca_bundle else True,
            user_agent=USER_AGENT,
            timeout=NETWORK_TIMEOUT,
        )
        net.session.hooks["response"].append(self.error_responses)
        acme = client.ClientV2(client.ClientV2.get_directory(settings.directory, net), net)
        found = account.register(acme, settings.contact)
        state = "made" if found.created else "found again with the key in the volume"
        log.info("ACME account %s at %s: %s", found.uri, settings.directory, state)
        if found.created and found.terms_of_service:
            log.info(
                "setting ACME_DOMAINS agrees to the ACME server's terms of service: %s",
                found.terms_of_service,
            )
        self.connection = Connection(acme, key, found)
        return self.connection

    def _renewal_time(
        self, connection: Connection, pair: served.ServedPair | None
    ) -> tuple[datetime | None, datetime | None]:
        """(renewal time from ARI, when to ask ARI again); (None, None) without ARI."""
        if pair is None:
            return None, None
        try:
            suggested, ask_again = connection.acme.renewal_time(pair.chain_pem)
        except errors.ARIError as error:
            log.warning("renewal information (ARI) unavailable (%s); using two thirds", error)
            return None, None
        if suggested is None:  # the directory offers no renewalInfo (Pebble 2.4 does not)
            return None, None
        # acme gives naive local times for "ask again"; the container's zone is UTC.
        return suggested, ask_again.astimezone(UTC)

    def _order(self, connection: Connection, reason: str) -> Round:
        settings = self.settings
        issued = obtain(
            connection.acme,
            connection.account_key.jwk,
            settings.domains,
            settings.challenge_dir,
        )
        now = self.clock()
        leaf = served.write_served(settings, issued.key, issued.fullchain_pem, now)
        self.failures_in_row = 0
        wait = self._until(renew_after(leaf), now)
        message = (
            f"certificate issued for {', '.join(settings.domains)} ({reason}) by "
            f"{leaf.issuer.rfc4514_string()}, serial {leaf.serial_number:x}, valid until "
            f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC; the proxy serves it within "
            f"seconds; next check in {wait}"
        )
        return Round(Outcome.ISSUED, message, wait)

    def _failed(self, error: Exception, pair: served.ServedPair | None, now: datetime) -> Round:
        last = self.error_responses.last
        failure = failures.explain(error, self.settings.directory, last, now)
        self.connection = None  # connect afresh next time (directory, nonces, account)
        self.failures_in_row += 1
        wait = failures.backoff(self.failures_in_row, self.settings.retry_interval, failure, now)
        kept = "the proxy keeps serving the local CA's certificate for these names"
        if pair is not None:
            end = f"{pair.leaf.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC"
            kept = (
                f"the served certificate is unchanged (valid until {end})"
                if now < pair.leaf.not_valid_after_utc
                else f"the served certificate is unchanged, but it expired at {end}: visitors "
                "get a warning until an attempt succeeds"
            )
        when = (
            f"rate limited: next attempt at {now + wait:%Y-%m-%d %H:%M:%S} UTC (Retry-After)"
            if failure.rate_limited
            else f"next attempt in {wait} ({self.failures_in_row} failed in a row)"
        )
        message = (
            f"obtaining a certificate for {', '.join(self.settings.domains)} failed; {kept}. "
            f"Reason: {failure.reason.rstrip('.')}. Likely fix: {failure.fix}. {when}."
        )
        return Round(Outcome.FAILED, message, wait)


_LEVELS = {
    Outcome.ISSUED: logging.INFO,
    Outcome.CURRENT: logging.INFO,
    Outcome.FAILED: logging.ERROR,
}


def run(
    service: Service,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
) -> list[Round]:
    """Round, log, sleep, forever (or ``rounds`` times, for tests)."""
    done: list[Round] = []
    remove_leftovers(service.settings.challenge_dir)
    while rounds is None or len(done) < rounds:
        result = service.round()
        log.log(_LEVELS[result.outcome], "%s", result.message)
        done.append(result)
        if rounds is None or len(done) < rounds:
            sleep(result.wait.total_seconds())
    return done


def idle(settings_env: Mapping[str, str]) -> None:
    """ACME off: say so (and what still lies in the volume), then wait for SIGTERM."""
    log.info("ACME is off (ACME_DOMAINS is empty): nothing to do")
    leftover = Path(settings_env.get("ACME_CERTS_DIR") or "/acme/certs") / "certificate.pem"
    if leftover.exists():
        log.warning(
            "a certificate from an earlier ACME run is still in the acme-certs volume, and the "
            "proxy serves it for its names until it expires; to serve the local CA's instead, "
            "remove it: docker compose exec acme rm %s",
            leftover,
        )
    threading.Event().wait()


def main(env: Mapping[str, str] | None = None) -> None:
    """The container's command: logs to stderr, exits 2 on bad settings, 0 on SIGTERM."""
    env = os.environ if env is None else env
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s acme %(levelname)s %(message)s"
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    try:
        settings = settings_from(env)
    except SettingsError as error:
        log.error("%s", error)
        raise SystemExit(2) from None
    signal.signal(signal.SIGTERM, stop)
    STATUS_FILE.write_text("running\n")
    if settings is None:
        idle(env)
        return
    log.info(
        "keeping a certificate for %s from %s: checked every %s at most, first retry after a "
        "failure in %s",
        ", ".join(settings.domains),
        settings.directory,
        settings.renew_interval,
        settings.retry_interval,
    )
    run(Service(settings))

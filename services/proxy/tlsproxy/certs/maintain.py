"""Keeping the server certificate current: the loop of the networkless certs service.

On start, and then every ``interval`` (CERT_RENEW_INTERVAL, default 12h) or sooner when
the certificate's renewal time comes first, it applies ensure's rules: make a CA when
there is none at all, reissue the server certificate past two thirds of its lifetime,
when its names changed or when its key does not match. The proxy picks the new pair up
by itself (it watches the files).

A failure (unreadable CA key, disk full, a corrupt file) is logged with its fix, leaves
the served files exactly as they were (writes are atomic), and is retried after
``retry`` (CERT_RETRY_INTERVAL, default 5m). When the CA key is kept off the machine on
purpose (ca.pem without ca-key.pem) nothing can be signed: the loop only warns, each
interval, once the certificate is due, with the command that renews it.

After every round the loop records until when the served pair is valid for every
configured name (``status_file``, Unix seconds; removed when nothing valid is served):
the container's health check compares it with the clock instead of starting Python.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from types import FrameType

from . import operations, report, store
from .config import ServerSettings, duration
from .errors import CertsError, RenewalNeedsCAKey, VerificationFailed
from .policy import renew_after

DEFAULT_INTERVAL = timedelta(hours=12)
DEFAULT_RETRY = timedelta(minutes=5)
SLACK = timedelta(seconds=1)  # wake just after the renewal time, not just before it
RENEW_OFFLINE = operations.RENEW_OFFLINE_COMPOSE
COPY_CA_OUT = "docker compose cp certs:/certs/ca.pem ca.pem"
STATUS_FILE = Path("/tmp/certs-valid-until")  # noqa: S108 - the container's own tmpfs

log = logging.getLogger("tlsproxy.certs")


@dataclass(frozen=True)
class Schedule:
    interval: timedelta = DEFAULT_INTERVAL
    retry: timedelta = DEFAULT_RETRY


def schedule_from(env: Mapping[str, str]) -> Schedule:
    """CERT_RENEW_INTERVAL and CERT_RETRY_INTERVAL (5s to 30d), e.g. 12h and 5m."""
    bounds = (timedelta(seconds=5), timedelta(days=30))
    interval = env.get("CERT_RENEW_INTERVAL") or "12h"
    retry = env.get("CERT_RETRY_INTERVAL") or "5m"
    return Schedule(
        duration(interval, "CERT_RENEW_INTERVAL", *bounds),
        duration(retry, "CERT_RETRY_INTERVAL", *bounds),
    )


class Outcome(Enum):
    ISSUED = "issued"  # a new server certificate (and maybe a new CA) was written
    CURRENT = "current"  # nothing to do
    DUE_OFFLINE = "due, CA key offline"  # renewal due but there is no key to sign with
    FAILED = "failed"  # nothing was changed; retried soon


@dataclass(frozen=True)
class Check:
    outcome: Outcome
    lines: list[str]
    wait: timedelta  # until the next check
    valid_until: datetime | None  # the served pair verifies until then; None: it does not


def _next(due: datetime, now: datetime, interval: timedelta) -> timedelta:
    return max(min(due - now + SLACK, interval), SLACK)


def check(settings: ServerSettings, schedule: Schedule, now: datetime) -> Check:
    """One round: decide, maybe reissue, and say when to look again."""
    folder = settings.folder
    try:
        result = operations.ensure(settings, now)
    except RenewalNeedsCAKey as due:
        return _due_offline(due, schedule, now, _serving_until(settings, now))
    except (CertsError, OSError) as error:
        return _failed(error, schedule, _serving_until(settings, now))
    wait = _next(renew_after(result.server), now, schedule.interval)
    until = result.server.not_valid_after_utc
    if result.server_reason is None:
        line = _current(until, wait)
        if result.ca_key_offline:
            line += "; the CA key is kept off this machine, a warning comes when renewal is due"
        return Check(Outcome.CURRENT, [line], wait, until)
    lines = report.ensure_lines(result, now, folder.root, Path("ca.pem"), ignored_ca_options=False)
    if result.ca_created:
        lines.insert(
            next(i for i, line in enumerate(lines) if line.startswith("Trust the CA")),
            f"Copy the CA certificate out first: {COPY_CA_OUT} (make certs does it for you)",
        )
    return Check(Outcome.ISSUED, [*lines, f"next check in {wait}"], wait, until)


def _serving_until(settings: ServerSettings, now: datetime) -> datetime | None:
    """When the served pair stops verifying for every name, or None if it does not now."""
    try:
        leaf, _ = operations.check_server(settings.folder, settings.hosts, now)
    except (CertsError, VerificationFailed, OSError):
        return None
    return leaf.not_valid_after_utc


def _current(not_after: datetime, wait: timedelta) -> str:
    return (
        f"server certificate current (valid until {not_after:%Y-%m-%d %H:%M:%S} UTC); "
        f"next check in {wait}"
    )


def _failed(error: CertsError | OSError, schedule: Schedule, valid_until: datetime | None) -> Check:
    detail = str(error)
    if isinstance(error, OSError):
        detail = f"{error.strerror or error} ({error.filename or 'certificate folder'})"
    wait = min(schedule.retry, schedule.interval)
    return Check(
        Outcome.FAILED,
        [f"renewal failed; the served certificate is unchanged. {detail} Retrying in {wait}."],
        wait,
        valid_until,
    )


def _due_offline(
    due: RenewalNeedsCAKey, schedule: Schedule, now: datetime, until: datetime | None
) -> Check:
    """Renewal is due and the CA key is kept elsewhere: a warning, each interval."""
    return Check(
        Outcome.DUE_OFFLINE,
        [
            f"the server certificate must be renewed ({due.reason}); it expires "
            f"{due.not_after:%Y-%m-%d %H:%M} UTC. The CA key is kept off this "
            f"machine, so renew it yourself with the key at hand: {RENEW_OFFLINE}"
        ],
        # Wake at expiry (the health check turns red then), else warn every interval.
        _next(due.not_after, now, schedule.interval) if until else schedule.interval,
        until,
    )


_LEVELS = {
    Outcome.ISSUED: logging.INFO,
    Outcome.CURRENT: logging.INFO,
    Outcome.DUE_OFFLINE: logging.WARNING,
    Outcome.FAILED: logging.ERROR,
}


def run(
    settings: ServerSettings,
    schedule: Schedule,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
    status_file: Path | None = None,
) -> list[Check]:
    """Check, log, sleep, forever (or ``rounds`` times, for tests); returns the checks."""
    done: list[Check] = []
    while rounds is None or len(done) < rounds:
        result = check(settings, schedule, clock())
        for line in result.lines:
            log.log(_LEVELS[result.outcome], "%s", line)
        if status_file is not None:
            write_status(status_file, result.valid_until)
        done.append(result)
        if rounds is None or len(done) < rounds:
            sleep(result.wait.total_seconds())
    return done


def write_status(path: Path, valid_until: datetime | None) -> None:
    """The health check's input: ``test $(date +%s) -lt $(cat path)``."""
    if valid_until is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    store.atomic_write(path, f"{int(valid_until.timestamp())}\n".encode(), store.CERT_MODE)


def serve(settings: ServerSettings, schedule: Schedule, status_file: Path = STATUS_FILE) -> None:
    """The service's main: logs to stderr and stops cleanly on SIGTERM (it may be PID 1)."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s certs %(levelname)s %(message)s",
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)  # a write in progress is atomic: the old file or the new one

    signal.signal(signal.SIGTERM, stop)
    log.info(
        "keeping %s current: every %s, retry after a failure in %s",
        settings.folder.server,
        schedule.interval,
        schedule.retry,
    )
    run(settings, schedule, status_file=status_file)

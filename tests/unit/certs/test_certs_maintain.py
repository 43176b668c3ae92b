"""The certs service's renewal loop: its decisions, its schedule and its failure handling."""

from __future__ import annotations

import errno
import itertools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from certs_support import HOSTS, NOW, read_cert, snapshot
from tlsproxy.certs import names, store
from tlsproxy.certs.config import ServerSettings
from tlsproxy.certs.errors import CertsError
from tlsproxy.certs.maintain import Outcome, Schedule, check, run, schedule_from

SCHEDULE = Schedule(interval=timedelta(hours=12), retry=timedelta(minutes=5))
DAY = timedelta(days=1)


def settings(directory: Path, hosts: str = HOSTS, lifetime: timedelta = 90 * DAY):
    return ServerSettings(directory=directory, hosts=names.parse_hosts(hosts), lifetime=lifetime)


def serial(directory: Path) -> int:
    return read_cert(directory / "served" / "server.pem").serial_number


def test_first_start_makes_the_ca_and_the_server_certificate(tmp_path: Path) -> None:
    result = check(settings(tmp_path / "certs"), SCHEDULE, NOW)
    assert result.outcome is Outcome.ISSUED
    assert any(line.startswith("CA created") for line in result.lines)
    assert any("docker compose cp certs:/certs/ca.pem" in line for line in result.lines)
    assert result.wait == SCHEDULE.interval
    assert (tmp_path / "certs" / "served" / "server.pem").exists()


# (days after the first issue, hosts, expected outcome)
DECISIONS = [
    (0, HOSTS, Outcome.CURRENT),
    (59, HOSTS, Outcome.CURRENT),
    (61, HOSTS, Outcome.ISSUED),  # past two thirds of 90 days
    (200, HOSTS, Outcome.ISSUED),  # expired
    (1, "localhost,127.0.0.1,::1", Outcome.ISSUED),  # names changed
    (1, HOSTS + ",outside.example", Outcome.FAILED),  # beyond the CA's name constraints
]


@pytest.mark.parametrize(("days", "hosts", "outcome"), DECISIONS)
def test_decisions(certs: Path, days: int, hosts: str, outcome: Outcome) -> None:
    before = serial(certs)
    result = check(settings(certs, hosts), SCHEDULE, NOW + days * DAY)
    assert result.outcome is outcome
    assert (serial(certs) != before) == (outcome is Outcome.ISSUED)


def test_the_next_check_comes_at_the_renewal_time_when_it_is_sooner(tmp_path: Path) -> None:
    directory = tmp_path / "certs"
    short = settings(directory, lifetime=timedelta(seconds=60))
    first = check(short, SCHEDULE, NOW)
    # Issued with 6 s of backdating: 66 s in all, renewal at two thirds = 38 s after NOW.
    assert first.wait == timedelta(seconds=38 + 1)
    assert check(short, SCHEDULE, NOW + timedelta(seconds=30)).outcome is Outcome.CURRENT
    assert check(short, SCHEDULE, NOW + first.wait).outcome is Outcome.ISSUED


def test_the_loop_keeps_a_short_lived_certificate_valid_all_the_time(tmp_path: Path) -> None:
    """Simulated minutes of a 30 s certificate: every moment is covered by a valid one."""
    directory = tmp_path / "certs"
    clock = [NOW]
    served: list[tuple[datetime, datetime]] = []

    def sleep(seconds: float) -> None:
        cert = read_cert(directory / "served" / "server.pem")
        served.append((cert.not_valid_before_utc, cert.not_valid_after_utc))
        clock[0] += timedelta(seconds=seconds)

    checks = run(
        settings(directory, lifetime=timedelta(seconds=30)),
        Schedule(interval=timedelta(seconds=20), retry=timedelta(seconds=5)),
        clock=lambda: clock[0],
        sleep=sleep,
        rounds=20,
    )
    assert {c.outcome for c in checks} == {Outcome.ISSUED}  # each wake-up is a renewal
    assert clock[0] - NOW > timedelta(minutes=5)
    for (_, not_after), (not_before, _) in itertools.pairwise(served):
        assert not_before < not_after  # the next one starts before the last one ends


def corrupt_ca_key(directory: Path) -> None:
    (directory / "ca-key.pem").write_bytes(b"-----BEGIN garbage-----\n")


def unreadable_served_folder(directory: Path) -> None:
    (directory / "served" / "server.pem").write_bytes(b"not a certificate")


FAILURES: list[tuple[str, Callable[[Path], None], str]] = [
    ("corrupt CA key", corrupt_ca_key, "ca-key.pem is not a readable"),
    ("corrupt server certificate", unreadable_served_folder, "server.pem is not a readable"),
]


@pytest.mark.parametrize(("case", "damage", "message"), FAILURES, ids=[f[0] for f in FAILURES])
def test_a_failure_changes_nothing_and_is_retried(
    certs: Path, case: str, damage: Callable[[Path], None], message: str
) -> None:
    damage(certs)
    before = snapshot(certs)
    result = check(settings(certs), SCHEDULE, NOW + 61 * DAY)
    assert result.outcome is Outcome.FAILED
    assert message in result.lines[0] and "served certificate is unchanged" in result.lines[0]
    assert result.wait == SCHEDULE.retry
    assert snapshot(certs) == before


def test_a_full_disk_leaves_the_old_pair_in_place(
    certs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(certs)

    def no_space(path: Path, data: bytes, mode: int, *, exclusive: bool = False) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(store, "atomic_write", no_space)
    result = check(settings(certs), SCHEDULE, NOW + 61 * DAY)
    assert result.outcome is Outcome.FAILED
    assert "No space left on device" in result.lines[0]
    assert snapshot(certs) == before


def test_retry_never_waits_longer_than_the_interval(certs: Path) -> None:
    corrupt_ca_key(certs)
    quick = Schedule(interval=timedelta(seconds=10), retry=timedelta(minutes=5))
    assert check(settings(certs), quick, NOW + 61 * DAY).wait == timedelta(seconds=10)


def test_recovery_after_a_failure(certs: Path) -> None:
    good_key = (certs / "ca-key.pem").read_bytes()
    corrupt_ca_key(certs)
    assert check(settings(certs), SCHEDULE, NOW + 61 * DAY).outcome is Outcome.FAILED
    (certs / "ca-key.pem").write_bytes(good_key)
    assert check(settings(certs), SCHEDULE, NOW + 61 * DAY).outcome is Outcome.ISSUED


# The CA key kept off the machine: (days later, outcome).
OFFLINE = [
    (10, Outcome.CURRENT),
    (61, Outcome.DUE_OFFLINE),
    (100, Outcome.DUE_OFFLINE),
]


@pytest.mark.parametrize(("days", "outcome"), OFFLINE)
def test_with_the_ca_key_offline_it_only_warns(certs: Path, days: int, outcome: Outcome) -> None:
    (certs / "ca-key.pem").unlink()
    before = snapshot(certs)
    result = check(settings(certs), SCHEDULE, NOW + days * DAY)
    assert result.outcome is outcome
    assert snapshot(certs) == before
    if outcome is Outcome.DUE_OFFLINE:
        assert "--ca-key - < ca-key.pem" in result.lines[0]
        assert result.wait == SCHEDULE.interval


def test_with_the_ca_key_offline_and_no_server_certificate_it_fails(certs: Path) -> None:
    (certs / "ca-key.pem").unlink()
    (certs / "served" / "server.pem").unlink()
    result = check(settings(certs), SCHEDULE, NOW)
    assert result.outcome is Outcome.FAILED
    assert "does not exist" in result.lines[0]


def test_outcomes_are_logged_at_their_level(certs: Path, caplog: pytest.LogCaptureFixture) -> None:
    corrupt_ca_key(certs)
    with caplog.at_level(logging.INFO, logger="tlsproxy.certs"):
        run(settings(certs), SCHEDULE, clock=lambda: NOW + 61 * DAY, sleep=print, rounds=1)
    assert [record.levelname for record in caplog.records] == ["ERROR"]


SCHEDULES = [
    ({}, Schedule(timedelta(hours=12), timedelta(minutes=5))),
    (
        {"CERT_RENEW_INTERVAL": "5s", "CERT_RETRY_INTERVAL": "5s"},
        Schedule(timedelta(seconds=5), timedelta(seconds=5)),
    ),
    ({"CERT_RENEW_INTERVAL": "30d"}, Schedule(30 * DAY, timedelta(minutes=5))),
]


@pytest.mark.parametrize(("env", "expected"), SCHEDULES)
def test_schedule_from_the_environment(env: dict[str, str], expected: Schedule) -> None:
    assert schedule_from(env) == expected


@pytest.mark.parametrize(
    "env",
    [
        {"CERT_RENEW_INTERVAL": "12"},  # no unit
        {"CERT_RENEW_INTERVAL": "1s"},  # too often
        {"CERT_RENEW_INTERVAL": "31d"},
        {"CERT_RETRY_INTERVAL": "soon"},
    ],
)
def test_bad_schedules_are_refused_with_the_fix(env: dict[str, str]) -> None:
    with pytest.raises(CertsError, match=r"Write a whole number with its unit.*from 5s to 30d"):
        schedule_from(env)


def test_health_follows_what_is_served(certs: Path, tmp_path: Path) -> None:
    """The status file says until when a valid pair is served, and vanishes when none is."""
    status = tmp_path / "valid-until"
    served_until = read_cert(certs / "served" / "server.pem").not_valid_after_utc
    corrupt_ca_key(certs)
    steps = [
        (NOW + 61 * DAY, served_until),  # renewal fails, the old pair is still good
        (NOW + 91 * DAY, None),  # ...until it expires
    ]
    for now, expected in steps:
        (result,) = run(settings(certs), SCHEDULE, clock=lambda now=now: now, rounds=1,
                        status_file=status)  # fmt: skip
        assert result.valid_until == expected
        if expected is None:
            assert not status.exists()
        else:
            assert status.read_text() == f"{int(expected.timestamp())}\n"


def test_an_offline_ca_key_wakes_at_expiry_then_warns_each_interval(certs: Path) -> None:
    (certs / "ca-key.pem").unlink()
    not_after = read_cert(certs / "served" / "server.pem").not_valid_after_utc
    due = check(settings(certs), SCHEDULE, not_after - timedelta(hours=1))
    assert due.outcome is Outcome.DUE_OFFLINE and due.wait == timedelta(hours=1, seconds=1)
    expired = check(settings(certs), SCHEDULE, not_after + timedelta(seconds=1))
    assert expired.valid_until is None and expired.wait == SCHEDULE.interval

"""Rounds of the service against ACME servers that refuse: nothing served changes, the
owner reads why and what to do, and the next attempt waits as it must."""

from __future__ import annotations

import re
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from acme_support import DOMAINS, NOW, MiniACME, leaf_for, make_settings, mini_acme
from acmekit import served
from acmekit.service import Outcome, Service, main

RATE_LIMITED = {
    "type": "urn:ietf:params:acme:error:rateLimited",
    "detail": "too many new accounts from this address",
}


def test_a_rate_limit_answer_is_waited_out_and_changes_nothing(tmp_path: Path) -> None:
    limited = (429, RATE_LIMITED, {"Retry-After": "7200"})
    with mini_acme(MiniACME(limited, account_problem=limited)) as server:
        directory = server.url + "/directory"
        settings = make_settings(tmp_path, directory=directory, retry_interval=timedelta(seconds=5))
        key, chain, _ = leaf_for(DOMAINS, now=NOW)
        served.write_served(settings, key, chain, NOW)  # from another directory: reissue due
        before = settings.certificate.read_bytes()
        result = Service(settings, clock=lambda: NOW).round()
    assert result.outcome is Outcome.FAILED
    assert result.wait == timedelta(hours=2)  # Retry-After, not the 5 s retry interval
    assert "rateLimited: too many new accounts" in result.message
    assert "rate limited: next attempt at 2026-03-01 14:00:00 UTC (Retry-After)" in result.message
    assert "the served certificate is unchanged (valid until 2026-05-30" in result.message
    assert settings.certificate.read_bytes() == before
    assert list(settings.challenge_dir.iterdir()) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_backs_off_doubling(tmp_path: Path) -> None:
    directory = f"http://127.0.0.1:{closed_port()}/directory"
    settings = make_settings(tmp_path, directory=directory, retry_interval=timedelta(seconds=5))
    service = Service(settings, clock=lambda: NOW)
    waits = [service.round() for _ in range(3)]
    assert [r.outcome for r in waits] == [Outcome.FAILED] * 3
    assert [r.wait for r in waits] == [timedelta(seconds=s) for s in (5, 10, 20)]
    message = waits[0].message
    assert f"cannot reach the ACME server {directory}" in message
    assert "the proxy keeps serving the local CA's certificate for these names" in message
    assert re.search(r"next attempt in 0:00:05 \(1 failed in a row\)\.$", message)
    assert not settings.certificate.exists()
    # The account key was made once, before the server was tried, and is kept.
    assert [p.name for p in settings.account_dir.iterdir()] == ["account-key.pem"]


@pytest.mark.parametrize("expired", [False, True])
def test_the_message_says_whether_the_kept_pair_is_still_valid(
    tmp_path: Path, expired: bool
) -> None:
    directory = f"http://127.0.0.1:{closed_port()}/directory"
    settings = make_settings(tmp_path, directory=directory)
    key, chain, _ = leaf_for(DOMAINS, now=NOW)
    served.write_served(settings, key, chain, NOW)
    later = NOW + timedelta(days=100 if expired else 61)
    result = Service(replace(settings), clock=lambda: later).round()
    assert result.outcome is Outcome.FAILED
    assert ("visitors get a warning" in result.message) is expired


def test_bad_settings_stop_the_service_at_start_with_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main({"ACME_DOMAINS": "blog.example.org", "ACME_DIRECTORY": "stagin"})
    assert stopped.value.code == 2
    assert "ACME_DIRECTORY='stagin' is neither production, staging" in caplog.text


SERVER_ERROR = (500, {"type": "urn:ietf:params:acme:error:serverInternal", "detail": "x"}, {})


@pytest.mark.parametrize(("window_days", "ordered"), [((10, 11), False), ((-2, -1), True)])
def test_the_renewal_window_of_ari_decides_when_to_renew(
    tmp_path: Path, window_days: tuple[int, int], ordered: bool
) -> None:
    """RFC 9773: the server's suggested window, not two thirds, once it offers one."""
    now = datetime.now(UTC)  # acme checks the certificate's expiry with the real clock
    window = (now + timedelta(days=window_days[0]), now + timedelta(days=window_days[1]))
    with mini_acme(MiniACME(SERVER_ERROR, window=window)) as server:
        settings = make_settings(tmp_path, directory=server.url + "/directory")
        key, chain, leaf = leaf_for(DOMAINS, now=now - timedelta(days=1))
        served.write_served(settings, key, chain, now)
        result = Service(settings).round()
    asked = [r for r in server.seen if r.startswith("GET /renewal-info/")]
    assert len(asked) == 1
    assert ("POST /order" in server.seen) is ordered
    if ordered:  # due: an order was placed (and this server refused it)
        assert result.outcome is Outcome.FAILED
    else:  # within the window, not at two thirds (day 60), and ARI asked again in 6 h
        assert result.outcome is Outcome.CURRENT
        assert timedelta(hours=5, minutes=59) < result.wait <= timedelta(hours=6, seconds=1)
        found = re.search(r"renewal from (\S+ \S+) UTC", result.message)
        assert found is not None
        due = datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert window[0] - timedelta(seconds=1) <= due <= window[1]
        assert (
            due
            < leaf.not_valid_before_utc
            + (leaf.not_valid_after_utc - leaf.not_valid_before_utc) * 2 / 3
        )

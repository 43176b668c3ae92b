"""Why an attempt failed, the likely fix the owner reads, and how long the service waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from acme import challenges, errors, messages
from acme_support import NOW
from acmekit.failures import MAX_BACKOFF, Failure, backoff, explain, retry_after

DIRECTORY = "https://acme.example.net/dir"


def failed_authorization(name: str, code: str, detail: str) -> messages.AuthorizationResource:
    challenge = messages.ChallengeBody(
        chall=challenges.HTTP01(token=b"t" * 32),
        status=messages.STATUS_INVALID,
        error=messages.Error.with_code(code, detail=detail),
    )
    body = messages.Authorization(
        identifier=messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=name),
        challenges=[challenge],
        status=messages.STATUS_INVALID,
    )
    return messages.AuthorizationResource(body=body, uri="https://acme.example.net/authz/1")


# (the error, fragments of the reason, fragments of the likely fix) - issue 16's three first
EXPLAINED = [
    (errors.ValidationError([failed_authorization("blog.example.org", "dns", "NXDOMAIN")]),
     ["validation of blog.example.org failed (dns: NXDOMAIN)"],
     ["DNS for blog.example.org does not lead here", "A record"]),
    (errors.ValidationError([failed_authorization("blog.example.org", "connection", "timeout")]),
     ["(connection: timeout)"], ["forward TCP ports 80 and 443", "carrier-grade NAT"]),
    (messages.Error.with_code("rateLimited", detail="too many certificates"),
     ["rateLimited: too many certificates"], ["rate limit", "waits until the time it gave"]),
    (errors.ValidationError([failed_authorization("a.example.org", "unauthorized", "404")]),
     ["(unauthorized: 404)"], ["another server"]),
    (errors.ValidationError([failed_authorization("a.example.org", "caa", "CAA forbids")]),
     ["caa"], ["CAA record"]),
    (errors.IssuanceError(messages.Error.with_code("rejectedIdentifier", detail="no")),
     ["the order failed (rejectedIdentifier: no)"], ["check its spelling"]),
    (messages.Error.with_code("badNonce", detail="bad"), ["badNonce"], ["nothing to do"]),
    (errors.TimeoutError(), ["did not finish"], ["new order"]),
    (requests.exceptions.SSLError("certificate verify failed"),
     ["did not verify"], ["ACME_CA_BUNDLE"]),
    (requests.exceptions.ConnectionError("refused"),
     [f"cannot reach the ACME server {DIRECTORY}"], ["reaches the internet"]),
    (PermissionError(13, "Permission denied", "/acme/certs/x"),
     ["Permission denied (/acme/certs/x)"], ["uid 10003"]),
]  # fmt: skip


@pytest.mark.parametrize(("error", "reasons", "fixes"), EXPLAINED)
def test_each_failure_is_explained_with_its_likely_fix(
    error: Exception, reasons: list[str], fixes: list[str]
) -> None:
    failure = explain(error, DIRECTORY, None, NOW)
    for fragment in reasons:
        assert fragment in failure.reason
    for fragment in fixes:
        assert fragment in failure.fix


def error_response(retry_after_value: str | None) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    if retry_after_value is not None:
        response.headers["Retry-After"] = retry_after_value
    return response


# (Retry-After of the rate-limit answer, the time the next attempt may start)
RATE_LIMITS = [
    ("120", NOW + timedelta(seconds=120)),
    ("Sun, 01 Mar 2026 15:00:00 GMT", datetime(2026, 3, 1, 15, 0, tzinfo=UTC)),
    (None, NOW + timedelta(hours=1)),
    ("soon", NOW + timedelta(hours=1)),
]


@pytest.mark.parametrize(("header", "not_before"), RATE_LIMITS)
def test_a_rate_limit_is_respected(header: str | None, not_before: datetime) -> None:
    problem = messages.Error.with_code("rateLimited", detail="slow down")
    failure = explain(problem, DIRECTORY, error_response(header), NOW)
    assert failure.rate_limited and failure.retry_after == not_before
    assert backoff(1, timedelta(seconds=5), failure, NOW) == not_before - NOW


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", NOW),
        ("  30 ", NOW + timedelta(seconds=30)),
        ("Sun, 01 Mar 2026 12:00:10 GMT", NOW + timedelta(seconds=10)),
        ("", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_retry_after_values(value: str, expected: datetime | None) -> None:
    assert retry_after(value, NOW) == expected


# (failures in a row, wait) with ACME_RETRY_INTERVAL = 10m
BACKOFF = [
    (1, timedelta(minutes=10)),
    (2, timedelta(minutes=20)),
    (4, timedelta(minutes=80)),
    (8, timedelta(minutes=1280)),
    (9, MAX_BACKOFF),
    (1000, MAX_BACKOFF),
]


@pytest.mark.parametrize(("in_row", "wait"), BACKOFF)
def test_the_wait_doubles_up_to_a_day(in_row: int, wait: timedelta) -> None:
    assert backoff(in_row, timedelta(minutes=10), Failure("x", "y"), NOW) == wait

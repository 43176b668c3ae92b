"""Why an order or a renewal failed, the likely fix, and when to try again.

Every failure keeps the served pair as it is; what is left to decide is what to tell
the owner and how long to wait. The ACME problem types are RFC 8555 section 6.7's
(``urn:ietf:params:acme:error:<code>``); the wait doubles from ACME_RETRY_INTERVAL
with each failure in a row, up to a day, and is never shorter than a Retry-After the
server gave with its answer (RFC 8555 6.6, rate limits; RFC 9110 10.2.3).
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from acme import errors, messages
from tlsproxy.certs.errors import CertsError

MAX_BACKOFF = timedelta(days=1)
RATE_LIMIT_DEFAULT = timedelta(hours=1)  # a rate limit answered without Retry-After
FORWARD_PORTS = (
    "forward TCP ports 80 and 443 on the router to this machine (to HTTP_PORT and "
    "HTTPS_PORT) and let them through any firewall; behind carrier-grade NAT the router "
    'has no public address at all (README, "From the internet")'
)
# The likely fix for each ACME problem type, ``{name}`` being the identifier concerned.
FIXES = {
    "dns": "DNS for {name} does not lead here: give {name} an A record (and an AAAA record "
    "for IPv6) with this network's public address, then wait for it to spread",
    "connection": "the CA could not reach port 80 of {name}: " + FORWARD_PORTS,
    "unauthorized": "port 80 of {name} answered, but not with this kit's answer: the DNS "
    "record or the port forwarding leads to another server (or to the router's own page)",
    "incorrectResponse": "port 80 of {name} answered, but not with this kit's answer: the DNS "
    "record or the port forwarding leads to another server (or to the router's own page)",
    "caa": "a CAA record of {name} or a parent domain does not allow this CA; add one that "
    'does, e.g. 0 issue "letsencrypt.org"',
    "rejectedIdentifier": "the CA will not issue for {name}: check its spelling in "
    "ACME_DOMAINS (private names belong in CERT_HOSTS)",
    "rateLimited": "the CA's rate limit was reached: the next attempt waits until the time "
    "it gave (https://letsencrypt.org/docs/rate-limits/)",
    "badNonce": "the CA refused a request's nonce twice in a row, which happens now and then; "
    "nothing to do",
    "invalidContact": "the CA refused ACME_EMAIL: give an address it accepts, or none",
    "unsupportedContact": "the CA refused ACME_EMAIL: give an address it accepts, or none",
    "serverInternal": "the CA had an internal error; nothing to do on this side",
}


@dataclass(frozen=True)
class Failure:
    """One failed attempt: what happened, the likely fix, the server's Retry-After."""

    reason: str
    fix: str
    retry_after: datetime | None = None  # not before this time (the server said so)
    rate_limited: bool = False


def explain(
    error: Exception, directory: str, last_error_response: requests.Response | None, now: datetime
) -> Failure:
    """A Failure for ``error`` raised by acme, requests or the disk."""
    if isinstance(error, errors.ValidationError):
        return _validation_failure(error)
    if isinstance(error, errors.IssuanceError):
        return _problem_failure(error.error, "the order failed", last_error_response, now)
    if isinstance(error, messages.Error):
        return _problem_failure(error, "the ACME server refused", last_error_response, now)
    if isinstance(error, errors.TimeoutError):
        return Failure(
            "the ACME server did not finish validating and issuing in time",
            "nothing to do if it happens once; the next attempt starts a new order",
        )
    if isinstance(error, requests.exceptions.SSLError):
        return Failure(
            f"the HTTPS certificate of the ACME server {directory} did not verify ({error})",
            "check ACME_DIRECTORY; for a private ACME server give the CA that signs its "
            "certificate in ACME_CA_BUNDLE",
        )
    if isinstance(error, requests.exceptions.RequestException):
        return Failure(
            f"cannot reach the ACME server {directory} ({error})",
            "check ACME_DIRECTORY and that this machine reaches the internet (DNS, firewall)",
        )
    if isinstance(error, CertsError):
        return Failure(str(error), "see the reason")
    if isinstance(error, OSError):
        return Failure(
            f"{error.strerror or error} ({error.filename or 'a volume'})",
            "the acme service's volumes must be writable by its uid 10003",
        )
    return Failure(f"{type(error).__name__}: {error}", "see the message")


def _validation_failure(error: errors.ValidationError) -> Failure:
    reasons, fixes = [], []
    for authorization in error.failed_authzrs:
        name = authorization.body.identifier.value
        for challenge in authorization.body.challenges:
            problem = challenge.error
            if problem is None:
                continue
            code = problem.code or "unknown"
            reasons.append(f"validation of {name} failed ({code}: {problem.detail})")
            fix = FIXES.get(code)
            if fix is not None:
                fixes.append(fix.format(name=name))
    return Failure(
        "; ".join(reasons) or "a validation failed",
        "; ".join(dict.fromkeys(fixes)) or "see the reason",
    )


def _problem_failure(
    problem: messages.Error,
    what: str,
    last_error_response: requests.Response | None,
    now: datetime,
) -> Failure:
    code = problem.code or "unknown"
    name = problem.identifier.value if problem.identifier is not None else "the name"
    fix = FIXES.get(code, "see the reason").format(name=name)
    retry = None
    if code == "rateLimited":
        # A requests.Response is falsy when its status is an error: compare with None.
        response = last_error_response
        header = response.headers.get("Retry-After") if response is not None else None
        retry = retry_after(header, now) or now + RATE_LIMIT_DEFAULT
    return Failure(
        f"{what} ({code}: {problem.detail or problem.description or 'no detail'})",
        fix,
        retry,
        rate_limited=code == "rateLimited",
    )


def retry_after(value: str | None, now: datetime) -> datetime | None:
    """A Retry-After field value (RFC 9110 10.2.3: seconds, or an HTTP-date) as a time."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def backoff(failures_in_row: int, first: timedelta, failure: Failure, now: datetime) -> timedelta:
    """How long to wait after the ``failures_in_row``-th failure in a row (1, 2, ...)."""
    doubled = first * 2 ** min(failures_in_row - 1, 20)
    wait = min(doubled, MAX_BACKOFF)
    if failure.retry_after is not None:
        wait = max(wait, failure.retry_after - now)
    return wait

"""One order (RFC 8555 section 7.4): a new key, a CSR for every name, HTTP-01 for each
pending authorization, finalization, the chain.

certbot's ``acme`` does the protocol (JWS, nonces with one retry on badNonce,
polling); this module only chooses the challenge and hands its answer to the proxy.
The challenge response is the one ``response_and_validation`` builds, which the library
posts as ``{}``: RFC 8555 7.5.1 starts validation on a JSON object, while an empty
body is a POST-as-GET that only reads the challenge and never starts it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import josepy as jose
from acme import challenges, client, crypto_util, errors, messages
from tlsproxy.certs.keys import PrivateKey, generate_key, key_to_pem

from .answers import ChallengeAnswers

ORDER_TIMEOUT = dt.timedelta(minutes=2)  # validation and issuance, polled every second


@dataclass(frozen=True)
class Issued:
    key: PrivateKey
    fullchain_pem: str


def obtain(
    acme: client.ClientV2,
    account_key: jose.JWK,
    domains: Sequence[str],
    challenge_dir: Path,
    timeout: dt.timedelta = ORDER_TIMEOUT,
) -> Issued:
    """A certificate for ``domains`` (one order). Raises what acme raises: ValidationError
    (with each failed authorization), IssuanceError, messages.Error, TimeoutError."""
    key = generate_key()
    csr_pem = crypto_util.make_csr(key_to_pem(key), list(domains))
    order = acme.new_order(csr_pem)
    with ChallengeAnswers(challenge_dir) as answers:
        started = []
        for authorization in order.authorizations:
            if authorization.body.status == messages.STATUS_VALID:
                continue  # validated recently for this account: nothing to prove
            challenge = http_01(authorization)
            response, key_authorization = challenge.chall.response_and_validation(account_key)
            answers.publish(challenge.chall.encode("token"), key_authorization)
            started.append((challenge, response))
        # Every answer is in place before the server is asked to look at any of them.
        for challenge, response in started:
            acme.answer_challenge(challenge, response)
        # acme compares deadlines with naive local time.
        order = acme.poll_and_finalize(order, dt.datetime.now() + timeout)
    return Issued(key, order.fullchain_pem)


def http_01(authorization: messages.AuthorizationResource) -> messages.ChallengeBody:
    for challenge in authorization.body.challenges:
        if isinstance(challenge.chall, challenges.HTTP01):
            return challenge
    name = authorization.body.identifier.value
    raise errors.Error(
        f"the ACME server offers no http-01 challenge for {name}, the only kind this kit answers"
    )

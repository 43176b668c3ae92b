"""The HTTP-01 answers the service hands to the proxy: written whole, removed after the
order, and read back by the proxy's own rule (tlsproxy.acme_challenge)."""

from __future__ import annotations

from pathlib import Path

import josepy as jose
import pytest
from acme import challenges
from acmekit.answers import ChallengeAnswers, remove_leftovers
from tlsproxy.acme_challenge import key_authorization
from tlsproxy.certs.keys import generate_key


def test_what_the_service_writes_is_what_the_proxy_serves(tmp_path: Path) -> None:
    account_key = jose.JWKEC(key=generate_key())
    challenge = challenges.HTTP01(token=b"0123456789abcdef0123456789abcdef")
    _, validation = challenge.response_and_validation(account_key)
    token = challenge.encode("token")
    target = challenge.path
    with ChallengeAnswers(tmp_path) as answers:
        answers.publish(token, validation)
        assert key_authorization(tmp_path, target) == validation.encode()
        assert [p.name for p in tmp_path.iterdir()] == [token]  # no temporary file left
    assert key_authorization(tmp_path, target) is None  # withdrawn with the order
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("token", ["../x" + "a" * 22, "a" * 21, "a/b" + "c" * 22, ".hidden" * 4])
def test_a_token_the_proxy_would_not_serve_is_refused(tmp_path: Path, token: str) -> None:
    with pytest.raises(ValueError, match="token"):
        ChallengeAnswers(tmp_path).publish(token, f"{token}.x")
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_an_interrupted_run_are_removed(tmp_path: Path) -> None:
    (tmp_path / ("a" * 43)).write_text("old")
    (tmp_path / ".aaaaaaaaaaaaaaaaaaaaaaaaaa.x1.tmp").write_text("half")
    (tmp_path / "README").write_text("not ours")
    assert remove_leftovers(tmp_path) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["README"]

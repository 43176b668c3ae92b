"""Password policy and Argon2id hashing."""

from __future__ import annotations

import pytest
from blog import passwords


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1!", "at least 8"),
        ("x" * 129, "at most 128"),
        ("password1", "commonly used"),
        ("Qwertyuiop", "commonly used"),
        ("alice-the-great", "user name"),
    ],
)
def test_policy_rejects(password: str, problem: str) -> None:
    with pytest.raises(passwords.PasswordPolicyError, match=problem):
        passwords.check_policy(password, "alice-the-great")


@pytest.mark.parametrize("password", ["eight ch", "x7#Lq2!v", "ü" * 128, "correct horse battery"])
def test_policy_accepts(password: str) -> None:
    passwords.check_policy(password, "alice")


def test_hash_is_argon2id_with_owasp_parameters() -> None:
    encoded = passwords.hash_password("correct horse battery")
    assert encoded.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in encoded
    assert passwords.verify_password(encoded, "correct horse battery")
    assert not passwords.verify_password(encoded, "correct horse batterY")
    assert not passwords.verify_password("not a hash", "anything")

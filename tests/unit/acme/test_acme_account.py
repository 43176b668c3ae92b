"""The account key: made once (0600, never replacing a file), then always the same."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from acmekit.account import load_or_create_key
from tlsproxy.certs import store
from tlsproxy.certs.errors import CertsError
from tlsproxy.certs.keys import generate_key, key_to_pem


def test_the_key_is_made_once_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "account-key.pem"
    first = load_or_create_key(path)
    assert first.created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_bytes()
    again = load_or_create_key(path)
    assert not again.created and again.jwk.thumbprint() == first.jwk.thumbprint()
    assert path.read_bytes() == content


def test_a_key_of_another_kind_is_refused_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "account-key.pem"
    store.atomic_write(path, key_to_pem(generate_key("rsa")), store.KEY_MODE)
    before = path.read_bytes()
    with pytest.raises(CertsError, match="not an ECDSA P-256 key"):
        load_or_create_key(path)
    assert path.read_bytes() == before


def test_an_unreadable_key_file_is_refused_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "account-key.pem"
    path.write_text("garbage")
    with pytest.raises(CertsError, match="not a readable"):
        load_or_create_key(path)
    assert path.read_text() == "garbage"

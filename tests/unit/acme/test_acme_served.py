"""The served pair: when it is replaced, and that only what was ordered is ever served."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from acme_support import DOMAINS, NOW, leaf_for, make_settings
from acmekit import served
from acmekit.settings import LETS_ENCRYPT_STAGING
from tlsproxy.certs.errors import CertsError
from tlsproxy.certs.keys import generate_key
from tlsproxy.tls import certificate_names

DAY = timedelta(days=1)


def test_nothing_served_yet(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert served.read_served(settings) is None
    assert served.reissue_reason(None, settings, NOW, None) == "no certificate from ACME yet"


# (days after issue, settings changed, ARI renewal time in days, expected reason or None)
DECISIONS = [
    (0, {}, None, None),
    (59, {}, None, None),
    (61, {}, None, "it is past two thirds of its lifetime"),
    (91, {}, None, "it expired at"),
    (
        10,
        {"domains": ("blog.example.org",)},
        None,
        "ACME_DOMAINS changed (removed www.example.org)",
    ),
    (10, {"domains": (*DOMAINS, "new.example.org")}, None, "(added new.example.org)"),
    (10, {"directory": LETS_ENCRYPT_STAGING}, None, "ACME_DIRECTORY changed"),
    (10, {}, 9, "the ACME server's renewal window has opened"),  # ARI says earlier
    (61, {}, 70, None),  # ARI says later than two thirds
]


@pytest.mark.parametrize(("days", "changes", "ari", "reason"), DECISIONS)
def test_when_the_pair_is_replaced(
    tmp_path: Path, days: int, changes: dict, ari: int | None, reason: str | None
) -> None:
    settings = make_settings(tmp_path)
    key, chain, _ = leaf_for(DOMAINS)
    served.write_served(settings, key, chain, NOW)
    pair = served.read_served(settings)
    assert pair is not None
    renew_at = NOW + ari * DAY if ari is not None else None
    found = served.reissue_reason(pair, replace(settings, **changes), NOW + days * DAY, renew_at)
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


def test_the_pair_is_one_file_the_proxy_reads_by_group(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    key, chain, leaf = leaf_for(DOMAINS)
    served.write_served(settings, key, chain, NOW)
    content = settings.certificate.read_bytes()
    assert content.index(b"BEGIN CERTIFICATE") < content.index(b"BEGIN PRIVATE KEY")
    assert content.count(b"BEGIN CERTIFICATE") == 2  # the chain, as the server sent it
    assert stat.S_IMODE(settings.certificate.stat().st_mode) == 0o640
    note = json.loads(settings.issued.read_text())
    assert note == {"directory": settings.directory, "domains": list(DOMAINS)}
    pair = served.read_served(settings)
    assert pair is not None and pair.leaf == leaf and pair.names == frozenset(DOMAINS)
    # The proxy picks it by these names (tlsproxy.tls, the same file for cert and key).
    from tlsproxy.config import Certificate

    both = Certificate(settings.certificate, settings.certificate, optional=True)
    assert set(certificate_names(both)) == set(DOMAINS)


# (what is wrong with the issued chain, fragment of the refusal)
WRONG = [
    ("key", "not for the key that was sent"),
    ("names", "differ from ACME_DOMAINS"),
    ("not yet valid", "not valid now"),
    ("garbage", "no readable certificate"),
]


@pytest.mark.parametrize(("wrong", "message"), WRONG)
def test_a_chain_that_is_not_what_was_ordered_is_never_served(
    tmp_path: Path, wrong: str, message: str
) -> None:
    settings = make_settings(tmp_path)
    good_key, good_chain, _ = leaf_for(DOMAINS)
    served.write_served(settings, good_key, good_chain, NOW)
    before = settings.certificate.read_bytes()
    key, chain, _ = leaf_for(("other.example.org",) if wrong == "names" else DOMAINS)
    if wrong == "key":
        key = generate_key()
    elif wrong == "not yet valid":
        key, chain, _ = leaf_for(DOMAINS, now=NOW + DAY)
    elif wrong == "garbage":
        chain = "<html>not a certificate</html>"
    with pytest.raises(CertsError, match=message):
        served.write_served(settings, key, chain, NOW)
    assert settings.certificate.read_bytes() == before

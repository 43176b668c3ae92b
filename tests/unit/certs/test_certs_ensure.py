"""ensure on a real folder: modes, idempotency, each reissue trigger, refusals, atomic writes."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from certs_support import HOSTS, NOW, ensure, read_cert, snapshot
from tlsproxy.certs import authority, keys, names, store
from tlsproxy.certs.errors import CertsError, RenewalNeedsCAKey


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_modes(certs: Path) -> None:
    assert mode(certs) == 0o700
    assert mode(certs / "ca-key.pem") == 0o600
    assert mode(certs / "served" / "server-key.pem") == 0o600
    assert mode(certs / "ca.pem") == 0o644
    assert mode(certs / "served" / "server.pem") == 0o644
    assert mode(certs / "served") == 0o700
    assert sorted(str(path.relative_to(certs)) for path in certs.rglob("*")) == [
        "ca-key.pem",
        "ca.pem",
        "served",
        "served/ca.pem",
        "served/server-key.pem",
        "served/server.pem",
    ]
    assert (certs / "served" / "ca.pem").read_bytes() == (certs / "ca.pem").read_bytes()


def test_an_existing_loose_folder_is_tightened(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    ensure(tmp_path)
    assert mode(tmp_path) == 0o700


def test_second_run_changes_nothing(certs: Path) -> None:
    before = snapshot(certs)
    result = ensure(certs, now=NOW + timedelta(days=59))
    assert result.server_reason is None and not result.ca_created
    assert snapshot(certs) == before


def test_host_order_is_not_a_change(certs: Path) -> None:
    before = snapshot(certs)
    ensure(certs, hosts="blog.home.arpa,::1,127.0.0.1,localhost")
    assert snapshot(certs) == before


def reissued(certs: Path, **options: object) -> str | None:
    """Run ensure and return its reason, checking the CA stayed and the server cert changed."""
    ca_before = snapshot(certs)["ca.pem"], snapshot(certs)["ca-key.pem"]
    server_before = (certs / "served" / "server.pem").read_bytes()
    result = ensure(certs, **options)
    assert ((certs / "ca.pem").read_bytes(), (certs / "ca-key.pem").read_bytes()) == ca_before
    if result.server_reason is not None:
        assert (certs / "served" / "server.pem").read_bytes() != server_before
        assert keys.key_matches(
            read_cert(certs / "served" / "server.pem"),
            store.load_key(certs / "served" / "server-key.pem"),
        )
    return result.server_reason


def test_reissue_past_two_thirds_of_lifetime(certs: Path) -> None:
    assert reissued(certs, now=NOW + timedelta(days=59)) is None
    assert reissued(certs, now=NOW + timedelta(days=61)) == "it is past two thirds of its lifetime"
    renewed = read_cert(certs / "served" / "server.pem")
    assert renewed.not_valid_after_utc == NOW + timedelta(days=61 + 90)


def test_reissue_when_expired(certs: Path) -> None:
    assert "expired" in reissued(certs, now=NOW + timedelta(days=200))


@pytest.mark.parametrize(
    ("hosts", "change"),
    [
        ("localhost,127.0.0.1,::1,blog.home.arpa,www.blog.home.arpa", "added www.blog.home.arpa"),
        ("localhost,127.0.0.1,blog.home.arpa", "removed ::1"),
    ],
)
def test_reissue_when_names_change(tmp_path: Path, hosts: str, change: str) -> None:
    ensure(tmp_path, hosts=HOSTS + ",www.blog.home.arpa")
    ensure(tmp_path, hosts=HOSTS, force=True)
    assert change in reissued(tmp_path, hosts=hosts)


def test_reissue_when_key_and_certificate_do_not_match(certs: Path) -> None:
    other = keys.key_to_pem(keys.generate_key())
    store.atomic_write(certs / "served" / "server-key.pem", other, store.KEY_MODE)
    assert reissued(certs) == "the server key and certificate do not match"


def test_reissue_when_the_key_is_missing(certs: Path) -> None:
    (certs / "served" / "server-key.pem").unlink()
    assert reissued(certs) == "the server key is missing"


def test_reissue_when_signed_by_another_ca(certs: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    ensure(other)
    for name in ("served/server.pem", "served/server-key.pem"):
        (certs / name).write_bytes((other / name).read_bytes())
    assert reissued(certs) == "it was not signed by the current CA"


def test_force_reissues(certs: Path) -> None:
    assert reissued(certs, force=True) == "--force"


def test_a_ca_key_kept_offline_keeps_a_current_certificate(certs: Path) -> None:
    """README: delete ca-key.pem from the volume and `make up` still works until renewal."""
    (certs / "ca-key.pem").unlink()
    before = snapshot(certs)
    result = ensure(certs, now=NOW + timedelta(days=10))
    assert result.ca_key_offline and result.server_reason is None
    assert snapshot(certs) == before


@pytest.mark.parametrize(
    ("later", "options"), [(timedelta(days=61), {}), (timedelta(days=1), {"force": True})]
)
def test_a_ca_key_kept_offline_is_asked_for_when_renewal_is_due(
    certs: Path, later: timedelta, options: dict[str, object]
) -> None:
    """A missing key is never a new CA: the error says how to give the key for one run."""
    (certs / "ca-key.pem").unlink()
    before = snapshot(certs)
    with pytest.raises(RenewalNeedsCAKey, match=r"make certs CA_KEY=.*ensure --ca-key -.*new-ca"):
        ensure(certs, now=NOW + later, **options)
    assert snapshot(certs) == before


def test_mismatched_ca_pair_is_an_error(certs: Path) -> None:
    store.atomic_write(certs / "ca-key.pem", keys.key_to_pem(keys.generate_key()), 0o600)
    before = snapshot(certs)
    with pytest.raises(CertsError, match="do not belong together"):
        ensure(certs, force=True)
    assert snapshot(certs) == before


@pytest.mark.parametrize(
    "name", ["ca.pem", "ca-key.pem", "served/server.pem", "served/server-key.pem"]
)
def test_unreadable_files_are_an_error(certs: Path, name: str) -> None:
    (certs / name).write_bytes(b"-----BEGIN garbage-----\n")
    before = snapshot(certs)
    with pytest.raises(CertsError, match=f"{name} is not a readable"):
        ensure(certs)
    assert snapshot(certs) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_is_an_error(certs: Path) -> None:
    (certs / "ca-key.pem").chmod(0)
    with pytest.raises(CertsError, match="permission denied"):
        ensure(certs)


# The README's second device (issue 16): LAN names and addresses of every private kind
# are added to a CA made with the defaults, and the same CA signs them.
LATER_LAN_NAMES = [
    "blog.home.arpa,192.168.1.20",
    "nas.lan,printer.local,kit.internal,10.1.2.3,172.31.0.9",
    "100.101.102.103,fd12:3456::20,fe80::1,www.localhost,127.0.1.1",
]


@pytest.mark.parametrize("added", LATER_LAN_NAMES)
def test_lan_names_added_later_are_signed_by_the_same_ca(tmp_path: Path, added: str) -> None:
    first = ensure(tmp_path, hosts="localhost,127.0.0.1,::1", machine="laptop")
    later = ensure(tmp_path, hosts=f"localhost,127.0.0.1,::1,laptop,{added}", machine="laptop")
    assert not later.ca_created and later.ca == first.ca
    assert later.server_reason is not None and later.server_reason.startswith("its names changed")


# Public names and addresses: outside every default CA (issue 16's example is the first).
OUTSIDE = ["blog.example.com", "203.0.113.9", "2001:db8::9", "local.example", "evil-lan"]


@pytest.mark.parametrize("outside", OUTSIDE)
def test_names_outside_the_ca_constraints_are_refused_with_the_way_on(
    certs: Path, outside: str
) -> None:
    before = snapshot(certs)
    with pytest.raises(CertsError) as refused:
        ensure(certs, hosts=HOSTS + f",www.blog.home.arpa,{outside}")
    message = str(refused.value)
    assert message.startswith(f"The CA may not sign for {outside}: its name constraints permit")
    # ACME certifies names only: an address is never sent there.
    is_address = outside[0].isdigit() or ":" in outside
    assert ("ACME_DOMAINS" in message) is not is_address
    assert ("ACME cannot certify an IP address" in message) is is_address
    for part in (
        "`make new-ca` (without make: `docker compose run --rm certs ensure --new-ca`)",
        "CERT_PERMIT",
        "each must trust the new ca.pem again",
        "Nothing was changed.",
    ):
        assert part in message
    assert snapshot(certs) == before


def test_an_older_narrow_ca_keeps_working_and_explains_a_refusal(tmp_path: Path) -> None:
    """A CA from a kit before issue 16 permits exactly its first names and no more."""
    narrow = names.subtrees_for(names.parse_hosts("localhost,127.0.0.1,::1"), private=False)
    key = keys.generate_key()
    store.ensure_dir(tmp_path)
    store.atomic_write(tmp_path / "ca-key.pem", keys.key_to_pem(key), store.KEY_MODE)
    ca = authority.create_ca(key, narrow, NOW)
    store.atomic_write(tmp_path / "ca.pem", keys.cert_to_pem(ca), store.CERT_MODE)
    kept = ensure(tmp_path, hosts="localhost,127.0.0.1,::1,www.localhost")
    assert kept.ca == ca and not kept.ca_created
    before = snapshot(tmp_path)
    with pytest.raises(
        CertsError,
        match=r"may not sign for blog\.home\.arpa, 192\.168\.1\.20: "
        r"its name constraints permit localhost, 127\.0\.0\.1/32, ::1/128\b.*make new-ca",
    ):
        ensure(tmp_path, hosts="localhost,127.0.0.1,::1,blog.home.arpa,192.168.1.20")
    assert snapshot(tmp_path) == before


def test_new_ca_keeps_the_old_one_as_backups(certs: Path) -> None:
    old_ca, old_key = (certs / "ca.pem").read_bytes(), (certs / "ca-key.pem").read_bytes()
    later = NOW + timedelta(hours=1)
    result = ensure(certs, hosts=HOSTS + ",new.example", new_ca=True, now=later)
    assert result.ca_created and result.server_reason == "a new CA was made"
    stamp = "20260301T130000Z"
    assert (certs / f"ca.pem.{stamp}.bak").read_bytes() == old_ca
    assert (certs / f"ca-key.pem.{stamp}.bak").read_bytes() == old_key
    assert (certs / "ca.pem").read_bytes() != old_ca
    # A second reset in the same second must not overwrite the first backup.
    ensure(certs, new_ca=True, now=later)
    assert len(list(certs.glob("ca.pem.*.bak"))) == 2


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "certs"
    with pytest.raises(CertsError):
        ensure(target, hosts="localhost,www.*.example")
    assert not target.exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    certs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulate a crash between writing the temporary file and renaming it."""
    before = snapshot(certs)

    def crash(source: str, target: str) -> None:
        raise OSError("simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        ensure(certs, force=True)
    assert snapshot(certs) == before
    assert not list(certs.glob(".*"))


def test_atomic_write_replaces_content_and_mode(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    target.write_bytes(b"old")
    target.chmod(0o644)
    store.atomic_write(target, b"new secret", store.KEY_MODE)
    assert target.read_bytes() == b"new secret" and mode(target) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["key.pem"]


def test_a_ca_made_by_a_concurrent_run_is_not_overwritten(
    certs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If another run creates the CA after this one looked, this one stops instead."""
    from tlsproxy.certs import operations

    before = snapshot(certs)
    # This run looked and saw no CA yet.
    monkeypatch.setattr(operations, "load_ca", lambda folder, now, key=None: None)
    with pytest.raises(CertsError, match="appeared while this run was working"):
        ensure(certs)
    assert snapshot(certs) == before
    assert not list(certs.glob(".*"))


def test_exclusive_write_keeps_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "ca-key.pem"
    target.write_bytes(b"first")
    with pytest.raises(CertsError):
        store.atomic_write(target, b"second", store.KEY_MODE, exclusive=True)
    assert target.read_bytes() == b"first"
    assert [path.name for path in tmp_path.iterdir()] == ["ca-key.pem"]
    store.atomic_write(tmp_path / "new.pem", b"x", store.CERT_MODE, exclusive=True)
    assert mode(tmp_path / "new.pem") == 0o644

"""The command line: environment defaults, output, exit codes, and running without aiohttp."""

from __future__ import annotations

import io
import ipaddress
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from certs_support import HOSTS, NOW, read_cert, snapshot
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12
from tlsproxy.certs import authority, keys, store
from tlsproxy.certs.cli import run

PROXY_SOURCES = Path(__file__).resolve().parents[3] / "services" / "proxy"


def cli(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = run(list(argv), env=env or {}, out=out, now=NOW)
    return code, out.getvalue()


def san(path: Path) -> list[str]:
    ext = read_cert(path).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return [str(name.value) for name in ext.value]


def test_ensure_reads_its_defaults_from_the_environment(tmp_path: Path) -> None:
    env = {"CERTS_DIR": str(tmp_path), "CERT_HOSTS": "blog.home.arpa,10.0.0.5", "CERT_DAYS": "30"}
    code, output = cli("ensure", env=env)
    assert code == 0
    assert san(tmp_path / "served" / "server.pem") == ["blog.home.arpa", "10.0.0.5"]
    server = read_cert(tmp_path / "served" / "server.pem")
    assert (server.not_valid_after_utc - NOW).days == 30
    for expected in (
        "CA created",
        "Server certificate issued",
        "SHA-256",
        "update-ca-certificates",
        "security add-trusted-cert",
        "certutil -addstore",
        "Firefox",
    ):
        assert expected in output


def test_default_hosts_use_cert_hostname(tmp_path: Path) -> None:
    code, _ = cli(
        "ensure", "--dir", str(tmp_path), env={"CERT_HOSTNAME": "Kitbox", "CERT_HOSTS": ""}
    )
    assert code == 0
    assert san(tmp_path / "served" / "server.pem") == ["localhost", "127.0.0.1", "::1", "kitbox"]


def test_arguments_win_over_the_environment(tmp_path: Path) -> None:
    env = {"CERTS_DIR": str(tmp_path / "unused"), "CERT_HOSTS": "a.example", "CERT_DAYS": "bad"}
    code, _ = cli("ensure", "--dir", str(tmp_path), "--hosts", "b.example", "--days", "7", env=env)
    assert code == 0 and san(tmp_path / "served" / "server.pem") == ["b.example"]
    assert not (tmp_path / "unused").exists()


def test_second_run_says_up_to_date_with_expiry(tmp_path: Path) -> None:
    cli("ensure", "--dir", str(tmp_path), "--hosts", "localhost")
    code, output = cli("ensure", "--dir", str(tmp_path), "--hosts", "localhost")
    assert code == 0
    assert "Server certificate up to date: valid until 2026-05-30 12:00 UTC" in output
    assert "update-ca-certificates" not in output


BAD_INPUT = [
    (["--hosts", "www.*.example"], "wildcard outside the leftmost label"),
    (["--hosts", " , "], "empty"),
    (["--hosts", "999.1.1.1"], "neither a valid IP address"),
    (["--days", "398"], "from 1 to 397"),
    (["--days", "0"], "from 1 to 397"),
    (["--permit", "10.0.0.0/99"], "address range"),
]


@pytest.mark.parametrize(("arguments", "message"), BAD_INPUT)
def test_bad_input_exits_2_with_a_message_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    code, output = cli("ensure", "--dir", str(tmp_path / "certs"), *arguments)
    assert code == 2 and output == ""
    assert message in capsys.readouterr().err
    assert not (tmp_path / "certs").exists()


def test_bad_environment_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = cli("ensure", "--dir", str(tmp_path), env={"CERT_DAYS": "ninety"})
    assert code == 2 and "CERT_DAYS='ninety'" in capsys.readouterr().err
    assert snapshot(tmp_path) == {}


def test_module_runs_without_aiohttp(tmp_path: Path) -> None:
    """The tool must work in a plain virtualenv with only cryptography installed."""
    script = (
        "import runpy, sys\n"
        "sys.argv = ['tlsproxy.certs', 'ensure', '--hosts', 'localhost']\n"
        "try:\n"
        "    runpy.run_module('tlsproxy.certs', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "assert 'aiohttp' not in sys.modules, 'tlsproxy.certs imported aiohttp'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PROXY_SOURCES), "CERTS_DIR": str(tmp_path / "c")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Server certificate issued" in done.stdout
    assert (tmp_path / "c" / "served" / "server.pem").exists()


def test_client_prints_the_password_once_and_stores_it_nowhere(certs: Path) -> None:
    code, output = cli("client", "laptop", "--dir", str(certs))
    assert code == 0
    password = output.split("password:")[1].split()[0]
    bundle = (certs / "clients" / "laptop.p12").read_bytes()
    assert pkcs12.load_pkcs12(bundle, password.encode()).cert is not None
    for path in certs.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes()
    assert "AES-256" in output


@pytest.mark.parametrize("name", ["../evil", "a.b", "", "_x", "x" * 64])
def test_client_names_that_are_not_safe_file_names_are_refused(
    certs: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, _ = cli("client", name, "--dir", str(certs))
    assert code == 2 and "not allowed" in capsys.readouterr().err
    assert not (certs / "clients").exists()


def test_inspect_shows_extensions_and_fingerprint(certs: Path) -> None:
    code, output = cli("inspect", str(certs / "ca.pem"))
    assert code == 0
    assert "basicConstraints (critical): CA:TRUE, pathlen 0" in output
    assert "keyUsage (critical): key_cert_sign, crl_sign" in output
    assert "nameConstraints (critical): permitted: localhost, home.arpa, internal" in output
    fingerprint = read_cert(certs / "ca.pem").fingerprint(hashes.SHA256()).hex(":").upper()
    assert fingerprint in output


def test_inspect_reports_an_unreadable_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate")
    assert cli("inspect", str(tmp_path / "junk.pem"))[0] == 2
    assert "not a readable certificate" in capsys.readouterr().err


def test_verify_passes_for_every_configured_name(certs: Path) -> None:
    code, output = cli("verify", "--dir", str(certs), "--hosts", "localhost,::1,blog.home.arpa")
    assert code == 0 and "verifies" in output and "blog.home.arpa" in output


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("hosts", "other.home.arpa: validation failed"),
        ("key", "server-key.pem does not belong to"),
        ("ca", "validation failed"),
    ],
)
def test_verify_fails_with_a_clear_message(
    certs: Path, tmp_path: Path, capsys, damage: str, message: str
) -> None:
    hosts = "localhost,other.home.arpa" if damage == "hosts" else "localhost"
    if damage == "key":
        (certs / "served" / "server-key.pem").write_bytes(keys.key_to_pem(keys.generate_key()))
    if damage == "ca":
        other = tmp_path / "other"
        cli("ensure", "--dir", str(other))
        (certs / "ca.pem").write_bytes((other / "ca.pem").read_bytes())
    code, output = cli("verify", "--dir", str(certs), "--hosts", hosts)
    error = capsys.readouterr().err
    assert code == 1 and output == ""
    assert message in error and "ensure" in error


def test_verify_without_certificates_says_to_run_ensure(tmp_path: Path, capsys) -> None:
    assert cli("verify", "--dir", str(tmp_path))[0] == 2
    assert "does not exist. Run `python -m tlsproxy.certs ensure`" in capsys.readouterr().err


def test_ca_options_on_a_kept_ca_are_reported_not_ignored_silently(certs: Path) -> None:
    code, output = cli("ensure", "--dir", str(certs), "--hosts", HOSTS, "--ca-key-type", "rsa")
    assert code == 0 and "only apply when a CA is made" in output
    code, output = cli("ensure", "--dir", str(certs), "--hosts", HOSTS)
    assert "only apply" not in output


def test_a_ca_near_its_end_is_announced(certs: Path) -> None:
    out = io.StringIO()
    late = NOW + timedelta(days=3650 - 100)
    assert run(["ensure", "--dir", str(certs), "--hosts", HOSTS], out=out, now=late) == 0
    assert "warning: the CA expires on 2036-02-27" in out.getvalue()
    assert "warning" not in cli("ensure", "--dir", str(certs), "--hosts", HOSTS)[1]


def test_an_expired_ca_stops_with_the_way_out(certs: Path, capsys) -> None:
    out = io.StringIO()
    assert (
        run(["ensure", "--dir", str(certs)], env={}, out=out, now=NOW + timedelta(days=3651)) == 2
    )
    error = capsys.readouterr().err
    assert "expired on 2036-02-27" in error and "--new-ca" in error


def test_a_renamed_machine_does_not_break_make_up(tmp_path: Path, capsys) -> None:
    """A detected machine name the CA does not cover is left out; a configured one is an error."""
    assert cli("ensure", "--dir", str(tmp_path), env={"CERT_HOSTNAME": "oldname"})[0] == 0
    code, output = cli("ensure", "--dir", str(tmp_path), env={"CERT_HOSTNAME": "newname"})
    assert code == 0 and "newname is outside the CA's name constraints" in output
    assert san(tmp_path / "served" / "server.pem") == ["localhost", "127.0.0.1", "::1"]
    configured = {"CERT_HOSTS": "localhost,newname"}
    assert cli("ensure", "--dir", str(tmp_path), env=configured)[0] == 2
    assert "may not sign for newname" in capsys.readouterr().err


def test_verify_skips_a_detected_name_that_ensure_left_out(tmp_path: Path) -> None:
    cli("ensure", "--dir", str(tmp_path), env={"CERT_HOSTNAME": "oldname"})
    cli("ensure", "--dir", str(tmp_path), env={"CERT_HOSTNAME": "newname"})
    code, output = cli("verify", "--dir", str(tmp_path), env={"CERT_HOSTNAME": "newname"})
    assert code == 0 and "note: detected name newname is not in the certificate" in output


def test_cert_permit_widens_a_new_ca_and_is_not_nagged_about_later(tmp_path: Path) -> None:
    env = {
        "CERT_HOSTS": "localhost",
        "CERT_HOSTNAME": "",
        "CERT_PERMIT": "example.org,203.0.113.0/24",
    }
    code, output = cli("ensure", "--dir", str(tmp_path), env=env)
    assert code == 0 and "local, example.org, 127.0.0.0/8" in output
    assert "fe80::/10, 203.0.113.0/24\n" in output
    code, output = cli("ensure", "--dir", str(tmp_path), env=env)
    assert code == 0 and "only apply when a CA is made" not in output  # .env is not a typo


@pytest.mark.parametrize(
    ("permit", "message"),
    [("10.0.0.0/99", "in CERT_PERMIT is not a valid address range"), ("a..b", "CERT_PERMIT: ")],
)
def test_a_bad_cert_permit_is_refused_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], permit: str, message: str
) -> None:
    assert cli("ensure", "--dir", str(tmp_path), env={"CERT_PERMIT": permit})[0] == 2
    assert message in capsys.readouterr().err
    assert not tmp_path.joinpath("ca.pem").exists()


def test_placeholder_subtrees_of_an_older_ca_are_explained(tmp_path: Path) -> None:
    """An address-only CA (made by hand or an older kit) is shown closed to DNS names."""
    key = keys.generate_key()
    store.atomic_write(tmp_path / "ca-key.pem", keys.key_to_pem(key), store.KEY_MODE)
    ca = authority.create_ca(key, [ipaddress.ip_network("127.0.0.1/32")], NOW)
    store.atomic_write(tmp_path / "ca.pem", keys.cert_to_pem(ca), store.CERT_MODE)
    code, output = cli("ensure", "--dir", str(tmp_path), "--hosts", "127.0.0.1")
    assert code == 0
    assert "name constraints: only invalid (no DNS names), 127.0.0.1/32" in output


def test_paths_are_shown_as_the_host_sees_them(tmp_path: Path) -> None:
    """In the container the folder is /certs: every printed path uses CERTS_HOST_DIR."""
    env = {"CERTS_DIR": str(tmp_path), "CERT_HOSTS": "localhost", "CERTS_HOST_DIR": "/home/me/kit"}
    code, output = cli("ensure", env=env)
    assert code == 0
    assert "Certificate folder: /home/me/kit" in output
    assert "/home/me/kit/ca.pem" in output
    code, output = cli("client", "laptop", env=env)
    assert code == 0
    # Only the bundle reaches the host (make client-cert); the pair is named, not located.
    assert "clients/laptop.pem, clients/laptop-key.pem (beside the CA, not copied out)" in output
    assert "/home/me/kit/clients/laptop.pem" not in output
    assert "/home/me/kit/clients/laptop.p12" in output
    assert str(tmp_path) not in output


# (environment, expected lifetime of the server certificate)
LIFETIMES = [
    ({"CERT_LIFETIME": "36h"}, timedelta(hours=36)),
    ({"CERT_LIFETIME": "45s"}, timedelta(seconds=45)),
    ({"CERT_LIFETIME": "90d", "CERT_DAYS": "7"}, timedelta(days=90)),  # CERT_LIFETIME wins
    ({"CERT_LIFETIME": "", "CERT_DAYS": "7"}, timedelta(days=7)),
]


@pytest.mark.parametrize(("env", "lifetime"), LIFETIMES)
def test_cert_lifetime_takes_a_unit(tmp_path: Path, env: dict[str, str], lifetime) -> None:
    code, _ = cli("ensure", "--dir", str(tmp_path), "--hosts", "localhost", env=env)
    assert code == 0
    assert read_cert(tmp_path / "served" / "server.pem").not_valid_after_utc == NOW + lifetime


@pytest.mark.parametrize("value", ["90", "5s", "398d", "1w", "-3d"])
def test_a_bad_cert_lifetime_is_named_with_the_fix(tmp_path: Path, capsys, value: str) -> None:
    code, _ = cli("ensure", "--dir", str(tmp_path), env={"CERT_LIFETIME": value})
    assert code == 2
    assert f"CERT_LIFETIME={value!r}" in capsys.readouterr().err
    assert snapshot(tmp_path) == {}


def test_an_empty_cert_hostname_means_no_machine_name(tmp_path: Path) -> None:
    code, _ = cli("ensure", "--dir", str(tmp_path), env={"CERT_HOSTNAME": ""})
    assert code == 0
    assert san(tmp_path / "served" / "server.pem") == ["localhost", "127.0.0.1", "::1"]


def test_a_server_pair_from_the_old_layout_moves_into_served(certs: Path) -> None:
    served = certs / "served"
    old = {name: (served / name).read_bytes() for name in ("server.pem", "server-key.pem")}
    for name in old:
        (served / name).rename(certs / name)
    code, output = cli("ensure", "--dir", str(certs), "--hosts", HOSTS)
    assert code == 0 and "up to date" in output  # the same certificate, not a new one
    assert {name: (served / name).read_bytes() for name in old} == old
    assert not (certs / "server.pem").exists() and not (certs / "server-key.pem").exists()


def test_an_offline_ca_key_renews_without_being_stored(certs: Path, tmp_path: Path) -> None:
    offline = tmp_path / "usb" / "ca-key.pem"
    offline.parent.mkdir()
    (certs / "ca-key.pem").rename(offline)
    before = read_cert(certs / "served" / "server.pem")
    code, output = cli("ensure", "--dir", str(certs), "--hosts", HOSTS, "--force")
    assert code == 2  # without the key nothing can be signed
    code, output = cli(
        "ensure", "--dir", str(certs), "--hosts", HOSTS, "--force", "--ca-key", str(offline)
    )
    assert code == 0 and "Server certificate issued (--force)" in output
    assert read_cert(certs / "served" / "server.pem").serial_number != before.serial_number
    assert not (certs / "ca-key.pem").exists()
    assert all(offline.read_bytes() not in content for content in snapshot(certs).values())


def test_an_offline_ca_key_is_read_from_stdin(certs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = (certs / "ca-key.pem").read_bytes()
    (certs / "ca-key.pem").unlink()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(key)))
    code, _ = cli("ensure", "--dir", str(certs), "--hosts", HOSTS, "--force", "--ca-key", "-")
    assert code == 0
    assert not (certs / "ca-key.pem").exists()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (b"garbage", "is not a readable unencrypted PEM private key"),
        (keys.key_to_pem(keys.generate_key()), "do not belong together"),
    ],
)
def test_a_wrong_offline_ca_key_is_refused(
    certs: Path, tmp_path: Path, capsys, key: bytes, message: str
) -> None:
    (certs / "ca-key.pem").unlink()
    (tmp_path / "key.pem").write_bytes(key)
    before = snapshot(certs)
    code, _ = cli("ensure", "--dir", str(certs), "--force", "--ca-key", str(tmp_path / "key.pem"))
    assert code == 2 and message in capsys.readouterr().err
    assert snapshot(certs) == before


def test_the_served_pair_can_live_in_its_own_folder(tmp_path: Path) -> None:
    """CERTS_SERVED_DIR: the proxy's volume is apart from the one with the CA key."""
    env = {"CERTS_DIR": str(tmp_path / "ca"), "CERTS_SERVED_DIR": str(tmp_path / "served")}
    assert cli("ensure", "--hosts", "localhost", env=env)[0] == 0
    assert sorted(p.name for p in (tmp_path / "served").iterdir()) == [
        "ca.pem",
        "server-key.pem",
        "server.pem",
    ]
    assert sorted(p.name for p in (tmp_path / "ca").iterdir()) == ["ca-key.pem", "ca.pem"]
    code, output = cli("verify", "--hosts", "localhost", env=env)
    assert code == 0 and f"{tmp_path / 'served' / 'server.pem'} verifies" in output


@pytest.mark.parametrize(
    ("arguments", "env", "source"),
    [
        (["--hosts", "www.*.example"], {}, "--hosts: "),
        ([], {"CERT_HOSTS": "www.*.example"}, "CERT_HOSTS: "),
    ],
)
def test_a_bad_name_says_where_it_came_from(tmp_path: Path, capsys, arguments, env, source) -> None:
    code, _ = cli("ensure", "--dir", str(tmp_path), *arguments, env=env)
    assert code == 2
    assert f"error: {source}'www.*.example' has a wildcard" in capsys.readouterr().err


def ca_pem(folder: Path, order: str = "cert,key") -> bytes:
    parts = {"cert": folder / "ca.pem", "key": folder / "ca-key.pem"}
    return b"".join(parts[name].read_bytes() for name in order.split(","))


@pytest.mark.parametrize("order", ["cert,key", "key,cert"])
def test_an_existing_ca_is_imported_and_signs_from_then_on(
    certs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    """The upgrade path from a kit that kept the CA in certs/ on the host."""
    volume = tmp_path / "volume"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(ca_pem(certs, order))))
    code, output = cli("import-ca", "--dir", str(volume), "-")
    assert code == 0 and "CA imported" in output
    assert (volume / "ca-key.pem").read_bytes() == (certs / "ca-key.pem").read_bytes()
    assert cli("ensure", "--dir", str(volume), "--hosts", HOSTS)[0] == 0
    ca = read_cert(certs / "ca.pem")
    read_cert(volume / "served" / "server.pem").verify_directly_issued_by(ca)
    # Again: the same CA is already there, nothing changes.
    before = snapshot(volume)
    (tmp_path / "both.pem").write_bytes(ca_pem(certs))
    code, output = cli("import-ca", "--dir", str(volume), str(tmp_path / "both.pem"))
    assert code == 0 and "CA already in place" in output
    assert snapshot(volume) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda c, o: ca_pem(o), "already holds another CA"),
        (lambda c, o: (c / "ca.pem").read_bytes(), "holds 0 private keys"),
        (lambda c, o: (c / "ca.pem").read_bytes() + (o / "ca-key.pem").read_bytes(), "belong"),
        (lambda c, o: ca_pem(c) + (o / "ca.pem").read_bytes(), "holds 2 certificates"),
        (lambda c, o: b"garbage", "not a readable certificate"),
    ],
    ids=["another CA", "no key", "mismatched key", "two certificates", "garbage"],
)
def test_an_import_that_does_not_fit_changes_nothing(
    certs: Path, tmp_path: Path, capsys, content, message: str
) -> None:
    other = tmp_path / "other"
    assert cli("ensure", "--dir", str(other), "--hosts", HOSTS)[0] == 0
    (tmp_path / "import.pem").write_bytes(content(certs, other))
    before = snapshot(certs)
    code, _ = cli("import-ca", "--dir", str(certs), str(tmp_path / "import.pem"))
    assert code == 2 and message in capsys.readouterr().err
    assert snapshot(certs) == before

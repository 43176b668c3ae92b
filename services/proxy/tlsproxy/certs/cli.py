"""The command line: ``python -m tlsproxy.certs ensure|maintain|client|inspect|verify``.

Exit codes: 0 done, 1 a certificate does not verify, 2 bad input or unusable files
(nothing was written).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from . import config, maintain, operations, report, store
from .errors import CertsError, VerificationFailed
from .issue import CLIENT_DAYS, SERVER_DAYS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tlsproxy.certs",
        description="Local CA and short-lived certificates for the safe blogging kit.",
        epilog="Exit codes: 0 done, 1 a certificate does not verify, 2 bad input or unusable "
        "files (nothing written). Full guide: docs/certificates.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    folder = argparse.ArgumentParser(add_help=False)
    folder.add_argument("--dir", help="certificate folder (env CERTS_DIR, default ./certs)")

    server = argparse.ArgumentParser(add_help=False, parents=[folder])
    server.add_argument("--hosts", help="comma-separated names/addresses (env CERT_HOSTS)")
    server.add_argument(
        "--days",
        help=f"server lifetime 1-397 (env CERT_LIFETIME e.g. 90d, or CERT_DAYS; default "
        f"{SERVER_DAYS})",
    )
    ensure = commands.add_parser(
        "ensure",
        parents=[server],
        help="create the CA if missing; (re)issue the server certificate when due",
    )
    ensure.add_argument(
        "--ca-key",
        metavar="FILE",
        help="a CA key kept off this machine, for this run only ('-' reads stdin; never stored)",
    )
    ensure.add_argument("--ca-key-type", choices=["ecdsa", "rsa"], help="key of a new CA")
    ensure.add_argument(
        "--no-name-constraints",
        action="store_true",
        help="make a new CA without name constraints (not recommended)",
    )
    ensure.add_argument(
        "--permit",
        default="",
        help="domains or address ranges a new CA may sign for beyond the private ones "
        "(env CERT_PERMIT), e.g. example.org,203.0.113.0/24",
    )
    ensure.add_argument("--force", action="store_true", help="reissue the server certificate now")
    ensure.add_argument(
        "--new-ca",
        action="store_true",
        help="make a new CA; the old CA files are kept as timestamped .bak files",
    )

    keep = commands.add_parser(
        "maintain",
        parents=[server],
        help="the certs service: ensure now, then again every CERT_RENEW_INTERVAL (12h)",
    )
    keep.set_defaults(
        ca_key=None, ca_key_type=None, no_name_constraints=False, permit="", force=False,
        new_ca=False,
    )  # fmt: skip

    adopt = commands.add_parser(
        "import-ca",
        parents=[folder],
        help="adopt an existing CA (ca.pem and ca-key.pem as PEM; never replaces another CA)",
    )
    adopt.add_argument("file", help="PEM with the CA certificate and its key; '-' reads stdin")

    client = commands.add_parser("client", parents=[folder], help="issue a client certificate")
    client.add_argument("name", help="device name, e.g. laptop")
    client.add_argument("--days", help=f"lifetime 1-397 (default {CLIENT_DAYS})")
    client.add_argument(
        "--legacy-p12", action="store_true", help="3DES/SHA-1 bundle for old importers"
    )
    client.add_argument("--force", action="store_true", help="replace an existing client")

    inspect = commands.add_parser("inspect", help="show a certificate file")
    inspect.add_argument("file")

    verify = commands.add_parser(
        "verify", parents=[folder], help="validate server.pem against ca.pem for every name"
    )
    verify.add_argument("--hosts", help="names to check (env CERT_HOSTS)")
    return parser


def _for_user(path: Path, folder: Path, env: Mapping[str, str]) -> Path:
    """Inside the container the folder is /certs; the host's path is what the user can use."""
    host_dir = env.get("CERTS_HOST_DIR")
    return Path(host_dir) / path.relative_to(folder) if host_dir else path


def _settings(args: argparse.Namespace, env: Mapping[str, str]) -> config.ServerSettings:
    settings = config.server_settings(args, env, SERVER_DAYS)
    if args.ca_key is None:
        return settings
    source = "the CA key on stdin" if args.ca_key == "-" else f"the CA key {args.ca_key}"
    data = _read_input(args.ca_key, "CA key")
    key = store.parse_key(data, source.capitalize(), "Give the ca-key.pem that goes with ca.pem.")
    return dataclasses.replace(settings, ca_key=key)


def _read_input(name: str, what: str) -> bytes:
    """The bytes of file ``name``, or of stdin for ``-``."""
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as error:
        raise CertsError(f"Cannot read the {what} {name}: {error.strerror}.") from None


def _ensure(args: argparse.Namespace, env: Mapping[str, str], now: datetime) -> list[str]:
    result = operations.ensure(_settings(args, env), now)
    ignored_ca_options = bool(args.ca_key_type or args.no_name_constraints or args.permit)
    root = result.folder.root
    return report.ensure_lines(
        result,
        now,
        _for_user(root, root, env),
        _for_user(root / "ca.pem", root, env),
        ignored_ca_options,
    )


def _import_ca(args: argparse.Namespace, env: Mapping[str, str], now: datetime) -> list[str]:
    pem = _read_input(args.file, "CA")
    directory = config.directory(args.dir, env)
    ca, written = operations.import_ca(directory, pem, now)
    if not written:
        return [
            f"CA already in place: {ca.subject.rfc4514_string()}, SHA-256 {report.fingerprint(ca)}",
            "  Nothing was changed. The copy you imported from may now be deleted, or kept",
            "  off this machine as a backup.",
        ]
    return [
        *report.summary(ca, "CA imported"),
        "  The next ensure issues a server certificate signed by it; devices that trust it",
        "  need nothing new. Delete the imported copy of ca-key.pem, or keep it offline.",
    ]


def _maintain(args: argparse.Namespace, env: Mapping[str, str], now: datetime) -> list[str]:
    maintain.serve(_settings(args, env), maintain.schedule_from(env))
    return []


def _client(args: argparse.Namespace, env: Mapping[str, str], now: datetime) -> list[str]:
    name = config.client_name(args.name)
    days = config.days(args.days, "--days", CLIENT_DAYS)
    directory = config.directory(args.dir, env)
    result = operations.new_client(directory, name, days, args.legacy_p12, args.force, now)
    cert_path, key_path, bundle_path = result.paths
    encryption = "3DES/SHA-1 (legacy)" if args.legacy_p12 else "AES-256-CBC, PBKDF2-SHA256"
    return [
        *report.summary(result.cert, f"Client certificate issued for {name}"),
        # Only the bundle is copied out (make client-cert); the pair stays with the CA.
        f"  files:       {cert_path.relative_to(directory)}, {key_path.relative_to(directory)}"
        " (beside the CA, not copied out)",
        f"  bundle:      {_for_user(bundle_path, directory, env)} ({encryption})",
        f"  password:    {result.password}",
        "  The password is shown only this once and is not stored: keep it with the bundle's",
        "  recipient. Import the .p12 on the device; if the import fails on an old system,",
        "  make it again with --legacy-p12 --force.",
    ]


def _inspect(args: argparse.Namespace, env: Mapping[str, str], now: datetime) -> list[str]:
    lines: list[str] = []
    certs = store.load_certs(Path(args.file))
    for position, cert in enumerate(certs, start=1):
        title = "Certificate" if len(certs) == 1 else f"Certificate {position} of {len(certs)}"
        lines += report.summary(cert, title)
        lines.append(f"  serial:      {cert.serial_number:x}")
        if cert.not_valid_after_utc <= now:
            lines.append("  EXPIRED")
        lines += report.extension_lines(cert)
    return lines


def _verify(args: argparse.Namespace, env: Mapping[str, str], now: datetime) -> list[str]:
    hosts = config.hosts(args.hosts, env)
    folder = config.folder(args.dir, env)
    optional = config.detected_hosts(args.hosts, env)
    server, checked = operations.check_server(folder, hosts, now, optional)
    lines = [
        f"{folder.server} verifies against {folder.ca} for "
        + ", ".join(str(host) for host in checked),
        f"  valid until {server.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
    ]
    lines += [f"note: detected name {host} is not in the certificate" for host in hosts
              if host not in checked]  # fmt: skip
    return lines


_COMMANDS = {
    "ensure": _ensure,
    "maintain": _maintain,
    "import-ca": _import_ca,
    "client": _client,
    "inspect": _inspect,
    "verify": _verify,
}


def run(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """Run one command; returns the exit code (tests call this in-process)."""
    out = out or sys.stdout
    env = os.environ if env is None else env
    now = now or datetime.now(UTC)
    args = _parser().parse_args(argv)
    try:
        lines = _COMMANDS[args.command](args, env, now)
    except (CertsError, VerificationFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    print("\n".join(lines), file=out)
    return 0


def main() -> None:
    raise SystemExit(run())

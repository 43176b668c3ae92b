"""The command line: ``python -m tlsproxy serve|check|healthcheck [--config PATH]
[--syntax auto|toml|pound]`` and ``python -m tlsproxy import-pound FILE``.

Exit codes: 0 fine; 1 cannot run (certificate missing, port busy) or unhealthy;
2 invalid configuration.

``healthcheck`` runs every 5 seconds for the life of the container, so the server,
TLS and worker modules (aiohttp, cryptography) are imported only by the commands
that use them.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence

from .config import (
    CONFIG_ENV,
    CONFIG_SYNTAXES,
    DEFAULT_CONFIG_PATH,
    Config,
    ConfigError,
    default_config_path,
)
from .config import load_config as _load
from .healthcheck import check_health


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tlsproxy", description="TLS reverse proxy of the safe blogging kit."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("serve", "run the proxy until SIGTERM"),
        ("check", "validate the configuration file and exit"),
        ("healthcheck", "exit 0 when this proxy's /healthz answers on its first listener"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument(
            "--config",
            help=f"configuration file (default: env {CONFIG_ENV}, else {DEFAULT_CONFIG_PATH})",
        )
        sub.add_argument(
            "--syntax",
            choices=CONFIG_SYNTAXES,
            default="auto",
            help="the file's syntax: the proxy's TOML or a Pound file (default: told apart "
            "by its first directive)",
        )
    translate = commands.add_parser(
        "import-pound", help="print a Pound configuration file as the proxy's TOML"
    )
    translate.add_argument("file", help="the Pound file (pound.cfg)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "import-pound":
        return _import_pound(args.file)
    path = args.config or default_config_path()
    try:
        config = _load(path, syntax=args.syntax)
    except ConfigError as exc:
        print(f"tlsproxy: invalid configuration: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        return _check(config)
    if args.command == "healthcheck":
        healthy, seen = check_health(config)
        print(f"tlsproxy healthcheck: {'healthy' if healthy else 'UNHEALTHY'} ({seen})")
        return 0 if healthy else 1
    return _serve(config)


def _check(config: Config) -> int:
    from .tls import CertificateLoadError, certificate_names, certificate_present, server_context

    print(f"{config.source}: configuration is valid")
    _print_warnings(config)
    for listener in config.listeners:
        for certificate in listener.certificates:
            if certificate.optional and not certificate_present(certificate):
                print(f"  {listener.label}: {certificate.cert} (optional, not there yet)")
                continue
            try:
                server_context(certificate, config.tls.profile)
            except CertificateLoadError as exc:
                # Certificates may be made after the file is checked (CI, image build).
                print(f"tlsproxy: warning: {exc}", file=sys.stderr)
            else:
                names = ", ".join(certificate_names(certificate)) or "no DNS names"
                print(f"  {listener.label}: {certificate.cert} ({names})")
    return 0


def _print_warnings(config: Config) -> None:
    """Caveats of a translated file and unsafe choices: said at every check and start."""
    for warning in config.warnings:
        print(f"tlsproxy: warning: {warning}", file=sys.stderr)


def _import_pound(path: str) -> int:
    from .config import parse_config
    from .pound import PoundError, translate_pound
    from .toml_writer import write_toml

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        translation = translate_pound(path, text)
        parse_config(translation.document, path, {}, where=translation.where)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"tlsproxy: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    except (PoundError, ConfigError) as exc:
        print(f"tlsproxy: cannot translate: {exc}", file=sys.stderr)
        return 2
    header = (
        f"Translated from the Pound file {path} by `python -m tlsproxy import-pound`.",
        "A comment above a line says how it differs from Pound there; the reference is",
        "docs/proxy.md. Check it with `python -m tlsproxy check --config FILE`.",
    )
    print(write_toml(translation.document, translation.notes, header), end="")
    return 0


def _serve(config: Config) -> int:
    # One access-log line must reach `docker logs` when it is written, not per 8 KiB.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    _print_warnings(config)
    if config.server.workers > 1:
        from .workers import run_workers

        return run_workers(config, _serve_worker)
    return _serve_one(config, reuse_port=False)


def _serve_worker(config: Config) -> int:
    return _serve_one(config, reuse_port=True)


def _serve_one(config: Config, reuse_port: bool) -> int:
    import asyncio

    from .server import serve
    from .tls import CertificateLoadError

    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        return runner(serve(config, reuse_port))
    except CertificateLoadError as exc:
        print(f"tlsproxy: cannot start: {exc}", file=sys.stderr)
        return 1


def main_exit() -> None:
    sys.exit(main())

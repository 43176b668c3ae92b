"""blogctl: the command-line tool for users, health, export/import and backups.

Run as `python -m blog.ctl COMMAND` (the image puts a `blogctl` wrapper on PATH).
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

from .config import ConfigError, Settings, load_settings

Handler = Callable[[argparse.Namespace, Settings], int]


def healthcheck_url(settings: Settings) -> str:
    # A wildcard bind is reachable on loopback; a specific address only on itself.
    host = settings.bind
    if host in ("0.0.0.0", "", "*"):  # noqa: S104 - comparing, not binding
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}/healthz"


def cmd_healthcheck(args: argparse.Namespace, settings: Settings) -> int:
    url = healthcheck_url(settings)
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:  # noqa: S310 - http URL built above
            ok = response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    print("healthy" if ok else "unhealthy")
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blogctl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    health = sub.add_parser("healthcheck", help="exit 0 when the local server's /healthz is 200")
    health.add_argument("--timeout", type=float, default=3.0)
    health.set_defaults(handler=cmd_healthcheck)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"blogctl: configuration error: {exc}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    return handler(args, settings)


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())

"""blogctl: the command-line tool for users, health, export/import and backups.

Run as `python -m blog.ctl COMMAND` (the image puts a `blogctl` wrapper on PATH).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import shutil
import sqlite3
import sys
import tempfile
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from . import archive, health, importing, second_factor, users
from .config import ConfigError, Settings, load_settings
from .db import open_database
from .passwords import PasswordPolicyError, check_policy

Handler = Callable[[argparse.Namespace, Settings], int]


def cmd_healthcheck(args: argparse.Namespace, settings: Settings) -> int:
    healthy, text = health.check(settings, args.timeout)
    print(text, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


def read_password(args: argparse.Namespace, name: str) -> str:
    """From --password-file (a compose secret works), --password-stdin, or a prompt."""
    if args.password_file:
        text = Path(args.password_file).read_text(encoding="utf-8")
        return text.rstrip("\r\n")
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    while True:
        first = getpass.getpass(f"New password for {name}: ")
        try:
            check_policy(first, name)
        except PasswordPolicyError as exc:
            print(f"{exc}; try again", file=sys.stderr)
            continue
        if getpass.getpass("Repeat it: ") == first:
            return first
        print("the passwords differ; try again", file=sys.stderr)


def _database(settings: Settings) -> sqlite3.Connection:
    return open_database(settings.db_path)


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    users.validate_name(args.name)
    password = read_password(args, args.name)
    user = users.create_user(
        _database(settings), args.name, password, "admin" if args.admin else "author"
    )
    print(f"created {user.role} {user.name}")
    return 0


def cmd_user_list(args: argparse.Namespace, settings: Settings) -> int:
    print(f"{'NAME':<24} {'ROLE':<7} STATUS")
    for user in users.list_users(_database(settings)):
        print(f"{user.name:<24} {user.role:<7} {'disabled' if user.disabled else 'active'}")
    return 0


def cmd_user_disable(args: argparse.Namespace, settings: Settings) -> int:
    users.set_disabled(_database(settings), args.name, True)
    print(f"disabled {args.name}; its sessions are ended")
    return 0


def cmd_user_enable(args: argparse.Namespace, settings: Settings) -> int:
    users.set_disabled(_database(settings), args.name, False)
    print(f"enabled {args.name}")
    return 0


def cmd_user_reset(args: argparse.Namespace, settings: Settings) -> int:
    conn = _database(settings)
    users.require_user(conn, args.name)
    users.reset_password(conn, args.name, read_password(args, args.name))
    print(f"password of {args.name} reset; its sessions are ended")
    return 0


def cmd_user_remove_second_factors(args: argparse.Namespace, settings: Settings) -> int:
    """The recovery path for a lost phone or security key: every second factor and recovery
    code of the user goes, their sessions end; the password stays. Logged."""
    conn = _database(settings)
    user = users.require_user(conn, args.name)
    had = second_factor.remove_all(conn, user.id)
    second_factor.log_event(
        "remove",
        user.name,
        "blogctl",
        factor="all",
        totp=had.totp,
        passkeys=had.passkeys,
        recovery_codes=had.recovery_codes,
    )
    print(
        f"removed the second factors of {user.name} (one-time codes: {'on' if had.totp else 'off'},"
        f" passkeys: {had.passkeys}, unused recovery codes: {had.recovery_codes});"
        " its sessions are ended. They log in with their password and, if the blog requires"
        " it, set up a new second factor at once."
    )
    return 0


def cmd_user_role(args: argparse.Namespace, settings: Settings) -> int:
    user = users.set_role(_database(settings), args.name, args.role)
    print(f"{user.name} is now {user.role}")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    conn = _database(settings)
    if args.file != "-":
        count = archive.export_archive(conn, settings.media_dir, Path(args.file))
        print(f"exported {count} entries to {args.file}")
        return 0
    # To standard output, so `docker compose exec -T blog blogctl export - > blog.zip`
    # needs no writable path in the container: built beside the data, then copied out.
    with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".export-") as scratch:
        target = Path(scratch) / "export.zip"
        count = archive.export_archive(conn, settings.media_dir, target)
        with target.open("rb") as zipped:
            shutil.copyfileobj(zipped, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    print(f"exported {count} entries to standard output", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    report = archive.import_archive(_database(settings), settings.media_dir, Path(args.file))
    print(f"imported {report.entries} entries and {report.media} images")
    return 0


def cmd_import_blog(args: argparse.Namespace, settings: Settings) -> int:
    if args.file == "-":  # the container's root is read-only: the file comes on stdin
        data = sys.stdin.buffer.read(importing.MAX_FILE_BYTES + 1)
        items = importing.read_export(data, "standard input", args.old_url or "")
    else:
        items = importing.read_items(Path(args.file), args.old_url or "")
    conn = _database(settings)
    if args.dry_run:
        report = importing.plan(conn, items)
    else:
        report = importing.import_items(conn, items)
    for line in report.lines:
        print(importing.safe_name(line))
    print(importing.summary(report, args.dry_run))
    return 1 if report.failed else 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    _database(settings)  # migrates, and creates an empty database if there was none
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = (
        Path(args.file) if args.file else settings.data_dir / "backups" / f"blog-{stamp}.sqlite3"
    )
    archive.backup_database(settings.db_path, target)
    print(f"backup written to {target}")
    return 0


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="write a portable zip (Markdown + front matter + media)")
    export.add_argument("file", help="the zip to write; - for standard output")
    export.set_defaults(handler=cmd_export)
    imp = sub.add_parser("import", help="read an export zip back (same slug = replaced)")
    imp.add_argument("file")
    imp.set_defaults(handler=cmd_import)
    blog = sub.add_parser(
        "import-blog",
        help="move a WordPress (WXR .xml) or Ghost (.json) export in; never overwrites",
    )
    blog.add_argument("file", help="the export, or - to read it from standard input")
    blog.add_argument("--dry-run", action="store_true", help="print what would be imported")
    blog.add_argument(
        "--old-url", help="the old Ghost site's address, for images it wrote as __GHOST_URL__"
    )
    blog.set_defaults(handler=cmd_import_blog)
    backup = sub.add_parser("backup", help="consistent copy of the database, safe while running")
    backup.add_argument("file", nargs="?", help="default: DATA_DIR/backups/blog-STAMP.sqlite3")
    backup.set_defaults(handler=cmd_backup)


def _add_password_source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--password-file", help="read the password from this file")
    source.add_argument("--password-stdin", action="store_true", help="read it from stdin")


def _add_user_commands(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="manage local users").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="create a user (an author unless --admin)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="give the user every right")
    _add_password_source(add)
    add.set_defaults(handler=cmd_user_add)
    user.add_parser("list", help="list users").set_defaults(handler=cmd_user_list)
    for verb, handler, text in (
        ("disable", cmd_user_disable, "forbid login and end the user's sessions"),
        ("enable", cmd_user_enable, "allow a disabled user to log in again"),
    ):
        cmd = user.add_parser(verb, help=text)
        cmd.add_argument("name")
        cmd.set_defaults(handler=handler)
    reset = user.add_parser("reset", help="set a new password and end the user's sessions")
    reset.add_argument("name")
    _add_password_source(reset)
    reset.set_defaults(handler=cmd_user_reset)
    remove = user.add_parser(
        "remove-second-factors",
        help="remove a user's one-time codes, passkeys and recovery codes (a lost device)",
    )
    remove.add_argument("name")
    remove.set_defaults(handler=cmd_user_remove_second_factors)
    role = user.add_parser("role", help="make a user admin or author")
    role.add_argument("name")
    role.add_argument("role", choices=users.ROLES)
    role.set_defaults(handler=cmd_user_role)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blogctl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    health = sub.add_parser("healthcheck", help="exit 0 when the local server's /healthz is 200")
    health.add_argument("--timeout", type=float, default=3.0)
    health.set_defaults(handler=cmd_healthcheck)
    _add_user_commands(sub)
    _add_data_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Security events (second_factor.log_event) go to stderr, with a time stamp.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"blogctl: configuration error: {exc}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    try:
        return handler(args, settings)
    except (
        users.UserError,
        PasswordPolicyError,
        archive.ArchiveError,
        importing.ImportFileError,
        zipfile.BadZipFile,
        OSError,
    ) as exc:
        print(f"blogctl: {exc}", file=sys.stderr)
        if isinstance(exc, FileNotFoundError):
            # Run through `docker compose exec`, a host path means nothing in the container.
            way = (
                f"give - and pipe it: docker compose exec -T blog blogctl {args.command} - < FILE"
                if args.command == "import-blog"
                else "copy it into the data volume first: docker compose cp FILE blog:/data/"
            )
            print(
                f"blogctl: paths are read inside the blog's container; for a file on this"
                f" machine, {way}",
                file=sys.stderr,
            )
        return 1


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())

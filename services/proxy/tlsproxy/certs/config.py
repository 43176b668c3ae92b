"""Settings for one run, built and validated in one place from arguments and environment.

Environment: CERTS_DIR (default ./certs), CERTS_SERVED_DIR (default CERTS_DIR/served: what
the proxy is given), CERT_HOSTS (comma-separated names and
addresses), CERT_LIFETIME (server lifetime with a unit: 90d, 36h, 30s) or CERT_DAYS (whole
days, 1-397), CERT_HOSTNAME (the machine's name to add to the defaults and to a new CA's
name constraints; inside a container gethostname() is only the container id; set but
empty: no machine name), CERT_PERMIT (more domains and address ranges a new CA permits).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from . import names, store
from .errors import CertsError
from .issue import MAX_LEAF_DAYS
from .keys import KEY_TYPES, KeyType, PrivateKey

_CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_DURATION = re.compile(r"^\s*(\d{1,9})\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_LIFETIME = timedelta(seconds=10)  # short lifetimes are for tests of renewal


@dataclass(frozen=True)
class ServerSettings:
    directory: Path
    hosts: tuple[names.Host, ...]
    lifetime: timedelta
    ca_key_type: KeyType = "ecdsa"
    name_constraints: bool = True
    permit: tuple[str | names.IPNetwork, ...] = ()
    machine: str | None = None  # this machine's name: a new CA permits it
    force: bool = False
    new_ca: bool = False
    # Detected, not configured (the machine name): left out rather than fatal when an
    # existing CA's name constraints do not cover it, e.g. after a rename.
    optional_hosts: tuple[names.Host, ...] = ()
    # A CA key kept off the machine, given for one run (--ca-key); never written.
    ca_key: PrivateKey | None = None
    served_directory: Path | None = None

    @property
    def folder(self) -> store.Folder:
        return store.Folder(self.directory, self.served_directory)


def server_settings(args: argparse.Namespace, env: Mapping[str, str], days: int) -> ServerSettings:
    """Everything ensure needs, from its options with the environment as fallback."""
    return ServerSettings(
        directory=directory(args.dir, env),
        hosts=hosts(args.hosts, env),
        lifetime=server_lifetime(args.days, env, days),
        ca_key_type=key_type(args.ca_key_type),
        name_constraints=not args.no_name_constraints,
        permit=permit(args.permit, env),
        machine=names.machine_name(env),
        force=args.force,
        new_ca=args.new_ca,
        optional_hosts=detected_hosts(args.hosts, env),
        served_directory=served_directory(env),
    )


def permit(value: str, env: Mapping[str, str]) -> tuple[str | names.IPNetwork, ...]:
    """--permit, else CERT_PERMIT: subtrees a new CA permits beyond the private ones."""
    if value:
        return names.parse_permit(value, "--permit")
    return names.parse_permit(env.get("CERT_PERMIT", ""), "CERT_PERMIT")


def directory(value: str | None, env: Mapping[str, str]) -> Path:
    return Path(value or env.get("CERTS_DIR") or "certs")


def served_directory(env: Mapping[str, str]) -> Path | None:
    value = env.get("CERTS_SERVED_DIR")
    return Path(value) if value else None


def folder(value: str | None, env: Mapping[str, str]) -> store.Folder:
    return store.Folder(directory(value, env), served_directory(env))


def hosts(value: str | None, env: Mapping[str, str]) -> tuple[names.Host, ...]:
    text = value if value is not None else env.get("CERT_HOSTS")
    if text is None or (value is None and not text.strip()):  # CERT_HOSTS= means defaults
        return names.default_hosts(env)
    try:
        return names.parse_hosts(text)
    except CertsError as error:  # say where the bad name came from
        raise CertsError(f"{'--hosts' if value is not None else 'CERT_HOSTS'}: {error}") from None


def detected_hosts(value: str | None, env: Mapping[str, str]) -> tuple[names.Host, ...]:
    """The hosts that ``hosts`` added by itself (the machine name), not the user."""
    configured = value if value is not None else env.get("CERT_HOSTS")
    if configured is not None and configured.strip():
        return ()
    base = names.parse_hosts(names.BASE_HOSTS)
    return tuple(host for host in names.default_hosts(env) if host not in base)


def days(value: str | int | None, source: str, default: int) -> int:
    """A lifetime in whole days between 1 and 397, or a CertsError naming ``source``."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_LEAF_DAYS:
        raise CertsError(
            f"{source}={value!r} is not a valid lifetime. Give a whole number of days from 1 to "
            f"{MAX_LEAF_DAYS} (browsers reject longer-lived server certificates); the default is "
            f"{default}."
        )
    return number


def duration(value: str, source: str, minimum: timedelta, maximum: timedelta) -> timedelta:
    """A duration written with its unit (45s, 10m, 12h, 90d) within bounds, or a CertsError."""
    match = _DURATION.match(value)
    found = timedelta(seconds=int(match[1]) * _UNITS[match[2]]) if match else None
    if found is None or not minimum <= found <= maximum:
        raise CertsError(
            f"{source}={value!r} is not a valid duration. Write a whole number with its unit, "
            f"s, m, h or d (e.g. 12h or 90d), from {_text(minimum)} to {_text(maximum)}."
        )
    return found


def _text(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    unit = next(unit for unit in "dhms" if seconds % _UNITS[unit] == 0)
    return f"{seconds // _UNITS[unit]}{unit}"


def server_lifetime(value: str | None, env: Mapping[str, str], default: int) -> timedelta:
    """--days, else CERT_LIFETIME, else CERT_DAYS, else ``default`` days."""
    if value is not None:
        return timedelta(days=days(value, "--days", default))
    lifetime = env.get("CERT_LIFETIME", "")
    if lifetime:
        return duration(lifetime, "CERT_LIFETIME", MIN_LIFETIME, timedelta(days=MAX_LEAF_DAYS))
    return timedelta(days=days(env.get("CERT_DAYS"), "CERT_DAYS", default))


def key_type(value: str | None) -> KeyType:
    if value is None:
        return KEY_TYPES[0]
    for known in KEY_TYPES:
        if value == known:
            return known
    raise CertsError(f"--ca-key-type {value!r} is unknown; use ecdsa (default) or rsa.")


def client_name(value: str) -> str:
    if not _CLIENT_NAME.match(value):
        raise CertsError(
            f"Client name {value!r} is not allowed. Use 1-63 letters, digits, '-' or '_' "
            "starting with a letter or digit (it becomes a file name), e.g. NAME=laptop."
        )
    return value

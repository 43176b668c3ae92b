"""What each command does to the certificate folder: read and decide first, then write.

Every check (input, existing files, name constraints, a trial verification of the new
certificate) runs before the first write, so bad input changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509

from . import names, store
from .authority import ca_constraints, check_ca, create_ca
from .config import ServerSettings
from .errors import CertsError
from .issue import issue_server
from .keys import PrivateKey, cert_to_pem, generate_key, key_to_pem
from .policy import server_reissue_reason
from .verify import server_failures


@dataclass
class EnsureResult:
    folder: store.Folder
    ca: x509.Certificate
    server: x509.Certificate
    ca_created: bool = False
    server_reason: str | None = None  # None: the existing certificate was kept
    backups: list[Path] = field(default_factory=list)


@dataclass
class ClientResult:
    cert: x509.Certificate
    paths: tuple[Path, Path, Path]
    password: str


def load_ca(folder: store.Folder, now: datetime) -> tuple[x509.Certificate, PrivateKey] | None:
    """The existing CA pair, None when there is none, CertsError when only half is there."""
    have_cert, have_key = folder.ca.exists(), folder.ca_key.exists()
    if not have_cert and not have_key:
        return None
    if have_cert != have_key:
        present, missing = (folder.ca, folder.ca_key) if have_cert else (folder.ca_key, folder.ca)
        raise CertsError(
            f"{present} exists but {missing} does not, so the CA cannot be used and will not be "
            "replaced silently. Restore the missing file from a backup, or run with --new-ca to "
            "keep what is there as a timestamped backup and make a new CA (devices must then "
            "trust the new one)."
        )
    ca = store.load_cert(folder.ca, "CA certificate")
    key = store.load_key(folder.ca_key, "CA private key")
    check_ca(ca, key, str(folder.ca), now)
    return ca, key


def _refuse_unpermitted(ca: x509.Certificate, hosts: tuple[names.Host, ...]) -> None:
    refused = names.not_permitted(hosts, ca_constraints(ca))
    if refused:
        listed = ", ".join(str(host) for host in refused)
        raise CertsError(
            f"The existing CA may not sign for {listed}: its name constraints only permit the "
            "names it was made for, so browsers would reject such a certificate. Either remove "
            f"{listed} from CERT_HOSTS, or run `python -m tlsproxy.certs ensure --new-ca` to "
            "make a new CA for the new list (the old CA files are kept as timestamped backups; "
            "every device must then trust the new ca.pem)."
        )


def _load_server(folder: store.Folder) -> tuple[x509.Certificate | None, PrivateKey | None]:
    cert = store.load_cert(folder.server, "server certificate") if folder.server.exists() else None
    key = store.load_key(folder.server_key, "server key") if folder.server_key.exists() else None
    return cert, key


def ensure(settings: ServerSettings, now: datetime) -> EnsureResult:
    """Create the CA when missing, then (re)issue the server certificate when needed."""
    folder = store.Folder(settings.directory)
    existing = None if settings.new_ca else load_ca(folder, now)
    if existing is not None:
        ca, ca_key = existing
        _refuse_unpermitted(ca, settings.hosts)
    else:
        ca_key = generate_key(settings.ca_key_type)
        subtrees = (
            names.subtrees_for(settings.hosts, settings.permit)
            if settings.name_constraints
            else None
        )
        ca = create_ca(ca_key, subtrees, now)

    if existing is None:
        reason = "a new CA was made"
    elif settings.force:
        reason = "--force"
    else:
        cert, key = _load_server(folder)
        found = server_reissue_reason(cert, key, settings.hosts, ca, now)
        if found is None:
            assert cert is not None  # no reason to reissue means there is a certificate
            return EnsureResult(folder, ca, cert)
        reason = found

    server_key = generate_key()
    server = issue_server(ca, ca_key, server_key, settings.hosts, settings.days, now)
    failures = server_failures(ca, [server], settings.hosts, now)
    if failures:  # a guard: never write a certificate a browser would refuse
        detail = "; ".join(f"{host}: {why}" for host, why in failures.items())
        raise CertsError(
            f"The new server certificate would not verify ({detail}). Nothing was written."
        )

    store.ensure_dir(folder.root)
    result = EnsureResult(folder, ca, server, ca_created=existing is None, server_reason=reason)
    if existing is None:
        result.backups = [
            path
            for path in (store.back_up(folder.ca, now), store.back_up(folder.ca_key, now))
            if path
        ]
        store.atomic_write(folder.ca_key, key_to_pem(ca_key), store.KEY_MODE)
        store.atomic_write(folder.ca, cert_to_pem(ca), store.CERT_MODE)
    # Key first: a crash in between leaves a mismatch, which the next run repairs.
    store.atomic_write(folder.server_key, key_to_pem(server_key), store.KEY_MODE)
    store.atomic_write(folder.server, cert_to_pem(server), store.CERT_MODE)
    return result

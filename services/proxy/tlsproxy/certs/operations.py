"""What each command does to the certificate folder: read and decide first, then write.

Every check (input, existing files, name constraints, a trial verification of the new
certificate) runs before the first write, so bad input changes nothing. (The one earlier
move: a server pair left at the folder's top by an older version goes into ``served/``.)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509

from . import names, store
from .authority import ca_constraints, check_ca, constraint_text, create_ca
from .config import ServerSettings
from .errors import CertsError, RenewalNeedsCAKey, VerificationFailed
from .issue import client_bundle, issue_client, issue_server
from .keys import PrivateKey, cert_to_pem, generate_key, key_matches, key_to_pem
from .policy import cert_hosts, server_reissue_reason
from .verify import client_failure, server_failures


@dataclass
class EnsureResult:
    folder: store.Folder
    ca: x509.Certificate
    server: x509.Certificate
    ca_created: bool = False
    server_reason: str | None = None  # None: the existing certificate was kept
    backups: list[Path] = field(default_factory=list)
    dropped: list[names.Host] = field(default_factory=list)  # detected names the CA refuses
    ca_key_offline: bool = False  # ca.pem without ca-key.pem: nothing could have been signed


@dataclass
class ClientResult:
    cert: x509.Certificate
    paths: tuple[Path, Path, Path]
    password: str


def load_ca(
    folder: store.Folder, now: datetime, offline_key: PrivateKey | None = None
) -> tuple[x509.Certificate, PrivateKey] | None:
    """The existing CA pair, None when there is none, CertsError when only half is there.

    ``offline_key`` is a CA key kept off this machine and given for one run (--ca-key).
    """
    have_cert, have_key = store.present(folder.ca), store.present(folder.ca_key)
    if offline_key is not None:
        if not have_cert:
            raise CertsError(
                f"--ca-key was given but there is no CA certificate {folder.ca} to go with it. "
                "Restore ca.pem into the certificate folder first."
            )
        ca = store.load_cert(folder.ca, "CA certificate")
        check_ca(ca, offline_key, str(folder.ca), now)
        return ca, offline_key
    if not have_cert and not have_key:
        return None
    if have_cert and not have_key:
        raise CertsError(
            f"{folder.ca} exists but the CA key {folder.ca_key} does not, so nothing can be "
            "signed. If you keep the CA key off this machine on purpose, give it for this run "
            f"only: `{RENEW_OFFLINE_MAKE}` (without make: `{RENEW_OFFLINE_COMPOSE}`); it is "
            "used in memory, never stored. "
            "Otherwise restore ca-key.pem from a backup, or run with --new-ca to make a new CA "
            "(every device must then trust the new ca.pem)."
        )
    if not have_cert:
        raise CertsError(
            f"{folder.ca_key} exists but {folder.ca} does not, so the CA cannot be used and "
            "will not be replaced silently. Restore ca.pem from a backup, or run with --new-ca "
            "to keep what is there as a timestamped backup and make a new CA (devices must then "
            "trust the new one)."
        )
    ca = store.load_cert(folder.ca, "CA certificate")
    key = store.load_key(folder.ca_key, "CA private key")
    check_ca(ca, key, str(folder.ca), now)
    return ca, key


# The two forms of the command that makes a new CA (docs/certificates.md, "Changing names").
NEW_CA_MAKE = "make new-ca"
NEW_CA_COMPOSE = "docker compose run --rm certs ensure --new-ca"
# And of the one that renews with a CA key kept off the machine (README, "Certificates").
RENEW_OFFLINE_MAKE = "make certs CA_KEY=/path/to/ca-key.pem"
RENEW_OFFLINE_COMPOSE = "docker compose run --rm -T certs ensure --ca-key - < ca-key.pem"


def _keep_offline(settings: ServerSettings, now: datetime) -> EnsureResult:
    """ca.pem without ca-key.pem (the key kept off this machine on purpose): the served
    pair is kept while it needs no renewal; CertsError saying how to renew when it does."""
    folder = settings.folder
    ca = store.load_cert(folder.ca, "CA certificate")
    hosts, dropped = _hosts_for(ca, settings)
    # Nothing to keep without a served pair: their absence is an error of its own.
    cert = store.load_cert(folder.server, "server certificate")
    key = store.load_key(folder.server_key, "server key")
    reason = "--force" if settings.force else server_reissue_reason(cert, key, hosts, ca, now)
    if reason is None:
        _serve_ca_copy(folder, ca)
        return EnsureResult(folder, ca, cert, dropped=dropped, ca_key_offline=True)
    raise RenewalNeedsCAKey(
        f"The server certificate must be renewed ({reason}), but {folder.ca} has no CA key "
        f"beside it ({folder.ca_key}), so nothing can be signed. If you keep the CA key off "
        f"this machine on purpose, give it for this run only: `{RENEW_OFFLINE_MAKE}` "
        f"(without make: `{RENEW_OFFLINE_COMPOSE}`); it is used in memory, never stored. "
        "Otherwise restore ca-key.pem from a backup, or make a new CA with "
        f"`{NEW_CA_MAKE}` (every device must then trust the new ca.pem). Nothing was changed.",
        reason,
        cert.not_valid_after_utc,
    )


def _refuse_unpermitted(ca: x509.Certificate, hosts: tuple[names.Host, ...]) -> None:
    refused = names.not_permitted(hosts, ca_constraints(ca))
    if refused:
        listed = ", ".join(str(host) for host in refused)
        # ACME issues for DNS names only (docs/acme.md): no such advice for an address.
        acme = (
            "For a public name that readers reach from the internet, the usual answer is a "
            "publicly trusted certificate from ACME (Let's Encrypt): move the name from "
            'CERT_HOSTS to ACME_DOMAINS (README, "From the internet"). '
            if any(isinstance(host, str) for host in refused)
            else "ACME cannot certify an IP address: readers from the internet need a name. "
        )
        raise CertsError(
            f"The CA may not sign for {listed}: its name constraints permit "
            f"{constraint_text(ca).removeprefix('only ')}, so that a stolen CA key cannot "
            "impersonate any other site (browsers would reject such a certificate). "
            f"{acme}To have the local CA "
            f"cover it instead, make a new CA that permits it: `{NEW_CA_MAKE}` (without make: "
            f"`{NEW_CA_COMPOSE}`), with its domain or range in CERT_PERMIT for room to grow. "
            "A new CA costs a visit to every device: each must trust the new ca.pem again, and "
            "client certificates must be made again (the old CA files are kept as .bak). "
            f"Or remove {listed} from CERT_HOSTS. Nothing was changed."
        )


def _load_server(folder: store.Folder) -> tuple[x509.Certificate | None, PrivateKey | None]:
    cert = (
        store.load_cert(folder.server, "server certificate")
        if store.present(folder.server)
        else None
    )
    key = (
        store.load_key(folder.server_key, "server key")
        if store.present(folder.server_key)
        else None
    )
    return cert, key


def _ca_for(
    settings: ServerSettings, folder: store.Folder, now: datetime
) -> tuple[x509.Certificate, PrivateKey, bool]:
    """The CA to sign with and whether it is new (kept only in memory until all checks pass)."""
    existing = None if settings.new_ca else load_ca(folder, now, settings.ca_key)
    if existing is not None:
        return *existing, False
    key = generate_key(settings.ca_key_type)
    subtrees = (
        names.subtrees_for(settings.hosts, settings.permit, settings.machine)
        if settings.name_constraints
        else None
    )
    return create_ca(key, subtrees, now), key, True


def _hosts_for(
    ca: x509.Certificate, settings: ServerSettings
) -> tuple[tuple[names.Host, ...], list[names.Host]]:
    """The hosts to certify, and the detected ones left out because the CA may not sign them."""
    refused = names.not_permitted(settings.hosts, ca_constraints(ca))
    dropped = [host for host in refused if host in settings.optional_hosts]
    hosts = tuple(host for host in settings.hosts if host not in dropped)
    _refuse_unpermitted(ca, hosts)
    return hosts, dropped


def ensure(settings: ServerSettings, now: datetime) -> EnsureResult:
    """Create the CA when missing, then (re)issue the server certificate when needed.

    With the CA key kept off the machine (ca.pem alone, no --ca-key), the served pair is
    kept while current, and CertsError says how to renew once it is due.
    """
    folder = settings.folder
    store.adopt_old_layout(folder)
    key_offline = store.present(folder.ca) and not store.present(folder.ca_key)
    if key_offline and settings.ca_key is None and not settings.new_ca:
        return _keep_offline(settings, now)
    ca, ca_key, ca_created = _ca_for(settings, folder, now)
    hosts, dropped = _hosts_for(ca, settings)
    if ca_created:
        reason = "a new CA was made"
    elif settings.force:
        reason = "--force"
    else:
        cert, key = _load_server(folder)
        found = server_reissue_reason(cert, key, hosts, ca, now)
        if found is None:
            assert cert is not None  # no reason to reissue means there is a certificate
            _serve_ca_copy(folder, ca)
            return EnsureResult(folder, ca, cert, dropped=dropped)
        reason = found

    server_key = generate_key()
    server = issue_server(ca, ca_key, server_key, hosts, settings.lifetime, now)
    failures = server_failures(ca, [server], hosts, now)
    if failures:  # a guard: never write a certificate a browser would refuse
        detail = "; ".join(f"{host}: {why}" for host, why in failures.items())
        raise CertsError(
            f"The new server certificate would not verify ({detail}). Nothing was written."
        )

    store.ensure_dir(folder.root)
    result = EnsureResult(folder, ca, server, ca_created, reason, dropped=dropped)
    if ca_created:
        if settings.new_ca:
            backups = (store.back_up(folder.ca, now), store.back_up(folder.ca_key, now))
            result.backups = [path for path in backups if path]
        store.atomic_write(folder.ca_key, key_to_pem(ca_key), store.KEY_MODE, exclusive=True)
        store.atomic_write(folder.ca, cert_to_pem(ca), store.CERT_MODE, exclusive=True)
    # Key first: a crash in between leaves a mismatch, which the next run repairs (and the
    # proxy keeps serving the old pair until both files match).
    store.ensure_dir(folder.served)
    store.atomic_write(folder.server_key, key_to_pem(server_key), store.KEY_MODE)
    store.atomic_write(folder.server, cert_to_pem(server), store.CERT_MODE)
    _serve_ca_copy(folder, ca)
    return result


def _serve_ca_copy(folder: store.Folder, ca: x509.Certificate) -> None:
    """served/ca.pem: the CA certificate (never its key) for the proxy's mutual TLS."""
    pem = cert_to_pem(ca)
    if not store.present(folder.served_ca) or folder.served_ca.read_bytes() != pem:
        store.ensure_dir(folder.served)
        store.atomic_write(folder.served_ca, pem, store.CERT_MODE)


def import_ca(directory: Path, pem: bytes, now: datetime) -> tuple[x509.Certificate, bool]:
    """Adopt a CA pair given as PEM (certificate and key, in any order).

    Returns the CA and whether it was written (False: this very CA is already there).
    Never replaces a different CA: devices trust that one.
    """
    source = "The CA given to import-ca"
    fix = "Give ca.pem and ca-key.pem together, e.g. cat ca.pem ca-key.pem | ... import-ca -."
    certs = store.parse_certs(pem, source, fix)
    if len(certs) != 1:
        raise CertsError(f"{source} holds {len(certs)} certificates, not one. {fix}")
    key = store.parse_key(store.key_block(pem, source, fix), source, fix)
    ca = certs[0]
    check_ca(ca, key, "the imported CA certificate", now)
    folder = store.Folder(directory)
    existing = load_ca(folder, now)
    if existing is not None:
        if existing[0] == ca:
            return ca, False
        raise CertsError(
            f"{folder.ca} already holds another CA ({existing[0].subject.rfc4514_string()}), "
            "which devices may trust by now; it is not replaced. To use the imported one "
            "instead, run ensure --new-ca first (the current CA is kept as .bak files), then "
            "import again."
        )
    store.ensure_dir(folder.root)
    store.atomic_write(folder.ca_key, key_to_pem(key), store.KEY_MODE, exclusive=True)
    store.atomic_write(folder.ca, cert_to_pem(ca), store.CERT_MODE, exclusive=True)
    return ca, True


def new_client(
    directory: Path, name: str, days: int, legacy: bool, force: bool, now: datetime
) -> ClientResult:
    """Issue a clientAuth certificate and its PKCS#12 bundle under clients/."""
    folder = store.Folder(directory)
    existing = load_ca(folder, now)
    if existing is None:
        raise CertsError(
            f"There is no CA in {directory} yet. Run `python -m tlsproxy.certs ensure` first "
            "(`make up` does), then make the client certificate."
        )
    ca, ca_key = existing
    paths = (
        folder.client(name, ".pem"),
        folder.client(name, "-key.pem"),
        folder.client(name, ".p12"),
    )
    if not force and any(store.present(path) for path in paths):
        raise CertsError(
            f"A client certificate named {name!r} already exists in {folder.clients}. Choose "
            "another name, or add --force to replace it (the old one stays valid until it "
            "expires)."
        )
    key = generate_key()
    cert = issue_client(ca, ca_key, key, name, days, now)
    failure = client_failure(ca, [cert], now)
    if failure is not None:  # a guard, as for the server certificate
        raise CertsError(f"The new client certificate would not verify ({failure}).")
    # Shown once and never stored: the .p12 is only as safe as this password.
    password = secrets.token_urlsafe(15)
    bundle = client_bundle(name, cert, key, ca, password.encode(), legacy)

    store.ensure_dir(folder.root)
    store.ensure_dir(folder.clients)
    store.atomic_write(paths[1], key_to_pem(key), store.KEY_MODE)
    store.atomic_write(paths[0], cert_to_pem(cert), store.CERT_MODE)
    store.atomic_write(paths[2], bundle, store.KEY_MODE)
    return ClientResult(cert, paths, password)


def check_server(
    folder: store.Folder,
    hosts: tuple[names.Host, ...],
    now: datetime,
    optional_hosts: tuple[names.Host, ...] = (),
) -> tuple[x509.Certificate, tuple[names.Host, ...]]:
    """Validate server.pem against ca.pem for every host; VerificationFailed says what is wrong.

    Returns the leaf and the hosts checked: a detected (optional) name that ensure left
    out of the certificate is skipped, as ensure did.
    """
    ca = store.load_cert(folder.ca, "CA certificate")
    chain = store.load_certs(folder.server, "server certificate")
    key = store.load_key(folder.server_key, "server key")
    listed = cert_hosts(chain[0])
    hosts = tuple(host for host in hosts if host in listed or host not in optional_hosts)
    problems = [f"{host}: {why}" for host, why in server_failures(ca, chain, hosts, now).items()]
    if not key_matches(chain[0], key):
        problems.append(f"{folder.server_key} does not belong to {folder.server}")
    if problems:
        raise VerificationFailed(
            f"{folder.server} does not verify against {folder.ca}: "
            + "; ".join(problems)
            + ". Run `python -m tlsproxy.certs ensure` to reissue it (add --force if it is "
            "still considered up to date)."
        )
    return chain[0], hosts

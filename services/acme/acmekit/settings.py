"""The acme service's settings: one typed object, built and validated in one place.

Environment (compose passes the kit's .env through; .env.example documents each):

- ``ACME_DOMAINS``: the public names, comma-separated. Empty: ACME is off and the
  service only idles (``settings_from`` returns None).
- ``ACME_EMAIL``: contact address for the account (optional).
- ``ACME_DIRECTORY``: the RFC 8555 directory URL; ``production`` (default: Let's
  Encrypt) or ``staging`` (Let's Encrypt's staging CA, untrusted, for trying it out).
- ``ACME_CA_BUNDLE``: PEM file of the CAs that sign the directory's own HTTPS
  certificate (a private ACME server such as Pebble); default: the public roots.
- ``ACME_RENEW_INTERVAL`` (default 12h) and ``ACME_RETRY_INTERVAL`` (default 10m): how
  often at most between checks, and the first wait after a failure (it doubles, up to
  a day), written as the kit writes durations (``30s``, ``10m``, ``12h``).
- ``ACME_ACCOUNT_DIR``, ``ACME_CERTS_DIR``, ``ACME_CHALLENGE_DIR``: the three volumes
  (set by the image; tests point them elsewhere).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from tlsproxy.certs import names
from tlsproxy.certs.config import duration
from tlsproxy.certs.errors import CertsError

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
DIRECTORY_SHORTHANDS = {
    "": LETS_ENCRYPT,
    "production": LETS_ENCRYPT,
    "staging": LETS_ENCRYPT_STAGING,
}
MAX_DOMAINS = 100  # Let's Encrypt's limit of names in one certificate
_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
_DURATION_BOUNDS = (timedelta(seconds=1), timedelta(days=30))


class SettingsError(ValueError):
    """A setting the service cannot run with; the message names it and the fix."""


@dataclass(frozen=True)
class Settings:
    domains: tuple[str, ...]  # lower-case DNS names, in the order given
    directory: str  # the RFC 8555 directory URL
    contact: str | None = None  # an e-mail address
    ca_bundle: Path | None = None  # trust for the directory's HTTPS; None: public roots
    renew_interval: timedelta = timedelta(hours=12)
    retry_interval: timedelta = timedelta(minutes=10)
    account_dir: Path = Path("/acme/account")
    certs_dir: Path = Path("/acme/certs")
    challenge_dir: Path = Path("/acme/challenges")

    @property
    def account_key(self) -> Path:
        return self.account_dir / "account-key.pem"

    @property
    def certificate(self) -> Path:
        """The served pair: the chain, then its key, in one file (written at once)."""
        return self.certs_dir / "certificate.pem"

    @property
    def issued(self) -> Path:
        """What the served pair was obtained for (names, directory): a JSON note."""
        return self.certs_dir / "issued.json"


def settings_from(env: Mapping[str, str]) -> Settings | None:
    """The settings in ``env``; None when ACME_DOMAINS is empty (ACME off).

    Raises SettingsError naming the variable and the fix.
    """
    domains = parse_domains(env.get("ACME_DOMAINS", ""))
    if not domains:
        return None
    defaults = Settings(domains, LETS_ENCRYPT)
    return Settings(
        domains=domains,
        directory=parse_directory(env.get("ACME_DIRECTORY", "")),
        contact=parse_contact(env.get("ACME_EMAIL", "")),
        ca_bundle=parse_ca_bundle(env.get("ACME_CA_BUNDLE", "")),
        renew_interval=_duration(env, "ACME_RENEW_INTERVAL", defaults.renew_interval),
        retry_interval=_duration(env, "ACME_RETRY_INTERVAL", defaults.retry_interval),
        account_dir=Path(env.get("ACME_ACCOUNT_DIR") or defaults.account_dir),
        certs_dir=Path(env.get("ACME_CERTS_DIR") or defaults.certs_dir),
        challenge_dir=Path(env.get("ACME_CHALLENGE_DIR") or defaults.challenge_dir),
    )


def parse_domains(text: str) -> tuple[str, ...]:
    """ACME_DOMAINS as unique lower-case public DNS names that HTTP-01 can validate."""
    domains: list[str] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            host = names.parse_host(entry)
        except CertsError as error:
            raise SettingsError(f"ACME_DOMAINS: {error}") from None
        if not isinstance(host, str):
            raise SettingsError(
                f"ACME_DOMAINS: {entry!r} is an IP address; the kit's ACME client asks for DNS "
                "names only. Give the DNS name that points at this machine; reach an address "
                "through the local CA (CERT_HOSTS)."
            )
        if host.startswith("*."):
            raise SettingsError(
                f"ACME_DOMAINS: {entry!r} is a wildcard, which HTTP-01 cannot validate (it needs "
                "DNS-01). List each name instead, e.g. blog.example.org,www.example.org."
            )
        if names.is_private(host) or "." not in host:
            raise SettingsError(
                f"ACME_DOMAINS: {host} is not a public name, so no public CA can validate or "
                "sign it. Put private names in CERT_HOSTS (the local CA signs them)."
            )
        if host not in domains:
            domains.append(host)
    if len(domains) > MAX_DOMAINS:
        raise SettingsError(
            f"ACME_DOMAINS lists {len(domains)} names; one certificate holds at most "
            f"{MAX_DOMAINS}. List fewer."
        )
    return tuple(domains)


def parse_directory(text: str) -> str:
    """ACME_DIRECTORY: a shorthand (production, staging) or an https:// directory URL."""
    value = text.strip()
    if value.lower() in DIRECTORY_SHORTHANDS:
        return DIRECTORY_SHORTHANDS[value.lower()]
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.fragment:
        raise SettingsError(
            f"ACME_DIRECTORY={value!r} is neither production, staging nor an https:// URL of "
            "an RFC 8555 directory (e.g. https://acme-v02.api.letsencrypt.org/directory)."
        )
    return value


def parse_contact(text: str) -> str | None:
    value = text.strip()
    if not value:
        return None
    address = value.removeprefix("mailto:")
    if not _EMAIL.match(address):
        raise SettingsError(
            f"ACME_EMAIL={value!r} is not one e-mail address; give one like you@example.org, "
            "or leave it empty."
        )
    return address


def parse_ca_bundle(text: str) -> Path | None:
    value = text.strip()
    if not value:
        return None
    path = Path(value)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise SettingsError(
            f"ACME_CA_BUNDLE={value}: cannot read it ({error.strerror}). Give a PEM file of "
            "the CA that signs the ACME server's HTTPS certificate, or leave it empty for "
            "the public roots."
        ) from None
    if b"-----BEGIN CERTIFICATE-----" not in content:
        raise SettingsError(f"ACME_CA_BUNDLE={value} holds no PEM certificate.")
    return path


def _duration(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return duration(value, name, *_DURATION_BOUNDS)
    except CertsError as error:
        raise SettingsError(str(error)) from None

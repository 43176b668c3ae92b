"""The ACME account (RFC 8555 section 7.3): its key, made once and kept, and its URL.

The key lives in the service's own volume (``acme-account``), which nothing else
mounts. It is made on the first run with ACME_DOMAINS set and reused on every later
one: registering an existing key at the same server finds the same account (7.3.1),
so restarts, ``make down``/``make up`` and image rebuilds never make a new account.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import josepy as jose
from acme import client, errors, messages
from cryptography.hazmat.primitives.asymmetric import ec
from tlsproxy.certs import store
from tlsproxy.certs.errors import CertsError
from tlsproxy.certs.keys import generate_key, key_to_pem

ALGORITHM = jose.ES256  # the account key is ECDSA P-256 (the kit's key type everywhere)


@dataclass(frozen=True)
class AccountKey:
    jwk: jose.JWK
    created: bool  # made by this run (False: read from the volume)


@dataclass(frozen=True)
class Account:
    uri: str  # the account URL, the "kid" of every request
    created: bool  # a new account at this server (False: the key's existing one)
    terms_of_service: str | None


def load_or_create_key(path: Path) -> AccountKey:
    """The account key at ``path``, made (mode 0600, never replacing a file) when missing.

    Raises CertsError when the file exists but is not an ECDSA key this service made.
    """
    if store.present(path):
        key = store.load_key(path, "ACME account key")
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CertsError(
                f"The ACME account key {path} is not an ECDSA P-256 key. Move it aside; a new "
                "one (a new account) is made on the next start."
            )
        return AccountKey(jose.JWKEC(key=key), created=False)
    key = generate_key()
    store.atomic_write(path, key_to_pem(key), store.KEY_MODE, exclusive=True)
    return AccountKey(jose.JWKEC(key=key), created=True)


def register(acme: client.ClientV2, contact: str | None) -> Account:
    """Find the account of the client's key, or make it (agreeing to the terms of service).

    Leaves ``acme.net.account`` set, so every later request is signed with its URL.
    Raises acme's messages.Error (e.g. a rate limit) and network errors as they come.
    """
    terms = acme.directory.meta.terms_of_service
    registration = messages.NewRegistration.from_data(email=contact, terms_of_service_agreed=True)
    try:
        resource = acme.new_account(registration)
    except errors.ConflictError as existing:  # 200 + Location: this key has an account
        # The contact stays as the account was made with (docs: README, "From the internet").
        found = messages.RegistrationResource(uri=existing.location, body=messages.Registration())
        acme.query_registration(found)
        return Account(existing.location, created=False, terms_of_service=terms)
    assert resource.uri is not None  # RFC 8555 7.3: the account URL comes in Location
    return Account(resource.uri, created=True, terms_of_service=terms)

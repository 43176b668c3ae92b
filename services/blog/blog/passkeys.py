"""Passkeys (WebAuthn Level 2): the relying party, challenges, and the stored credentials.

py_webauthn (`webauthn`) verifies what browsers send; this module decides what is
asked for and keeps what is learnt:

- The relying-party ID is the host name of BLOG_PUBLIC_URL. Browsers bind a passkey to
  a domain and refuse an IP address as relying-party ID (WebAuthn section 5.1.3 via
  the "registrable domain suffix" rule), so with no public URL, or one by IP address,
  passkeys are unavailable and `relying_party` says why.
- Every ceremony gets a fresh 256-bit challenge, kept in memory for CHALLENGE_LIFETIME
  seconds and usable once, by the browser that asked for it (Challenges); the
  challenge a browser signed is read back from its clientDataJSON and must be one the
  server issued to that browser, for the same purpose (and user).
- Everything a client posts is untrusted: bounded before parsing (parse_posted) and
  verified inside `untrusted`, so malformed input is a PasskeyError, never a crash.
- Passkeys are discoverable credentials (resident keys), so a user can sign in with
  one alone, without typing a name. Signing in that way requires user verification
  (a PIN or biometric on the device): possession plus that is two factors.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import sqlite3
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import webauthn
from webauthn.helpers import (
    bytes_to_base64url,
    generate_challenge,
    generate_user_handle,
    parse_authentication_credential_json,
    parse_client_data_json,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from .config import Settings
from .db import transaction

log = logging.getLogger("blog.passkeys")
CHALLENGE_LIFETIME = 300.0  # seconds; also the browser's timeout for the ceremony
MAX_CHALLENGES = 10_000  # bounds memory under a flood of "begin" requests
PER_BROWSER = 4  # a browser rarely runs more than one ceremony at a time
PER_ADDRESS = 100  # room for a busy office behind one address
NAME_LENGTH = 64
Purpose = Literal["register", "sign-in", "second-factor"]


class PasskeyError(ValueError):
    """A passkey ceremony failed; the message is safe to show."""


class PasskeysUnavailable(PasskeyError):
    """Passkeys cannot work with this configuration; the message says why and the fix."""


NO_PUBLIC_URL = (
    "Passkeys are not available: the blog does not know its public address. Set"
    " BLOG_PUBLIC_URL to the https:// address with the host name your browsers open"
    " (such as https://blog.example) and restart the blog."
)
IP_ADDRESS = (
    "Passkeys are not available: this blog is reached by an IP address ({host}). A browser"
    " binds a passkey to a domain name (the relying-party ID) and refuses to make or use"
    " one for an IP address. Give the blog a host name (in DNS, or in each device's hosts"
    " file), set BLOG_PUBLIC_URL to https:// with that name, and open the blog by it."
)


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who passkeys are made for: `id` a host name, `origin` the https origin browsers use."""

    id: str
    origin: str
    name: str


def relying_party(settings: Settings) -> RelyingParty:
    """The relying party of this blog; raises PasskeysUnavailable with the reason and fix."""
    if not settings.public_url:
        raise PasskeysUnavailable(NO_PUBLIC_URL)
    parts = urlsplit(settings.public_url)
    host = (parts.hostname or "").lower()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # The origin as browsers serialize it: lower case, no default port.
        port = f":{parts.port}" if parts.port not in (None, 443) else ""
        return RelyingParty(id=host, origin=f"https://{host}{port}", name=settings.title)
    raise PasskeysUnavailable(IP_ADDRESS.format(host=host))


@dataclass(frozen=True, slots=True)
class Challenge:
    purpose: Purpose
    user_id: int | None
    expires_at: float
    browser: str  # the digest of the browser's CSRF token: only it may answer
    address: str  # the client's throttling identity (throttle.address_key)


class ChallengesBusy(PasskeyError):
    """No challenge now: too many are outstanding for this address (or in all).
    `retry_after`: seconds until one expires."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


BUSY = (
    "Too many passkey requests are waiting to be answered from your network: finish or"
    " cancel one, or try again in a few minutes."
)


class Challenges:
    """Challenges issued and not yet used, in memory. `clock` is monotonic seconds.

    Each challenge is bound to the browser that asked for it (its CSRF token) and
    only that browser may answer it, so nobody can evict or use another's. Bounds,
    so that a flood costs its sender and no one else:
    - a browser holds at most PER_BROWSER; a new one ends its own oldest;
    - an address (throttle.address_key) holds at most PER_ADDRESS, and the whole
      table MAX_CHALLENGES: past those a request is refused (ChallengesBusy) until
      one expires or is used, and never evicts a challenge someone is answering.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        # Insertion order is expiry order: every challenge lives CHALLENGE_LIFETIME.
        self._live: OrderedDict[bytes, Challenge] = OrderedDict()
        self._by_browser: dict[str, list[bytes]] = {}
        self._by_address: Counter[str] = Counter()

    def issue(self, purpose: Purpose, user_id: int | None, browser: str, address: str) -> bytes:
        """A new challenge for one ceremony of `purpose` (by `user_id`, when known) that
        only `browser` may answer; ChallengesBusy past the bounds of the class."""
        now = self.clock()
        self._expire(now)
        own = self._by_browser.get(browser, [])
        if len(own) >= PER_BROWSER:
            self._drop(own[0])
        elif self._by_address[address] >= PER_ADDRESS:
            raise ChallengesBusy(BUSY, self._first_expiry(now, address))
        elif len(self._live) >= MAX_CHALLENGES:
            raise ChallengesBusy(BUSY, self._first_expiry(now, None))
        challenge = generate_challenge()
        self._live[challenge] = Challenge(
            purpose, user_id, now + CHALLENGE_LIFETIME, browser, address
        )
        self._by_browser.setdefault(browser, []).append(challenge)
        self._by_address[address] += 1
        return challenge

    def take(self, challenge: bytes, purpose: Purpose, user_id: int | None, browser: str) -> bool:
        """Use up `challenge`: whether it was live and issued to this browser for this
        purpose and user. Another browser's attempt leaves it in place."""
        issued = self._live.get(challenge)
        if issued is None or issued.browser != browser:
            return False
        self._drop(challenge)
        return (
            issued.purpose == purpose
            and issued.user_id == user_id
            and self.clock() < issued.expires_at
        )

    def _drop(self, challenge: bytes) -> None:
        issued = self._live.pop(challenge)
        own = self._by_browser[issued.browser]
        own.remove(challenge)
        if not own:
            del self._by_browser[issued.browser]
        self._by_address[issued.address] -= 1
        if not self._by_address[issued.address]:
            del self._by_address[issued.address]

    def _expire(self, now: float) -> None:
        while self._live:
            oldest, issued = next(iter(self._live.items()))
            if issued.expires_at > now:
                return
            self._drop(oldest)

    def _first_expiry(self, now: float, address: str | None) -> float:
        for issued in self._live.values():
            if address is None or issued.address == address:
                return max(issued.expires_at - now, 1.0)
        return 1.0


@dataclass(frozen=True, slots=True)
class Passkey:
    """A stored credential; `credential_id` and `public_key` (COSE) as bytes."""

    id: int
    user_id: int
    credential_id: bytes
    public_key: bytes
    sign_count: int
    name: str
    created_at: int
    last_used_at: int | None


def _passkey(row: sqlite3.Row) -> Passkey:
    return Passkey(**{name: row[name] for name in Passkey.__slots__})


def list_for(conn: sqlite3.Connection, user_id: int) -> list[Passkey]:
    """The user's passkeys, oldest first."""
    rows = conn.execute("SELECT * FROM passkeys WHERE user_id = ? ORDER BY id", (user_id,))
    return [_passkey(row) for row in rows]


def find(conn: sqlite3.Connection, credential_id: bytes) -> Passkey | None:
    row = conn.execute(
        "SELECT * FROM passkeys WHERE credential_id = ?", (credential_id,)
    ).fetchone()
    return _passkey(row) if row else None


def clean_name(name: str) -> str:
    """A passkey's label as stored: one line, at most NAME_LENGTH characters, never empty."""
    return " ".join(name.split())[:NAME_LENGTH] or "Passkey"


def rename(conn: sqlite3.Connection, user_id: int, passkey_id: int, name: str) -> bool:
    """Relabel one of the user's passkeys; whether it exists."""
    with transaction(conn):
        cursor = conn.execute(
            "UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?",
            (clean_name(name), passkey_id, user_id),
        )
    return cursor.rowcount == 1


def remove(conn: sqlite3.Connection, user_id: int, passkey_id: int) -> Passkey | None:
    """Delete one of the user's passkeys; the one deleted, or None."""
    with transaction(conn):
        row = conn.execute(
            "DELETE FROM passkeys WHERE id = ? AND user_id = ? RETURNING *", (passkey_id, user_id)
        ).fetchone()
    return _passkey(row) if row else None


def remove_all(conn: sqlite3.Connection, user_id: int) -> int:
    """Delete every passkey of the user; how many there were."""
    with transaction(conn):
        cursor = conn.execute("DELETE FROM passkeys WHERE user_id = ?", (user_id,))
    return cursor.rowcount


def user_handle(conn: sqlite3.Connection, user_id: int) -> bytes:
    """The user's WebAuthn user handle: 64 random bytes, made on first use."""
    with transaction(conn):
        conn.execute(
            "UPDATE users SET webauthn_handle = ? WHERE id = ? AND webauthn_handle IS NULL",
            (generate_user_handle(), user_id),
        )
    row = conn.execute("SELECT webauthn_handle FROM users WHERE id = ?", (user_id,)).fetchone()
    return bytes(row[0])


def registration_options(
    rp: RelyingParty, user_name: str, handle: bytes, existing: list[Passkey], challenge: bytes
) -> str:
    """PublicKeyCredentialCreationOptions as JSON (base64url for bytes) for the script."""
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user_name,
        user_id=handle,
        challenge=challenge,
        timeout=int(CHALLENGE_LIFETIME * 1000),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id) for p in existing],
    )
    return webauthn.options_to_json(options)


def authentication_options(rp: RelyingParty, challenge: bytes, allowed: list[Passkey]) -> str:
    """PublicKeyCredentialRequestOptions as JSON; an empty `allowed` lets the browser
    offer every passkey it holds for this site (username-less sign-in)."""
    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=int(CHALLENGE_LIFETIME * 1000),
        allow_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id) for p in allowed],
        user_verification=UserVerificationRequirement.PREFERRED
        if allowed
        else UserVerificationRequirement.REQUIRED,
    )
    return webauthn.options_to_json(options)


MALFORMED = "the passkey's answer is malformed or was not accepted"


@contextmanager
def untrusted(what: str) -> Iterator[None]:
    """Run py_webauthn (and its parsers: JSON, base64, CBOR, X.509, JWS) on bytes a
    client sent: whatever they raise is the client's fault, a PasskeyError with a
    generic message (MALFORMED), and the detail is logged at INFO for the admin.

    Every exception is caught on purpose: hostile input reaches code paths whose
    exceptions are not documented (a RecursionError from deep JSON in
    clientDataJSON, an AttributeError from an android-safetynet statement whose JWS
    header is not an object), and none of them may become a 500.
    """
    try:
        yield
    except PasskeyError:
        raise
    except Exception as exc:  # every kind, on purpose: see the docstring
        log.info("A passkey %s was refused: %s: %s", what, type(exc).__name__, exc)
        raise PasskeyError(MALFORMED) from None


def signed_challenge(credential: Mapping[str, object]) -> bytes:
    """The challenge the browser signed, read from the credential's clientDataJSON."""
    with untrusted("answer"):
        response = credential["response"]
        if not isinstance(response, Mapping) or not isinstance(response["clientDataJSON"], str):
            raise PasskeyError(MALFORMED)
        raw = webauthn.base64url_to_bytes(response["clientDataJSON"])
        challenge = parse_client_data_json(raw).challenge
    return challenge


def credential_id_of(credential: Mapping[str, object]) -> bytes:
    """The raw id of an assertion's credential (which passkey answered)."""
    with untrusted("answer"):
        raw_id = parse_authentication_credential_json(dict(credential)).raw_id
    return raw_id


def add_from_registration(
    conn: sqlite3.Connection,
    rp: RelyingParty,
    user_id: int,
    credential: Mapping[str, object],
    challenge: bytes,
    name: str,
    now: int,
) -> Passkey:
    """Verify a registration (attestation "none" accepted) and store the new passkey."""
    with untrusted("registration"):
        verified = webauthn.verify_registration_response(
            credential=dict(credential),
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    try:
        with transaction(conn):
            cursor = conn.execute(
                "INSERT INTO passkeys (user_id, credential_id, public_key, sign_count, name,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    user_id,
                    verified.credential_id,
                    verified.credential_public_key,
                    verified.sign_count,
                    clean_name(name),
                    now,
                ),
            )
    except sqlite3.IntegrityError:
        raise PasskeyError("this passkey is registered already") from None
    row = conn.execute("SELECT * FROM passkeys WHERE id = ?", (cursor.lastrowid,)).fetchone()
    return _passkey(row)


def verify_assertion(
    conn: sqlite3.Connection,
    rp: RelyingParty,
    credential: Mapping[str, object],
    challenge: bytes,
    *,
    require_user_verification: bool,
    now: int,
) -> Passkey:
    """The stored passkey that signed `challenge` in this assertion; its use is recorded.

    Raises PasskeyError for an unknown passkey, one made for another site (relying-party
    ID or origin), a bad signature, or a signature counter that went backwards (a clone).
    """
    stored = find(conn, credential_id_of(credential))
    if stored is None:
        raise PasskeyError("this passkey is not registered with this blog")
    with untrusted("sign-in"):
        verified = webauthn.verify_authentication_response(
            credential=dict(credential),
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=stored.public_key,
            credential_current_sign_count=stored.sign_count,
            require_user_verification=require_user_verification,
        )
    with transaction(conn):
        conn.execute(
            "UPDATE passkeys SET sign_count = ?, last_used_at = ? WHERE id = ?",
            (verified.new_sign_count, now, stored.id),
        )
    return stored


@dataclass(frozen=True, slots=True)
class Posted:
    """What the script posts: the credential, and the name and the user's password
    (registration) or the page to go to after signing in, when given."""

    credential: dict[str, object]
    name: str
    next: str
    password: str = field(default="", repr=False)  # never in a log line


MAX_POSTED_BYTES = 64 * 1024  # a credential with a full attestation chain is a few KiB
MAX_JSON_DEPTH = 16  # the deepest WebAuthn JSON nests 4 levels
_JSON_SIGNIFICANT = re.compile(rb'[\[\]{}"\\]')


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in JSON text (brackets in strings skipped),
    counted in one linear pass without parsing it: json.loads recurses once per
    level, so deep input must be refused before it reaches the parser."""
    depth = deepest = 0
    in_string = False
    escaped_at = -1  # the position a backslash in a string makes literal
    for found in _JSON_SIGNIFICANT.finditer(body):
        at, char = found.start(), found.group()
        if at == escaped_at:
            continue
        if in_string:
            if char == b"\\":
                escaped_at = at + 1
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in b"]}":
            depth -= 1
    return deepest


def parse_posted(body: bytes) -> Posted:
    """The JSON a script posted; PasskeyError when it is larger than MAX_POSTED_BYTES,
    nests deeper than MAX_JSON_DEPTH, is not JSON, or is not an object with a
    credential."""
    if len(body) > MAX_POSTED_BYTES:
        raise PasskeyError(f"the request is larger than {MAX_POSTED_BYTES // 1024} KiB")
    if json_depth(body) > MAX_JSON_DEPTH:
        raise PasskeyError(f"the request nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PasskeyError("the request is not JSON") from exc
    if not isinstance(value, dict) or not isinstance(value.get("credential"), dict):
        raise PasskeyError('the request needs a "credential" object')

    def text(key: str) -> str:
        found = value.get(key, "")
        return found if isinstance(found, str) else ""

    return Posted(value["credential"], text("name"), text("next"), text("password"))


def encoded_id(passkey: Passkey) -> str:
    """The credential id as base64url, as browsers show it."""
    return bytes_to_base64url(passkey.credential_id)

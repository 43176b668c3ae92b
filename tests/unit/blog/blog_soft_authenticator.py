"""A software passkey authenticator for the in-process tests (WebAuthn Level 2, sections
6.1 authenticator data, 6.5.4 "none" attestation, 6.3.3 assertions).

It makes real P-256 keys and real ECDSA signatures, so the blog's verification (py_webauthn)
runs unchanged; the browser tests use Chromium's own virtual authenticator instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP, FLAG_UV, FLAG_AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    rp_id: str
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    counter: int = 0


@dataclass
class SoftAuthenticator:
    """Holds discoverable credentials; `origin` is the page the "browser" is on."""

    origin: str
    credentials: list[Credential] = field(default_factory=list)

    def create(self, options: dict[str, object], rp_id: str | None = None) -> dict[str, object]:
        """navigator.credentials.create(): a credential for options' relying party (or
        `rp_id`, to make one for another site), in the JSON the blog's script posts."""
        rp = options["rp"]
        user = options["user"]
        assert isinstance(rp, dict) and isinstance(user, dict)
        made = Credential(
            rp_id or rp["id"], os.urandom(32), ec.generate_private_key(ec.SECP256R1()),
            unb64url(user["id"]),
        )  # fmt: skip
        self.credentials.append(made)
        numbers = made.key.public_key().public_numbers()
        cose = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        attested = bytes(16) + struct.pack(">H", len(made.credential_id)) + made.credential_id
        auth_data = self._auth_data(made, FLAG_UP | FLAG_UV | FLAG_AT) + attested + cose
        client_data = self._client_data("webauthn.create", str(options["challenge"]))
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(made.credential_id),
            "rawId": b64url(made.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }

    def get(
        self, options: dict[str, object], credential: Credential | None = None
    ) -> dict[str, object]:
        """navigator.credentials.get(): an assertion by `credential` (default: the first
        one for options' rpId)."""
        chosen = credential or next(c for c in self.credentials if c.rp_id == options["rpId"])
        chosen.counter += 1
        auth_data = self._auth_data(chosen, FLAG_UP | FLAG_UV)
        client_data = self._client_data("webauthn.get", str(options["challenge"]))
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = chosen.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(chosen.credential_id),
            "rawId": b64url(chosen.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(chosen.user_handle),
            },
            "clientExtensionResults": {},
        }

    def _auth_data(self, credential: Credential, flags: int) -> bytes:
        rp_hash = hashlib.sha256(credential.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", credential.counter)

    def _client_data(self, kind: str, challenge: str) -> bytes:
        body = {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        return json.dumps(body).encode()

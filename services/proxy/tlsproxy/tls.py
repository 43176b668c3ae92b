"""Server-side TLS: the Mozilla profiles, certificate loading and SNI selection.

One ``SSLContext`` is built per certificate at start; the SNI callback only swaps a
prepared context, so a handshake does no configuration work. An ``optional``
certificate (the kit's ACME pair) is left out while its files are absent and is chosen
only by SNI for its own names: clients that send no name, or another one, keep the
default (the first required certificate, the kit's local-CA pair). Key-exchange groups
cannot be listed from Python 3.11 (``set_ecdh_curve`` takes one curve), so the image
points ``OPENSSL_CONF`` at ``openssl.cnf``, which limits them to X25519, P-256 and P-384.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from cryptography import x509

from .config import Certificate, Listener

# Mozilla "intermediate" (TLS 1.2 part; TLS 1.3 suites are all acceptable): AEAD with
# forward secrecy only. Python's default server list would also offer CBC suites.
INTERMEDIATE_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)
ALPN_PROTOCOLS = ["http/1.1"]
MAKE_CERTS_HINT = "it is expected from `make certs` (python -m tlsproxy.certs ensure)"


class CertificateLoadError(RuntimeError):
    """A certificate or key file is missing, unreadable or does not match."""


def server_context(
    certificate: Certificate, profile: str, listener: Listener | None = None
) -> ssl.SSLContext:
    """A server context for one certificate with the given Mozilla profile (and the
    listener's client-certificate settings)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if profile == "modern":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(INTERMEDIATE_CIPHERS)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_SINGLE_ECDH_USE
    # As Mozilla advises: every offered suite is strong, so the client's order wins
    # (phones prefer ChaCha20); no session tickets, whose key would live as long as
    # the process and undo forward secrecy (resumption uses the session cache).
    ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.options |= ssl.OP_NO_TICKET
    ctx.set_alpn_protocols(ALPN_PROTOCOLS)
    _load_chain(ctx, certificate)
    if listener is not None and listener.client_ca is not None:
        _ask_client_certificates(ctx, listener.client_ca, listener.client_cert)
    return ctx


def _ask_client_certificates(ctx: ssl.SSLContext, ca: Path, mode: str) -> None:
    """Mutual TLS: a presented certificate must chain to ``ca`` (else the handshake
    fails in every mode); ``required`` also fails it when none is presented."""
    try:
        ctx.load_verify_locations(cafile=str(ca))
    except (ssl.SSLError, OSError) as exc:
        raise CertificateLoadError(f"Cannot use {ca} as client_ca: {exc}") from exc
    ctx.verify_mode = ssl.CERT_REQUIRED if mode == "required" else ssl.CERT_OPTIONAL


def _load_chain(ctx: ssl.SSLContext, certificate: Certificate) -> None:
    for what, path in (("certificate", certificate.cert), ("private key", certificate.key)):
        if not path.is_file():
            raise CertificateLoadError(
                f"The {what} file {path} does not exist: check the path in the configuration "
                f"(the kit's own pair under /certs: {MAKE_CERTS_HINT})."
            )
        try:
            path.open("rb").close()
        except OSError as exc:
            raise CertificateLoadError(
                f"The {what} file {path} is not readable by the proxy's user (uid {os.getuid()}:"
                f" {exc.strerror}): make it readable to that user, e.g. `chown {os.getuid()}` on"
                f" the host, or `chmod 0644` for a certificate (the kit's own pair: "
                f"{MAKE_CERTS_HINT})."
            ) from exc
    try:
        ctx.load_cert_chain(certificate.cert, certificate.key)
    except (ssl.SSLError, OSError) as exc:
        raise CertificateLoadError(
            f"Cannot use {certificate.cert} with key {certificate.key}: {exc}; "
            f"regenerate them with `make certs`."
        ) from exc


def certificate_names(certificate: Certificate) -> tuple[str, ...]:
    """DNS names the certificate answers for: configured ``names`` first, then its SANs."""
    names = list(certificate.names)
    try:
        leaf = x509.load_pem_x509_certificates(Path(certificate.cert).read_bytes())[0]
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [n.lower() for n in san.get_values_for_type(x509.DNSName)]
    except (x509.ExtensionNotFound, ValueError, OSError, IndexError):
        pass  # a certificate without SANs is still usable as the default
    return tuple(dict.fromkeys(names))


def certificate_subject(der: bytes) -> str:
    """The subject of a DER certificate as an RFC 4514 string (``CN=alice,O=Kit``)."""
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


def certificate_expiry(certificate: Certificate) -> float | None:
    """The leaf's notAfter as Unix seconds; None when the file cannot be read."""
    try:
        leaf = x509.load_pem_x509_certificates(Path(certificate.cert).read_bytes())[0]
    except (ValueError, OSError, IndexError):
        return None
    return leaf.not_valid_after_utc.timestamp()


class SNISelector:
    """Chooses a prepared context by server name: exact name, then ``*.`` wildcard."""

    def __init__(self, default: ssl.SSLContext) -> None:
        self.default = default
        self.exact: dict[str, ssl.SSLContext] = {}
        self.wildcard: dict[str, ssl.SSLContext] = {}

    def add(self, name: str, ctx: ssl.SSLContext) -> None:
        if name.startswith("*."):
            self.wildcard.setdefault(name[2:], ctx)
        else:
            self.exact.setdefault(name, ctx)

    def select(self, server_name: str | None) -> ssl.SSLContext:
        if not server_name:
            return self.default
        name = server_name.lower().rstrip(".")
        ctx = self.exact.get(name)
        if ctx is None:
            _, _, parent = name.partition(".")
            ctx = self.wildcard.get(parent, self.default)
        return ctx

    def __call__(self, sslobj: ssl.SSLObject, server_name: str | None, _: object) -> None:
        ctx = self.select(server_name)
        if ctx is not self.default:
            sslobj.context = ctx


def certificate_present(certificate: Certificate) -> bool:
    """Whether both files of ``certificate`` exist (an optional one may not, yet)."""
    return certificate.cert.is_file() and certificate.key.is_file()


def listener_context(listener: Listener, profile: str) -> ssl.SSLContext:
    """The context an HTTPS listener starts with; others are chosen by SNI.

    Names are registered in the listener's order, so a certificate listed first wins a
    name two of them carry. Raises CertificateLoadError for a required certificate that
    is missing, or any present one that does not load.
    """
    # Every SNI context asks for client certificates too: switching context mid-handshake
    # does not carry the verification settings over.
    contexts = [
        (c, server_context(c, profile, listener))
        for c in listener.certificates
        if not c.optional or certificate_present(c)
    ]
    default = next(ctx for c, ctx in contexts if not c.optional)
    selector = SNISelector(default)
    for certificate, ctx in contexts:
        for name in certificate_names(certificate):
            selector.add(name, ctx)
    if len(contexts) > 1:
        default.sni_callback = selector
    return default

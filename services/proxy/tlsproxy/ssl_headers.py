"""The ``X-SSL-*`` fields Pound adds to requests from HTTPS listeners, for backends
written against it (a listener's ``ssl_headers = true``).

- ``X-SSL-Cipher``: ``TLSv1.3/TLS_AES_256_GCM_SHA384`` (protocol / cipher suite);
- with a client certificate verified against the listener's ``client_ca``:
  ``X-SSL-Subject`` and ``X-SSL-Issuer`` (OpenSSL's one-line form, ``C = DE, O = Kit,
  CN = alice``), ``X-SSL-notBefore`` / ``X-SSL-notAfter`` (``Jan  5 12:00:00 2026
  GMT``), ``X-SSL-serial`` (decimal) and ``X-SSL-certificate`` (the PEM on one line,
  its lines separated by spaces: Pound folds it over several lines, which RFC 9112
  5.2 no longer allows).

A backend can trust them only if clients cannot send them: every field of that name
from a client is removed on every listener (``SSL_FIELD_NAMES``), option on or off.
"""

from __future__ import annotations

import functools
import ssl
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .fields import Fields

SSL_FIELDS = (
    "X-SSL-Cipher",
    "X-SSL-Subject",
    "X-SSL-Issuer",
    "X-SSL-notBefore",
    "X-SSL-notAfter",
    "X-SSL-serial",
    "X-SSL-certificate",
)
SSL_FIELD_NAMES = frozenset(name.lower() for name in SSL_FIELDS)


def add_ssl_fields(fields: Fields, ssl_object: ssl.SSLSocket | ssl.SSLObject | None) -> None:
    """Add the ``X-SSL-*`` fields of this connection to ``fields`` (toward the backend);
    the certificate's only when the client presented one (verified in the handshake)."""
    if ssl_object is None:
        return
    cipher = ssl_object.cipher()
    if cipher is not None:
        fields.add("X-SSL-Cipher", f"{ssl_object.version()}/{cipher[0]}")
    der = ssl_object.getpeercert(binary_form=True)
    if der:
        for name, value in certificate_fields(der):
            fields.add(name, value)


@functools.lru_cache(maxsize=256)
def certificate_fields(der: bytes) -> tuple[tuple[str, str], ...]:
    """The certificate's fields, computed once per certificate (a client sends the same
    one with every request)."""
    certificate = x509.load_der_x509_certificate(der)
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return (
        ("X-SSL-Subject", one_line_name(certificate.subject)),
        ("X-SSL-Issuer", one_line_name(certificate.issuer)),
        ("X-SSL-notBefore", asn1_time(certificate.not_valid_before_utc)),
        ("X-SSL-notAfter", asn1_time(certificate.not_valid_after_utc)),
        ("X-SSL-serial", str(certificate.serial_number)),
        ("X-SSL-certificate", " ".join(pem.split())),
    )


def one_line_name(name: x509.Name) -> str:
    """OpenSSL's ``XN_FLAG_ONELINE``: RDNs in certificate order, ``", "`` between them,
    ``" + "`` inside one, ``TYPE = value`` with RFC 4514 escaping of the value."""
    return ", ".join(
        " + ".join(attribute.rfc4514_string().replace("=", " = ", 1) for attribute in rdn)
        for rdn in name.rdns
    )


def asn1_time(when: datetime) -> str:
    """OpenSSL's ``ASN1_TIME_print``: ``Jan  5 12:00:00 2026 GMT``."""
    return f"{when:%b} {when.day:2d} {when:%H:%M:%S %Y} GMT"

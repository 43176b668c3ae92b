"""Helpers for the acme service tests: settings on temporary folders, certificates made
by a throwaway CA (tlsproxy.certs), and a minimal ACME server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from acmekit.settings import LETS_ENCRYPT, Settings
from cryptography import x509
from tlsproxy.certs import authority, issue, names
from tlsproxy.certs.keys import PrivateKey, cert_to_pem, generate_key

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DOMAINS = ("blog.example.org", "www.example.org")


def make_settings(root: Path, **changes: object) -> Settings:
    folders = {name: root / name for name in ("account", "certs", "challenges")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        DOMAINS,
        LETS_ENCRYPT,
        account_dir=folders["account"],
        certs_dir=folders["certs"],
        challenge_dir=folders["challenges"],
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


def leaf_for(
    domains: tuple[str, ...], now: datetime = NOW, lifetime: timedelta = timedelta(days=90)
) -> tuple[PrivateKey, str, x509.Certificate]:
    """A key and its chain (leaf, then issuer) as an ACME server would send them."""
    ca_key = generate_key()
    ca = authority.create_ca(ca_key, None, now - timedelta(days=1))
    key = generate_key()
    leaf = issue.issue_server(ca, ca_key, key, names.parse_hosts(",".join(domains)), lifetime, now)
    return key, (cert_to_pem(leaf) + cert_to_pem(ca)).decode(), leaf


class _Problem(BaseHTTPRequestHandler):
    """Directory, nonces, and one RFC 8555 problem for every POST."""

    problem: ClassVar[dict[str, str]] = {}
    status = 429
    headers_out: ClassVar[dict[str, str]] = {}

    def log_message(self, *args: object) -> None:
        pass

    def _base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def do_GET(self) -> None:
        body = json.dumps(
            {
                "newNonce": self._base() + "/nonce",
                "newAccount": self._base() + "/account",
                "newOrder": self._base() + "/order",
                "meta": {"termsOfService": "https://example.org/terms"},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Replay-Nonce", "bm9uY2Vub25jZW5vbmNl")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps(self.problem).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Replay-Nonce", "bm9uY2Vub25jZW5vbmNl")
        for name, value in self.headers_out.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def refusing_acme_server(
    problem: dict[str, str], status: int, headers: dict[str, str]
) -> Iterator[str]:
    """A directory URL whose server answers every POST with ``problem`` (and ``headers``)."""
    handler = type("Handler", (_Problem,), {"problem": problem, "status": status,
                                            "headers_out": headers})  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/directory"
    finally:
        server.shutdown()
        server.server_close()

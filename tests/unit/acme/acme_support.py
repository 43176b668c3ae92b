"""Helpers for the acme service tests: settings on temporary folders, certificates made
by a throwaway CA (tlsproxy.certs), and a minimal, scripted ACME server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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


@dataclass
class MiniACME:
    """A minimal RFC 8555 server on loopback, as scripted: the directory (with
    renewalInfo when ``window`` is set), nonces, accounts (or ``account_problem``), the
    ARI window (RFC 9773), and ``order_problem`` for every other POST."""

    order_problem: tuple[int, dict[str, str], dict[str, str]]
    account_problem: tuple[int, dict[str, str], dict[str, str]] | None = None
    window: tuple[datetime, datetime] | None = None
    seen: list[str] = field(default_factory=list)  # "METHOD /path" of every request
    url: str = ""

    def directory(self) -> dict[str, object]:
        entries: dict[str, object] = {
            name: self.url + path
            for name, path in (("newNonce", "/nonce"), ("newAccount", "/account"),
                               ("newOrder", "/order"))
        }  # fmt: skip
        if self.window is not None:
            entries["renewalInfo"] = self.url + "/renewal-info"
        entries["meta"] = {"termsOfService": "https://example.org/terms"}
        return entries


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer  # with an ``acme`` attribute: the MiniACME

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: object, headers: dict[str, str]) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in {"Replay-Nonce": "bm9uY2Vub25jZW5vbmNl", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_HEAD(self) -> None:
        self.server.acme.seen.append(f"HEAD {self.path}")  # type: ignore[attr-defined]
        self._send(200, None, {})

    def do_GET(self) -> None:
        acme: MiniACME = self.server.acme  # type: ignore[attr-defined]
        acme.seen.append(f"GET {self.path}")
        if self.path.startswith("/renewal-info/") and acme.window is not None:
            start, end = (moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in acme.window)
            window = {"suggestedWindow": {"start": start, "end": end}}
            self._send(200, window, {"Content-Type": "application/json", "Retry-After": "21600"})
        else:
            self._send(200, acme.directory(), {"Content-Type": "application/json"})

    def do_POST(self) -> None:
        acme: MiniACME = self.server.acme  # type: ignore[attr-defined]
        acme.seen.append(f"POST {self.path}")
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/account" and acme.account_problem is None:
            headers = {"Content-Type": "application/json", "Location": acme.url + "/acct/1"}
            self._send(201, {"status": "valid"}, headers)
            return
        status, problem, headers = (
            acme.account_problem if self.path == "/account" and acme.account_problem
            else acme.order_problem
        )  # fmt: skip
        self._send(status, problem, {"Content-Type": "application/problem+json", **headers})


@contextmanager
def mini_acme(acme: MiniACME) -> Iterator[MiniACME]:
    """``acme`` served on a free loopback port; its ``url`` set; directory at /directory."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.acme = acme  # type: ignore[attr-defined]
    acme.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield acme
    finally:
        server.shutdown()
        server.server_close()

"""Shared helpers for the proxy tests: certificates, a real backend, the proxy itself.

Everything runs in-process on 127.0.0.1 with ports chosen by the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import io
import json
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tlsproxy.accesslog import AccessLog
from tlsproxy.config import Config, parse_config
from tlsproxy.server import Proxy


@dataclass
class LocalCA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    path: Path

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.path))
        return ctx


def make_ca(folder: Path) -> LocalCA:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tlsproxy test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    path = folder / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return LocalCA(key, cert, path)


def issue(
    ca: LocalCA, folder: Path, stem: str, names: list[str], client: bool = False
) -> tuple[Path, Path]:
    """A leaf certificate for DNS ``names`` (and 127.0.0.1), for a server or, with
    ``client``, for a client (mutual TLS); returns (chain, key) paths."""
    usage = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH if client else None
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in names]
                + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([usage or x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return write_pair(folder, stem, cert, key)


def write_pair(
    folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    """Write ``stem.pem`` and ``stem-key.pem`` (PKCS#8, unencrypted); returns the paths."""
    chain, key_path = folder / f"{stem}.pem", folder / f"{stem}-key.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return chain, key_path


def config_from(document: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """Parse a config dict as the loader would, then move every listener to port 0."""
    config = parse_config(dict(document), "test.toml", environ or {})
    listeners = tuple(dataclasses.replace(lst, port=0) for lst in config.listeners)
    return dataclasses.replace(config, listeners=listeners)


def base_document(cert: Path, key: Path, backend_url: str, **sections: Any) -> dict[str, Any]:
    """An HTTPS listener, a redirect listener and one catch-all route to ``backend_url``."""
    document: dict[str, Any] = {
        "listeners": [
            {
                "kind": "https",
                "address": "127.0.0.1",
                "port": 1,
                "certificates": [{"cert": str(cert), "key": str(key)}],
            },
            {"kind": "redirect", "address": "127.0.0.1", "port": 2, "redirect_port": 443},
        ],
        "routes": [{"backends": [backend_url]}],
    }
    document.update(sections)
    return document


class RunningProxy:
    """An in-process proxy whose access log is captured."""

    def __init__(self, config: Config) -> None:
        self.log = io.StringIO()
        self.proxy = Proxy(config, AccessLog(config.server.access_log, self.log))

    async def __aenter__(self) -> RunningProxy:
        await self.proxy.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.proxy.stop(1)

    @property
    def https_port(self) -> int:
        return self.proxy.ports[0]

    @property
    def http_port(self) -> int:
        return self.proxy.ports[1]


# -- the backend ---------------------------------------------------------------------


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.raw_path,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body_length": len(body),
            "body": body[:200].decode("latin-1"),
        }
    )


def backend_app(
    extra_routes: list[web.RouteDef] | None = None,
    catch_all: Any = echo,
    handler_args: dict[str, Any] | None = None,
) -> web.Application:
    """A backend with ``extra_routes`` first and ``catch_all`` (echo) for everything else."""
    app = web.Application(client_max_size=1024**3, handler_args=handler_args)
    app.router.add_routes(extra_routes or [])
    app.router.add_route("*", "/{tail:.*}", catch_all)
    return app


def closed_port_url() -> str:
    """A URL on which nothing listens: connects are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def start_backend(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def proxied_backend(
    cert: tuple[Path, Path],
    routes: list[web.RouteDef] | None = None,
    catch_all: Any = echo,
    **sections: Any,
) -> AsyncIterator[RunningProxy]:
    """A live backend (``routes``, then ``catch_all``) behind a running proxy whose
    configuration is ``base_document`` plus ``sections`` (e.g. ``limits={...}``)."""
    runner, url = await start_backend(backend_app(routes, catch_all))
    try:
        async with RunningProxy(config_from(base_document(*cert, url, **sections))) as proxy:
            yield proxy
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def proxy_for(document: Callable[[str], dict[str, Any]]) -> AsyncIterator[RunningProxy]:
    """A running proxy whose configuration ``document(url)`` builds around the URL of a
    live echo backend (for tests that shape routes and listeners themselves)."""
    runner, url = await start_backend(backend_app())
    try:
        async with RunningProxy(config_from(document(url))) as proxy:
            yield proxy
    finally:
        await runner.cleanup()


def echoed_headers(payload: dict[str, Any]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in payload["headers"]:
        headers.setdefault(name.lower(), []).append(value)
    return headers


# -- raw clients for requests no library would send -----------------------------------


async def raw_exchange(
    port: int, data: bytes, ctx: ssl.SSLContext | None = None, wait: float = 5.0
) -> bytes:
    """Send ``data`` as is, return everything the proxy sends until it closes."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="localhost" if ctx else None
    )
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(-1), wait)
    finally:
        writer.close()


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def dumps(value: Any) -> str:
    return json.dumps(value)

"""The two systems under test, configured alike: our proxy and Debian's nginx.

Each gets a plain-HTTP and an HTTPS listener on loopback, the same limits (where
nginx has one), a restricted route (``/admin``, only from 10.0.0.0/8, so 403 from
loopback) and a catch-all route, both to its own recording backend. nginx is set up
the way a competent admin fronts an application: an upstream with keep-alive,
``proxy_http_version 1.1``, the usual WebSocket ``map`` for ``Upgrade``/``Connection``,
``Host`` and the ``X-Forwarded-*`` headers set, ``X-Real-IP`` too.

Our proxy is only driven from outside: ``python -m tlsproxy serve --config FILE``
with ``PYTHONPATH=services/proxy``, never imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import processes
from .backend import RecordingBackend
from .processes import LOOPBACK, Process

REPO = Path(__file__).resolve().parents[2]
PROXY_DIR = REPO / "services" / "proxy"
RESTRICTED_PREFIX = "/admin"  # a route only 10.0.0.0/8 may use: 403 from loopback
RESTRICTED_ALLOW = "10.0.0.0/8"
TLS_NAME = "localhost"


@dataclass(frozen=True)
class Limits:
    """The limits both proxies get, in docs/proxy.md's ``[limits]`` words.

    Short timeouts keep cases that wait for one cheap; nginx's equivalents are in
    ``nginx_config``. ``max_header_count`` has no nginx equivalent (ours: default 100).
    """

    max_header_bytes: int = 8190  # nginx: large_client_header_buffers 4 8k
    max_body_bytes: int = 1 << 20  # nginx: client_max_body_size 1m
    header_timeout: int = 2  # nginx: client_header_timeout
    body_timeout: int = 2  # nginx: client_body_timeout
    idle_timeout: int = 30  # nginx: keepalive_timeout
    backend_connect_timeout: int = 2  # nginx: proxy_connect_timeout
    backend_read_timeout: int = 2  # nginx: proxy_read_timeout, proxy_send_timeout


LIMITS = Limits()


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for ``localhost``; clients trust exactly it."""

    cert: Path
    key: Path

    @classmethod
    def make(cls, folder: Path, openssl: str) -> Certificate:
        """Made by the ``openssl`` command at that path (no project code involved)."""
        cert, key = folder / "server.pem", folder / "server-key.pem"
        subprocess.run(
            [
                openssl, "req", "-x509", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", f"/CN={TLS_NAME}",
                "-addext", f"subjectAltName=DNS:{TLS_NAME},IP:{LOOPBACK}",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return cls(cert, key)


@dataclass
class System:
    """One proxy under test with its recording backend."""

    name: str  # "nginx" or "ours"
    http_port: int
    https_port: int
    backend: RecordingBackend
    process: Process | None = None

    def port(self, listener: str) -> int:
        return self.https_port if listener.startswith("https") else self.http_port

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@dataclass(frozen=True)
class Pair:
    """nginx and ours, each with its own recording backend, and the CA clients trust."""

    nginx: System
    ours: System
    ca: Path


def nginx_config(system: System, certificate: Certificate, workdir: Path) -> str:
    """nginx.conf for ``system``: everything in ``workdir``, nothing system-wide."""
    temp = "\n".join(
        f"    {kind}_temp_path {workdir}/{kind}_temp;"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root nginx would hand its workers to "nobody", who cannot enter the temp dir.
    user = "user root;\n" if os.geteuid() == 0 else ""
    limits = LIMITS
    return f"""\
{user}worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {workdir}/nginx-access.log;
{temp}
    server_tokens off;
    client_header_timeout {limits.header_timeout}s;
    client_body_timeout {limits.body_timeout}s;
    keepalive_timeout {limits.idle_timeout}s;
    send_timeout {limits.backend_read_timeout}s;
    large_client_header_buffers 4 8k;
    client_max_body_size {limits.max_body_bytes};
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    map $scheme $hsts {{ https "max-age=31536000"; default ""; }}
    upstream backend {{ server {LOOPBACK}:{system.backend.port}; keepalive 8; }}
    server {{
        listen {LOOPBACK}:{system.http_port} default_server;
        listen {LOOPBACK}:{system.https_port} ssl default_server;
        server_name {TLS_NAME};
        ssl_certificate {certificate.cert};
        ssl_certificate_key {certificate.key};
        add_header Strict-Transport-Security $hsts always;
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Forwarded-Port $server_port;
        proxy_connect_timeout {limits.backend_connect_timeout}s;
        proxy_read_timeout {limits.backend_read_timeout}s;
        proxy_send_timeout {limits.backend_read_timeout}s;
        location / {{
            proxy_pass http://backend;
        }}
        location {RESTRICTED_PREFIX} {{
            allow {RESTRICTED_ALLOW};
            deny all;
            proxy_pass http://backend;
        }}
    }}
}}
"""


def ours_config(system: System, certificate: Certificate) -> str:
    """Our proxy's TOML for ``system`` (every key: docs/proxy.md)."""
    limits = LIMITS
    backend = f"http://{LOOPBACK}:{system.backend.port}"
    return f"""\
[server]
access_log = "combined"

[limits]
max_header_bytes = {limits.max_header_bytes}
max_body_bytes = {limits.max_body_bytes}
header_timeout = {limits.header_timeout}
body_timeout = {limits.body_timeout}
idle_timeout = {limits.idle_timeout}
backend_connect_timeout = {limits.backend_connect_timeout}
backend_read_timeout = {limits.backend_read_timeout}

[[listeners]]
kind = "http"
address = "{LOOPBACK}"
port = {system.http_port}

[[listeners]]
kind = "https"
address = "{LOOPBACK}"
port = {system.https_port}
certificates = [{{ cert = "{certificate.cert}", key = "{certificate.key}" }}]

[[routes]]
name = "restricted"
path_prefix = "{RESTRICTED_PREFIX}"
allow = ["{RESTRICTED_ALLOW}"]
backends = ["{backend}"]

[[routes]]
name = "everything"
backends = ["{backend}"]
"""


def _new_system(name: str) -> System:
    backend = RecordingBackend(f"backend-{name}").start()
    return System(name, processes.free_port(), processes.free_port(), backend)


def start_nginx(workdir: Path, certificate: Certificate, nginx: str) -> System:
    """Debian's nginx (the binary at ``nginx``) in the foreground, with its own config,
    pid file, logs and temporary paths in ``workdir``."""
    system = _new_system("nginx")
    config = workdir / "nginx.conf"
    config.write_text(nginx_config(system, certificate, workdir))
    log = str(workdir / "nginx-error.log")
    command = [nginx, "-e", log, "-p", str(workdir), "-c", str(config)]
    system.process = _start(system, command, workdir / "nginx.log", None)
    return system


def start_ours(workdir: Path, certificate: Certificate) -> System:
    """Our proxy, as ``python -m tlsproxy serve --config FILE``."""
    system = _new_system("ours")
    config = workdir / "ours.toml"
    config.write_text(ours_config(system, certificate))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        "PYTHONPATH": str(PROXY_DIR),
        "OPENSSL_CONF": str(PROXY_DIR / "openssl.cnf"),
    }
    command = [sys.executable, "-m", "tlsproxy", "serve", "--config", str(config)]
    system.process = _start(system, command, workdir / "ours.log", env)
    return system


def _start(system: System, command: list[str], log: Path, env: dict[str, str] | None) -> Process:
    try:
        return processes.start(
            system.name, command, (system.http_port, system.https_port), log, env, REPO
        )
    except processes.StartError:
        system.backend.stop()
        raise

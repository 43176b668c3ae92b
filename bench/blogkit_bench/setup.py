"""What the servers need before they start: certificates, free ports, config files.

Both proxies get the same certificate (ECDSA P-256, made by the project's own
``tlsproxy.certs``), TLS 1.2 and 1.3 with the same cipher list and groups, no
session tickets and a server-side session cache, keep-alive toward the backend,
HSTS, streaming in both directions, no access log and no per-connection request cap.

``CACHED_BLOG_HOST`` reaches the blog through a route that keeps its pages: ours
with ``cache`` as the kit configures it, nginx with ``proxy_cache`` doing the same
work (requests collapsed, revalidated with the stored validators, stale answers
while revalidating or while the blog fails, the session cookie and Authorization
kept out, 32 MiB of keys and answers).
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROJECT_PYTHON = REPO / ".venv" / "bin" / "python"
LOOPBACK = "127.0.0.1"
GROUPS = "X25519:prime256v1:secp384r1"  # what services/proxy/openssl.cnf allows
HSTS = "max-age=31536000"


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def proxy_ciphers() -> str:
    """Our proxy's TLS 1.2 cipher list, asked from its own module (one source of truth)."""
    done = subprocess.run(  # noqa: S603 - our own fixed command line
        [str(PROJECT_PYTHON), "-c", "from tlsproxy.tls import INTERMEDIATE_CIPHERS as c; print(c)"],
        env=_proxy_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def _proxy_env() -> dict[str, str]:
    return {"PYTHONPATH": str(REPO / "services" / "proxy"), "PATH": "/usr/bin:/bin"}


def make_certificates(folder: Path) -> Certificates:
    """An ECDSA P-256 CA and server certificate for localhost, by the project's tool."""
    command = [str(PROJECT_PYTHON), "-m", "tlsproxy.certs", "ensure", "--dir", str(folder)]
    subprocess.run(  # noqa: S603 - our own fixed command line
        [*command, "--hosts", f"localhost,{LOOPBACK}"],
        env=_proxy_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # Where the tool puts the served pair has changed between versions: look it up.
    cert = next(folder.rglob("server.pem"))
    return Certificates(folder / "ca.pem", cert, cert.with_name("server-key.pem"))


@dataclass(frozen=True)
class Ports:
    ours: int
    nginx: int
    backend: int
    blog: int

    @classmethod
    def pick(cls) -> Ports:
        return cls(free_port(), free_port(), free_port(), free_port())


BLOG_HOST = "localhost"  # the Host header that routes to the blog; others reach the backend
CACHED_BLOG_HOST = "cached.localhost"  # the blog, through a route that keeps its pages
SESSION_COOKIE = "__Host-blog_session"  # the blog's (blog.sessions.COOKIE_NAME)
NGINX_CACHE_DIR = "nginx-cache"  # in the work folder


def ours_config(certs: Certificates, ports: Ports, workers: int) -> str:
    return f"""\
[server]
access_log = "off"
workers = {workers}

[[listeners]]
kind = "https"
address = "{LOOPBACK}"
port = {ports.ours}

[[listeners.certificates]]
cert = "{certs.cert}"
key = "{certs.key}"

[[routes]]
hosts = ["{BLOG_HOST}"]
backends = ["http://{LOOPBACK}:{ports.blog}"]

[[routes]]
hosts = ["{CACHED_BLOG_HOST}"]
backends = ["http://{LOOPBACK}:{ports.blog}"]
cache = {{ max_bytes = 33554432, bypass_cookies = ["{SESSION_COOKIE}"] }}

[[routes]]
backends = ["http://{LOOPBACK}:{ports.backend}"]
"""


def nginx_config(certs: Certificates, ports: Ports, workdir: Path) -> str:
    temp = "\n".join(
        f"    {kind}_temp_path {workdir}/{kind}_temp;"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    servers = "\n".join(
        _nginx_server(ports.nginx, name, upstream, cache)
        for name, upstream, cache in (
            ("_", "backend", ""),
            (BLOG_HOST, "blog", ""),
            (CACHED_BLOG_HOST, "blog", NGINX_CACHE),
        )
    )
    return f"""\
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temp}
    proxy_cache_path {workdir}/{NGINX_CACHE_DIR} levels=1:2 keys_zone=blog:1m max_size=32m
                     use_temp_path=off;
    map $http_cookie $blog_session {{ default ""; "~{SESSION_COOKIE}=" 1; }}
    upstream backend {{ server {LOOPBACK}:{ports.backend}; keepalive 64; }}
    upstream blog {{ server {LOOPBACK}:{ports.blog}; keepalive 64; }}
    ssl_certificate {certs.cert};
    ssl_certificate_key {certs.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers {proxy_ciphers()};
    ssl_prefer_server_ciphers off;
    ssl_ecdh_curve {GROUPS};
    ssl_session_tickets off;
    ssl_session_cache shared:bench:10m;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_max_body_size 0;
{servers}
}}
"""


# What ours does with ``cache``, said to nginx (its answers live in files, read through
# the page cache; ours in the process).
NGINX_CACHE = """
            proxy_cache blog;
            proxy_cache_key $scheme$host$request_uri;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 5s;
            proxy_cache_revalidate on;
            proxy_cache_background_update on;
            proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
            proxy_cache_bypass $blog_session $http_authorization $http_range;
            proxy_no_cache $blog_session $http_authorization $http_range;"""


def _nginx_server(port: int, name: str, upstream: str, cache: str) -> str:
    default = " default_server" if name == "_" else ""
    return f"""\
    server {{
        listen {LOOPBACK}:{port} ssl{default};
        server_name {name};
        add_header Strict-Transport-Security "{HSTS}" always;
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_request_buffering off;
            proxy_buffer_size 64k;
            proxy_buffers 8 64k;
            proxy_max_temp_file_size 0;{cache}
        }}
    }}"""

"""The stack under test: the backend and the blog (client core), our proxy and nginx
(proxy core), all started once; a ``System`` is one way in for the load generator."""

from __future__ import annotations

import contextlib
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .blogdata import blog_env, make_blog_data
from .processes import Cores, running
from .setup import (
    BLOG_HOST,
    CACHED_BLOG_HOST,
    LOOPBACK,
    NGINX_CACHE_DIR,
    REPO,
    Certificates,
    Ports,
    make_certificates,
    nginx_config,
    ours_config,
)

BENCH_DIR = Path(__file__).resolve().parents[1]
PROXY_DIR = REPO / "services" / "proxy"


@dataclass(frozen=True)
class System:
    name: str  # "ours", "nginx" or "ceiling" (the backend or blog without a proxy)
    base: str  # URL of the fixed-response backend through this system
    blog_base: str
    blog_headers: tuple[str, ...]  # what makes this system route to the blog
    cached_headers: tuple[str, ...]  # ... to the blog through a route that keeps pages
    pid: int | None  # root of the proxy's process tree; None for the ceiling


@dataclass(frozen=True)
class Stack:
    systems: tuple[System, ...]
    certificates: Certificates
    nginx_version: str
    blog_pid: int


def nginx_version() -> str:
    done = subprocess.run(
        ["nginx", "-v"],  # noqa: S607 - Debian's, found on PATH
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stderr.strip().rpartition("/")[2]


@contextlib.contextmanager
def started(workdir: Path, cores: Cores, workers: int) -> Iterator[Stack]:
    certs = make_certificates(workdir / "certs")
    ports = Ports.pick()
    make_blog_data(workdir / "blog", ports.blog)
    (workdir / "ours.toml").write_text(ours_config(certs, ports, workers))
    (workdir / "nginx.conf").write_text(nginx_config(certs, ports, workdir))
    # nginx's workers (not root) write its cache: a folder they can reach and write.
    workdir.chmod(0o711)
    (workdir / NGINX_CACHE_DIR).mkdir(mode=0o777)
    (workdir / NGINX_CACHE_DIR).chmod(0o777)  # whatever the umask
    with running(workdir, cores) as servers:
        backend_env = {"PYTHONPATH": str(BENCH_DIR)}
        servers.python(
            "backend",
            ["-m", "blogkit_bench.backend", str(ports.backend)],
            ports.backend,
            cores.client,
            backend_env,
        )
        blog = servers.python(
            "blog",
            ["-m", "blog", "serve"],
            ports.blog,
            cores.client,
            blog_env(workdir / "blog", ports.blog),
        )
        proxy_env = {"PYTHONPATH": str(PROXY_DIR), "OPENSSL_CONF": str(PROXY_DIR / "openssl.cnf")}
        ours = servers.python(
            "ours",
            ["-m", "tlsproxy", "serve", "--config", str(workdir / "ours.toml")],
            ports.ours,
            cores.proxy,
            proxy_env,
        )
        nginx = servers.start(
            "nginx",
            ["nginx", "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
            ports.nginx,
            cores.proxy,
        )
        blog_route = (f"Host: {BLOG_HOST}",)
        cached_route = (f"Host: {CACHED_BLOG_HOST}",)
        systems = (
            System(
                "ours",
                f"https://{LOOPBACK}:{ports.ours}",
                f"https://{LOOPBACK}:{ports.ours}",
                blog_route,
                cached_route,
                ours.pid,
            ),
            System(
                "nginx",
                f"https://{LOOPBACK}:{ports.nginx}",
                f"https://{LOOPBACK}:{ports.nginx}",
                blog_route,
                cached_route,
                nginx.pid,
            ),
            System(
                "ceiling",
                f"http://{LOOPBACK}:{ports.backend}",
                f"http://{LOOPBACK}:{ports.blog}",
                (),
                (),
                None,
            ),
        )
        stack = Stack(systems, certs, nginx_version(), blog.pid)
        for system in systems:
            check_answers(stack, system)
        yield stack


def fetch(
    stack: Stack, url: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request with the kit's CA trusted; any status is returned, not raised.

    Header names come back lower-cased: they are case-insensitive, and proxies differ
    (aiohttp's parser writes ``Etag`` for the blog's ``ETag``).
    """
    context = ssl.create_default_context(cafile=str(stack.certificates.ca))
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - our own URLs
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:  # noqa: S310
            return answer.status, _lower(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, _lower(exc.headers.items()), exc.read()


def _lower(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


def header_dict(headers: tuple[str, ...]) -> dict[str, str]:
    return dict(h.split(": ", 1) for h in headers)


def check_answers(stack: Stack, system: System) -> None:
    """Each way in answers the backend and the blog before anything is measured."""
    status, _, body = fetch(stack, system.base + "/small")
    if status != 200 or len(body) != 1024:
        raise RuntimeError(f"{system.name}: /small answered {status} with {len(body)} bytes")
    for route in (system.blog_headers, system.cached_headers):
        status, _, body = fetch(stack, system.blog_base + "/", header_dict(route))
        if status != 200 or b"Benchmark post" not in body:
            raise RuntimeError(f"{system.name}: the blog's front page answered {status}")

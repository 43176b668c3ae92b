"""The proxy's configuration: one typed, validated object built from one TOML file.

Every value is checked here, at start (and by ``python -m tlsproxy check``), so the
rest of the proxy never sees a bad setting. Errors name the file, the key and what is
allowed; unknown keys are errors too, because a typo silently ignored is a setting
silently lost.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import ssl
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .config_lines import key_line
from .htpasswd import HtpasswdError, read_htpasswd
from .interpolate import InterpolationError, interpolate
from .replies import LocationTemplate, TemplateError

DEFAULT_CONFIG_PATH = "/etc/tlsproxy/proxy.toml"
CONFIG_ENV = "TLSPROXY_CONFIG"
# The file's syntax: ours, Pound's (``pound``), or told apart by the first directive.
CONFIG_SYNTAXES = ("auto", "toml", "pound")

LISTENER_KINDS = ("https", "redirect", "http")
TLS_PROFILES = ("intermediate", "modern")
ACCESS_LOG_FORMATS = ("combined", "json", "off")
BALANCE_POLICIES = ("random", "round_robin")
# required: no valid client certificate, no handshake; page: 403 page for every request
# without one; optional: only routes with client_cert_required = true answer 403.
CLIENT_CERT_MODES = ("required", "page", "optional")
MAX_WORKERS = 64
DEFAULT_RETRY_INTERVAL = 10.0
# A request no route matches: 404, or 503 as Pound answers ("no service").
NO_ROUTE_STATUSES = (404, 503)
# Route ``match`` conditions (docs/proxy.md, "Match conditions").
MATCH_SUBJECTS = ("url", "path", "query", "query_param", "header", "host", "method", "client")
MATCH_GROUPS = ("all", "any")
MATCH_MODES = ("regex", "exact", "prefix", "suffix", "contains")
MAX_MATCH_DEPTH = 8  # nested all/any groups
SESSION_TYPES = ("ip", "cookie", "header", "url", "parm", "basic")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_ERROR_PAGE_BYTES = 1024 * 1024
_HOST_PATTERN = re.compile(
    r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)
_METHOD_PATTERN = re.compile(r"^[A-Z][A-Z0-9_-]*$")
_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
_TOML_START = re.compile(r"""^(\[|[A-Za-z0-9_.-]+\s*=|"[^"]*"\s*=|'[^']*'\s*=)""")


class ConfigError(ValueError):
    """An invalid configuration; the message names the file, the key and the fix."""


@dataclass(frozen=True, slots=True)
class Certificate:
    """One certificate chain and its key; ``names`` add to the names in the certificate.

    ``optional``: may be absent (served once its files appear, e.g. a pair an ACME client
    has yet to obtain), and chosen only by SNI for its names, never as the default.
    """

    cert: Path
    key: Path
    names: tuple[str, ...] = ()
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Listener:
    kind: str  # one of LISTENER_KINDS
    address: str
    port: int
    certificates: tuple[Certificate, ...] = ()  # https only; the first is the default
    redirect_port: int = 443  # redirect only: the public HTTPS port in Location
    client_ca: Path | None = None  # https only: ask clients for a certificate from this CA
    client_cert: str = "required"  # one of CLIENT_CERT_MODES, with client_ca
    # https/http: the port clients reach this listener on (X-Forwarded-Port); None:
    # the port in Host, else the scheme's default.
    public_port: int | None = None
    # redirect only: key authorizations answered for HTTP-01 (RFC 8555 8.3), see acme_challenge
    acme_challenge_dir: Path | None = None
    name: str = "listener0"  # what routes' ``listeners`` name it by; default listener<index>
    methods: frozenset[str] = frozenset()  # empty: any method; others get 501 (Pound's xHTTP)
    ssl_headers: bool = False  # https only: X-SSL-Cipher and the client certificate (Pound)

    @property
    def label(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.kind} {host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Backend:
    """One upstream HTTP server of a route, with its share and its rank."""

    url: str
    scheme: str
    host: str
    port: int
    weight: int = 1  # share of the traffic among the usable backends of its priority
    priority: int = 1  # 1 serves first; 2 only when every priority-1 backend is down
    tls_ca: Path | None = None  # https: trust this CA file instead of the system's
    tls_verify: bool = True  # https: verify the certificate and its name (off: explicit, loud)

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """Active health check: GET ``path`` on every backend of the route."""

    path: str = "/"
    interval: float = 5.0
    timeout: float = 2.0
    fails: int = 3  # consecutive failures that mark a backend down
    passes: int = 2  # consecutive successes that bring it back


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """HTTP Basic authentication of a route against an htpasswd file (read at load)."""

    htpasswd: Path
    users: tuple[tuple[str, str], ...]  # (user, bcrypt or Argon2 hash)
    realm: str = "tlsproxy"
    max_failures: int = 5  # failed attempts per client address within ``lockout``...
    lockout: float = 300.0  # ...before it gets 429 until the oldest is this old


@dataclass(frozen=True, slots=True)
class Condition:
    """One test of a route's ``match`` list: a leaf tests one part of the request
    (``subject`` in MATCH_SUBJECTS) with ``pattern`` (every mode compiled to a regex,
    used with ``search``), or the client address against ``networks``; a group
    (``all``/``any``) combines ``children``. ``negate`` inverts the result."""

    subject: str
    pattern: re.Pattern[str] | None = None
    name: str = ""  # query_param: the parameter tested
    networks: tuple[Network, ...] = ()  # client
    children: tuple[Condition, ...] = ()  # all / any
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Session:
    """Pound's session tracking: requests with the same key go to the same backend
    while it is usable, until the key is unused for ``ttl`` seconds (``sessions``)."""

    type: str  # one of SESSION_TYPES
    id: str = ""  # cookie, header or query parameter name (cookie, header, url)
    ttl: float = 300.0


@dataclass(frozen=True, slots=True)
class Redirect:
    """A route answered by the proxy with a redirect to ``location`` (a template)."""

    location: LocationTemplate
    status: int = 302


@dataclass(frozen=True, slots=True)
class ErrorPage:
    """A route answered by the proxy with ``status`` and a page (``body`` from a file,
    else the proxy's own short page)."""

    status: int
    body: bytes | None = None
    file: Path | None = None


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """A route's shared HTTP cache (RFC 9111, ``cache``): sizes in bytes, time in seconds.

    ``bypass_cookies``: request cookies that keep a request out of the cache (a
    session, say); ``"*"``: any cookie at all. ``default_ttl``: the lifetime of a
    response with a validator and no Cache-Control or Expires; 0: not stored.
    """

    max_bytes: int = 32 * 1024 * 1024
    max_entry_bytes: int = 1024 * 1024
    default_ttl: float = 0.0
    bypass_cookies: tuple[str, ...] = ("*",)


@dataclass(frozen=True, slots=True)
class Route:
    backends: tuple[Backend, ...]
    hosts: tuple[str, ...] = ()  # empty: any host
    path_prefix: str = "/"
    path_regex: re.Pattern[str] | None = None
    methods: frozenset[str] = frozenset()  # empty: any method
    preserve_host: bool = True
    balance: str = "random"  # one of BALANCE_POLICIES
    retry_interval: float = (
        DEFAULT_RETRY_INTERVAL  # a backend marked down by a failure is retried after
    )
    health_check: HealthCheck | None = None
    name: str = "route0"  # the route label of the metrics; default route<index>
    allow: tuple[Network, ...] = ()  # empty: any client address
    deny: tuple[Network, ...] = ()  # wins over allow
    basic_auth: BasicAuth | None = None
    client_cert_required: bool = False  # 403 without a verified client certificate
    affinity_cookie: str | None = None  # session affinity: the cookie naming the backend
    match: tuple[Condition, ...] = ()  # all must hold (besides hosts, path, methods)
    listeners: tuple[str, ...] = ()  # names of the listeners it serves; empty: all
    session: Session | None = None  # Pound-style session tracking (not with affinity_cookie)
    redirect: Redirect | None = None  # answered by the proxy instead of a backend...
    error: ErrorPage | None = None  # ...or this, in which case ``backends`` is empty
    cache: CacheSettings | None = None  # None: every request goes to a backend


@dataclass(frozen=True, slots=True)
class Limits:
    """Sizes in bytes, times in seconds, rates in bytes per second (docs/proxy.md)."""

    max_header_bytes: int = 8190  # one field line (else 431)
    max_target_bytes: int = 8190  # the request target (else 414); default max_header_bytes
    max_header_block_bytes: int = 65536  # the whole request head (431)
    max_header_count: int = 100
    max_body_bytes: int = 1024**3  # 0: no limit
    header_timeout: float = 30.0
    body_timeout: float = 60.0  # no byte of a request body for this long: 408
    body_min_rate: int = 512  # average body bytes/s a client must keep after body_timeout
    send_timeout: float = 60.0  # a client that takes no byte of our answer for this long
    idle_timeout: float = 75.0
    tunnel_idle_timeout: float = 300.0  # a WebSocket with no byte either way
    backend_connect_timeout: float = 5.0
    backend_read_timeout: float = 60.0
    max_connections: int = 1024
    max_connections_per_client: int = 256  # per IPv4 address or IPv6 /64


@dataclass(frozen=True, slots=True)
class TLSSettings:
    profile: str = "intermediate"
    hsts_max_age: int = 31536000  # 0: no HSTS header
    hsts_include_subdomains: bool = False
    certificate_check_interval: float = 2.0  # seconds between looks at the files


@dataclass(frozen=True, slots=True)
class ServerSettings:
    health_path: str = "/healthz"
    access_log: str = "combined"
    # Path prefixes whose next segment is a secret (a one-time link's token): logged as
    # "[redacted]" (the kit: the blog's /setup/ and /password-link/).
    access_log_redact: tuple[str, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    shutdown_grace: float = 8.0  # inside Docker's default 10 s before SIGKILL
    workers: int = 1  # processes sharing the listening ports (SO_REUSEPORT); one per core
    no_route_status: int = 404  # a request no route matches (Pound: 503)


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """The Prometheus endpoint: its own plain-HTTP listener, off unless enabled."""

    enabled: bool = False
    address: str = "0.0.0.0"  # noqa: S104 - reached by Prometheus on the internal network
    port: int = 9464
    path: str = "/metrics"


@dataclass(frozen=True, slots=True)
class ErrorPageWording:
    """What the HTML error page says for one status."""

    title: str
    explanation: str


@dataclass(frozen=True, slots=True)
class ErrorPages:
    """The HTML page of the proxy's own error answers (``errors.ErrorPage`` renders it):
    a ``string.Template`` with ``$status``, ``$title``, ``$explanation``, ``$site_title``,
    read and checked at load; None in ``Config`` keeps the plain-text answers only."""

    source: Path
    template: str
    site_title: str = "Home"
    wording: tuple[tuple[int, ErrorPageWording], ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    source: str
    listeners: tuple[Listener, ...]
    routes: tuple[Route, ...]
    server: ServerSettings = field(default_factory=ServerSettings)
    tls: TLSSettings = field(default_factory=TLSSettings)
    limits: Limits = field(default_factory=Limits)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    errors: ErrorPages | None = None
    syntax: str = "toml"  # the file's syntax, kept for reloads: "toml" or "pound"
    warnings: tuple[str, ...] = ()  # printed by check and at start (caveats, unsafe choices)


def default_config_path(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH


def load_config(
    path: str | os.PathLike[str],
    environ: Mapping[str, str] | None = None,
    syntax: str = "auto",
) -> Config:
    """Read, interpolate and validate ``path``; raise ConfigError on any problem.

    ``syntax``: ``"toml"`` (ours), ``"pound"`` (a Pound file, translated by ``pound``) or
    ``"auto"``: Pound's when the first directive is not a TOML table or key.
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the configuration file: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text: {exc}") from exc
    if syntax == "pound" or (syntax == "auto" and looks_like_pound(text)):
        from .pound import load_pound  # imports this module: loaded when used

        return load_pound(source, text)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    environ = os.environ if environ is None else environ
    return parse_config(document, source, environ, text=text)


def looks_like_pound(text: str) -> bool:
    """Whether the first directive of ``text`` is Pound's: not a TOML ``[table]`` or
    ``key =`` line (a Pound line is a keyword and its arguments, never ``=``)."""
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            return _TOML_START.match(line) is None
    return False


# ``where(prefix, key)``: "file, line N: prefix.key", how an error names its place.
Where = Callable[[str, str], str]


def parse_config(
    document: dict[str, Any],
    source: str,
    environ: Mapping[str, str],
    text: str = "",
    where: Where | None = None,
) -> Config:
    """Validate a parsed document; ``text`` (the file) lets errors give line numbers,
    ``where`` replaces that lookup (a document translated from another syntax)."""
    if where is None:

        def where(prefix: str, key: str) -> str:
            return _where(source, text, prefix, key)

    top = _Table(document, "", where, environ)
    server = _server(top.table("server"))
    tls = _tls(top.table("tls"))
    limits = _limits(top.table("limits"))
    listeners = tuple(_listener(t, i) for i, t in enumerate(top.tables("listeners", required=True)))
    names = _listener_names(listeners, where)
    routes = tuple(_route(t, i, names) for i, t in enumerate(top.tables("routes", required=True)))
    metrics = _metrics(top.table("metrics"))
    errors = _errors(top.table("errors"), source) if top.has("errors") else None
    top.seen.add("errors")
    top.finish()
    if metrics.enabled and server.workers > 1:
        # Each worker counts only its own traffic; a scrape would see one at random.
        raise ConfigError(
            f"{where('server.', 'workers')}: must be 1 while [metrics] is "
            "enabled (each worker would count only its own requests); "
            "set workers = 1 or disable metrics"
        )
    _check_unique_addresses(listeners, where)
    warnings = tuple(
        f"{listener.label} serves plain HTTP: traffic on it is neither encrypted nor "
        "authenticated (passwords and cookies cross in clear; the kit's blog refuses "
        "logins on it); serve HTTPS instead or keep it on a redirect"
        for listener in listeners
        if listener.kind == "http"
    ) + tuple(
        f"{route.name}: backend {b.url} is used without verifying its certificate "
        "(tls_verify = false): anyone on the way can read and change that traffic"
        for route in routes
        for b in route.backends
        if not b.tls_verify
    )
    return Config(
        source, listeners, routes, server, tls, limits, metrics, errors, warnings=warnings
    )


class _Table:
    """Typed access to one TOML table that remembers which keys were read."""

    def __init__(self, data: dict[str, Any], prefix: str, where: Where, env: Mapping[str, str]):
        self.data, self.prefix, self.where, self.env = data, prefix, where, env
        self.seen: set[str] = set()

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where(self.prefix, key)}: {message}")

    def child(self, data: dict[str, Any], prefix: str) -> _Table:
        return _Table(data, prefix, self.where, self.env)

    def _get(self, key: str) -> Any:
        self.seen.add(key)
        value = self.data.get(key)
        if isinstance(value, str):
            try:
                return interpolate(value, self.env)
            except InterpolationError as exc:
                raise self.error(key, str(exc)) from exc
        return value

    def has(self, key: str) -> bool:
        return key in self.data

    def string(self, key: str, default: str | None = None) -> str:
        value = self._get(key)
        if value is None:
            if default is None:
                raise self.error(key, "is required (a string)")
            return default
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {value!r}")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.string(key, default)
        if value not in allowed:
            raise self.error(key, f"must be one of {', '.join(allowed)}; got {value!r}")
        return value

    def integer(self, key: str, default: int | None, low: int, high: int | None = None) -> int:
        value = self._get(key)
        limit = f"{low}-{high}" if high is not None else f">= {low}"
        if value is None:
            if default is None:
                raise self.error(key, f"is required (an integer {limit})")
            return default
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())  # interpolated values arrive as strings
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer {limit}, got {value!r}")
        if value < low or (high is not None and value > high):
            raise self.error(key, f"must be an integer {limit}, got {value}")
        return value

    def number(self, key: str, default: float, low: float = 0.0) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= low:
            raise self.error(key, f"must be a number of seconds > {low:g}, got {value!r}")
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def strings(self, key: str) -> list[str]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"must be a list of strings, got {value!r}")
        try:
            return [interpolate(v, self.env) for v in value]
        except InterpolationError as exc:
            raise self.error(key, str(exc)) from exc

    def table(self, key: str) -> _Table:
        self.seen.add(key)
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, "must be a table ([" + key + "])")
        return self.child(value, f"{self.prefix}{key}.")

    def tables(self, key: str, required: bool = False) -> list[_Table]:
        self.seen.add(key)
        value = self.data.get(key)
        if value is None or value == []:
            if required:
                raise self.error(key, f"at least one [[{key}]] table is required")
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"must be an array of tables ([[{key}]])")
        return [self.child(v, f"{self.prefix}{key}[{i}].") for i, v in enumerate(value)]

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            allowed = ", ".join(sorted(self.seen))
            raise self.error(unknown[0], f"unknown key; allowed here: {allowed}")


def _redact_prefixes(t: _Table) -> tuple[str, ...]:
    prefixes = t.strings("access_log_redact")
    for prefix in prefixes:
        if not prefix.startswith("/") or not prefix.endswith("/"):
            raise t.error(
                "access_log_redact", f"each entry must start and end with '/', got {prefix!r}"
            )
    return tuple(prefixes)


def _server(t: _Table) -> ServerSettings:
    health = t.string("health_path", "/healthz")
    if not health.startswith("/"):
        raise t.error("health_path", f"must start with '/', got {health!r}")
    settings = ServerSettings(
        health_path=health,
        access_log=t.choice("access_log", ACCESS_LOG_FORMATS, "combined"),
        access_log_redact=_redact_prefixes(t),
        trusted_proxies=_networks(t, "trusted_proxies"),
        shutdown_grace=t.number("shutdown_grace", ServerSettings().shutdown_grace),
        workers=t.integer("workers", ServerSettings().workers, 1, MAX_WORKERS),
        no_route_status=_status(t, "no_route_status", NO_ROUTE_STATUSES, 404),
    )
    t.finish()
    return settings


def _status(t: _Table, key: str, allowed: tuple[int, ...], default: int) -> int:
    status = t.integer(key, default, 100, 599)
    if status not in allowed:
        raise t.error(key, f"must be one of {', '.join(map(str, allowed))}; got {status}")
    return status


def _networks(t: _Table, key: str) -> tuple[Network, ...]:
    networks = []
    for entry in t.strings(key):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise t.error(key, f"{entry!r} is not an IP address or CIDR range") from exc
    return tuple(networks)


def _basic_auth(t: _Table) -> BasicAuth:
    path = Path(t.string("htpasswd"))
    try:
        users = read_htpasswd(path)
    except HtpasswdError as exc:
        raise t.error("htpasswd", str(exc)) from exc
    realm = t.string("realm", "tlsproxy")
    if '"' in realm or "\\" in realm:
        raise t.error("realm", "must not contain quotes or backslashes")
    auth = BasicAuth(
        htpasswd=path,
        users=tuple(users.items()),
        realm=realm,
        max_failures=t.integer("max_failures", 5, 1, 1000),
        lockout=t.number("lockout", 300.0),
    )
    t.finish()
    return auth


def _tls(t: _Table) -> TLSSettings:
    settings = TLSSettings(
        profile=t.choice("profile", TLS_PROFILES, "intermediate"),
        hsts_max_age=t.integer("hsts_max_age", 31536000, 0),
        hsts_include_subdomains=t.boolean("hsts_include_subdomains", False),
        certificate_check_interval=t.number(
            "certificate_check_interval", TLSSettings().certificate_check_interval
        ),
    )
    t.finish()
    return settings


def _limits(t: _Table) -> Limits:
    d = Limits()
    max_header_bytes = t.integer("max_header_bytes", d.max_header_bytes, 256, 1024 * 1024)
    limits = Limits(
        max_header_bytes=max_header_bytes,
        max_target_bytes=t.integer("max_target_bytes", max_header_bytes, 16, 1024 * 1024),
        max_header_block_bytes=t.integer(
            "max_header_block_bytes", d.max_header_block_bytes, 1024, 16 * 1024 * 1024
        ),
        max_header_count=t.integer("max_header_count", d.max_header_count, 8, 10000),
        max_body_bytes=t.integer("max_body_bytes", d.max_body_bytes, 0),
        header_timeout=t.number("header_timeout", d.header_timeout),
        body_timeout=t.number("body_timeout", d.body_timeout),
        body_min_rate=t.integer("body_min_rate", d.body_min_rate, 0),
        send_timeout=t.number("send_timeout", d.send_timeout),
        idle_timeout=t.number("idle_timeout", d.idle_timeout),
        tunnel_idle_timeout=t.number("tunnel_idle_timeout", d.tunnel_idle_timeout),
        backend_connect_timeout=t.number("backend_connect_timeout", d.backend_connect_timeout),
        backend_read_timeout=t.number("backend_read_timeout", d.backend_read_timeout),
        max_connections=t.integer("max_connections", d.max_connections, 1),
        max_connections_per_client=t.integer(
            "max_connections_per_client", d.max_connections_per_client, 1
        ),
    )
    if limits.max_header_block_bytes < limits.max_header_bytes:
        raise t.error(
            "max_header_block_bytes",
            f"must be at least max_header_bytes ({limits.max_header_bytes}): the whole head "
            "holds at least one line",
        )
    t.finish()
    return limits


def _metrics(t: _Table) -> MetricsSettings:
    d = MetricsSettings()
    address = _address(t, d.address)
    path = t.string("path", d.path)
    if not path.startswith("/"):
        raise t.error("path", f"must start with '/', got {path!r}")
    settings = MetricsSettings(
        enabled=t.boolean("enabled", d.enabled),
        address=address,
        port=t.integer("port", d.port, 1, 65535),
        path=path,
    )
    t.finish()
    return settings


MAX_ERROR_PAGE_BYTES = 64 * 1024
_PAGE_FIELDS = {"status": "500", "title": "t", "explanation": "e", "site_title": "s"}


def _errors(t: _Table, config_source: str) -> ErrorPages:
    """``[errors]``: ``page`` (an HTML template file; a relative path is taken from the
    configuration file's folder), ``site_title``, and per status ``[errors.wording.502]``
    with ``title`` and ``explanation``."""
    source = Path(t.string("page"))
    if not source.is_absolute() and config_source:
        source = Path(config_source).parent / source  # next to the configuration file
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise t.error("page", f"cannot read {source}: {exc.strerror}") from exc
    if len(raw) > MAX_ERROR_PAGE_BYTES:
        raise t.error("page", f"{source} is larger than {MAX_ERROR_PAGE_BYTES} bytes")
    try:
        template = raw.decode("utf-8")
        string.Template(template).substitute(_PAGE_FIELDS)
    except (UnicodeDecodeError, KeyError, ValueError) as exc:
        raise t.error(
            "page",
            f"{source} must be UTF-8 with only $status, $title, $explanation and "
            f"$site_title as placeholders ($$ for a dollar sign): {exc!r}",
        ) from exc
    if "<script" in template.lower():
        raise t.error("page", f"{source} must not hold scripts (the page's CSP forbids them)")
    wording = []
    words = t.table("wording")
    for key in sorted(words.data):
        if not key.isdigit() or not 400 <= int(key) <= 599:
            raise words.error(key, "must be an error status, 400-599")
        item = words.table(key)
        wording.append(
            (int(key), ErrorPageWording(item.string("title"), item.string("explanation")))
        )
        item.finish()
        words.seen.add(key)
    words.finish()
    pages = ErrorPages(source, template, t.string("site_title", "Home"), tuple(wording))
    t.finish()
    return pages


def _address(t: _Table, default: str) -> str:
    address = t.string("address", default)
    try:
        ipaddress.ip_address(address)
    except ValueError as exc:
        raise t.error("address", f"must be an IPv4 or IPv6 address, got {address!r}") from exc
    return address


def _listener(t: _Table, index: int) -> Listener:
    kind = t.choice("kind", LISTENER_KINDS, "https")
    name = t.string("name", f"listener{index}")
    if not _TOKEN_PATTERN.match(name):
        raise t.error("name", f"{name!r} is not a name (letters, digits, -_.)")
    methods = _methods(t)
    ssl_headers = t.boolean("ssl_headers", False)
    if ssl_headers and kind != "https":
        raise t.error("ssl_headers", 'only allowed on listeners with kind = "https"')
    address = _address(t, "0.0.0.0")  # noqa: S104 - a container listens on all
    port = t.integer("port", None, 1, 65535)
    certificates: tuple[Certificate, ...] = ()
    redirect_port = 443
    acme_challenge_dir = None
    if kind == "https":
        certificates = tuple(_certificate(c) for c in t.tables("certificates", required=True))
        if all(c.optional for c in certificates):
            raise t.error(
                "certificates", "needs one certificate without optional = true (the default)"
            )
    elif kind == "redirect":
        redirect_port = t.integer("redirect_port", 443, 1, 65535)
        if t.has("acme_challenge_dir"):
            acme_challenge_dir = _directory(t, "acme_challenge_dir")
    client_ca, client_cert = None, "required"
    if kind == "https" and t.has("client_ca"):
        client_ca = Path(t.string("client_ca"))
        client_cert = t.choice("client_cert", CLIENT_CERT_MODES, "required")
    public_port = None
    if kind != "redirect" and t.has("public_port"):
        public_port = t.integer("public_port", None, 1, 65535)
    t.seen.update(
        (
            "certificates",
            "redirect_port",
            "client_ca",
            "client_cert",
            "acme_challenge_dir",
            "public_port",
        )
    )
    for key in ("certificates", "client_ca"):
        if kind != "https" and t.has(key):
            raise t.error(key, 'only allowed on listeners with kind = "https"')
    if client_ca is None and t.has("client_cert"):
        raise t.error("client_cert", "only allowed together with client_ca")
    for key in ("redirect_port", "acme_challenge_dir"):
        if kind != "redirect" and t.has(key):
            raise t.error(key, 'only allowed on listeners with kind = "redirect"')
    if kind == "redirect" and t.has("public_port"):
        raise t.error("public_port", "not on a redirect listener (its redirect_port says it)")
    t.finish()
    return Listener(
        kind,
        address,
        port,
        certificates,
        redirect_port,
        client_ca,
        client_cert,
        public_port,
        acme_challenge_dir,
        name,
        methods,
        ssl_headers,
    )


def _methods(t: _Table) -> frozenset[str]:
    methods = frozenset(m.upper() for m in t.strings("methods"))
    for method in methods:
        if not _METHOD_PATTERN.match(method):
            raise t.error("methods", f"{method!r} is not an HTTP method")
    return methods


def _listener_names(listeners: tuple[Listener, ...], where: Where) -> frozenset[str]:
    seen: dict[str, int] = {}
    for index, listener in enumerate(listeners):
        if listener.name in seen:
            raise ConfigError(
                f"{where(f'listeners[{index}].', 'name')}: {listener.name!r} is already the "
                f"name of listeners[{seen[listener.name]}]; give each listener its own"
            )
        seen[listener.name] = index
    return frozenset(seen)


def _directory(t: _Table, key: str) -> Path:
    # Not required to exist: a volume that only the acme service fills, empty while ACME is off.
    path = Path(t.string(key))
    if not path.is_absolute():
        raise t.error(key, f"must be an absolute path, got {str(path)!r}")
    return path


def _certificate(t: _Table) -> Certificate:
    names = tuple(n.lower() for n in t.strings("names"))
    for name in names:
        if not _HOST_PATTERN.match(name):
            raise t.error("names", f"{name!r} is not a host name (or *.domain)")
    cert = Certificate(
        Path(t.string("cert")), Path(t.string("key")), names, t.boolean("optional", False)
    )
    t.finish()
    return cert


def _route(t: _Table, index: int, listener_names: frozenset[str]) -> Route:
    hosts = tuple(h.lower() for h in t.strings("hosts"))
    for host in hosts:
        if not _HOST_PATTERN.match(host):
            raise t.error("hosts", f"{host!r} is not a host name or *.domain wildcard")
    prefix = t.string("path_prefix", "/")
    if not prefix.startswith("/"):
        raise t.error("path_prefix", f"must start with '/', got {prefix!r}")
    regex = None
    if t.has("path_regex"):
        try:
            regex = re.compile(t.string("path_regex"))
        except re.error as exc:
            raise t.error("path_regex", f"not a valid regular expression: {exc}") from exc
    methods = _methods(t)
    redirect = _redirect(t.table("redirect")) if t.has("redirect") else None
    error = _error_page(t.table("error")) if t.has("error") else None
    if redirect is not None and error is not None:
        raise t.error("error", "a route answers with a redirect or an error page, not both")
    replied = redirect is not None or error is not None
    backends = _backends(t, required=not replied)
    if replied and backends:
        key = "redirect" if redirect is not None else "error"
        raise t.error(key, "a route answered by the proxy has no backends; remove one or the other")
    if replied and t.has("basic_auth"):
        raise t.error("basic_auth", "not on a route answered by the proxy (redirect or error)")
    health_check = _health_check(t.table("health_check")) if t.has("health_check") else None
    route = Route(
        backends,
        hosts,
        prefix,
        regex,
        methods,
        t.boolean("preserve_host", True),
        balance=t.choice("balance", BALANCE_POLICIES, "random"),
        retry_interval=t.number("retry_interval", DEFAULT_RETRY_INTERVAL),
        health_check=health_check,
        name=t.string("name", f"route{index}"),
        allow=_networks(t, "allow"),
        deny=_networks(t, "deny"),
        basic_auth=_basic_auth(t.table("basic_auth")) if t.has("basic_auth") else None,
        client_cert_required=t.boolean("client_cert_required", False),
        affinity_cookie=_cookie_name(t) if t.has("affinity_cookie") else None,
        match=tuple(_condition(c, 0) for c in t.tables("match")),
        listeners=_route_listeners(t, listener_names),
        session=_session(t.table("session")) if t.has("session") else None,
        redirect=redirect,
        error=error,
        cache=_cache(t.table("cache")) if t.has("cache") else None,
    )
    if route.session is not None and route.affinity_cookie is not None:
        raise t.error("session", "a route keeps sessions or sets affinity_cookie, not both")
    if route.cache is not None and route.affinity_cookie is not None:
        raise t.error(
            "cache",
            "cannot be combined with affinity_cookie: the affinity cookie set on an answer "
            "would keep it out of the shared cache; remove one of them",
        )
    t.finish()
    return route


def _route_listeners(t: _Table, names: frozenset[str]) -> tuple[str, ...]:
    chosen = tuple(t.strings("listeners"))
    for name in chosen:
        if name not in names:
            raise t.error(
                "listeners", f"{name!r} names no listener; the names are {', '.join(sorted(names))}"
            )
    return chosen


def _condition(t: _Table, depth: int) -> Condition:
    """One ``match`` entry: exactly one subject (or group) key, see MATCH_SUBJECTS."""
    present = [k for k in (*MATCH_SUBJECTS, *MATCH_GROUPS) if t.has(k)]
    if len(present) != 1:
        raise t.error(
            present[1] if len(present) > 1 else "url",
            f"each match entry tests exactly one of {', '.join((*MATCH_SUBJECTS, *MATCH_GROUPS))}",
        )
    subject = present[0]
    negate = t.boolean("negate", False)
    if subject in MATCH_GROUPS:
        if depth >= MAX_MATCH_DEPTH:
            raise t.error(subject, f"groups nest at most {MAX_MATCH_DEPTH} deep")
        children = tuple(_condition(c, depth + 1) for c in t.tables(subject, required=True))
        t.finish()
        return Condition(subject, children=children, negate=negate)
    if subject == "client":
        networks = _networks(t, "client")
        if not networks:
            raise t.error("client", "needs at least one address or CIDR range")
        t.finish()
        return Condition(subject, networks=networks, negate=negate)
    name = ""
    if subject == "query_param":
        name = t.string("query_param")
        text = t.string("pattern")
    else:
        text = t.string(subject)
    mode = t.choice("mode", MATCH_MODES, "regex")
    # Field names and host names are case-insensitive by definition (RFC 9110 5.1, 4.2.3).
    case_sensitive = t.boolean("case_sensitive", subject not in ("header", "host"))
    try:
        pattern = match_pattern(text, mode, case_sensitive)
    except re.error as exc:
        raise t.error(subject, f"not a valid regular expression: {exc}") from exc
    t.finish()
    return Condition(subject, pattern, name, negate=negate)


def match_pattern(text: str, mode: str, case_sensitive: bool) -> re.Pattern[str]:
    """``text`` compared by ``mode`` (MATCH_MODES) as one regex, used with ``search``:
    ``exact`` -> ``\\Atext\\Z``, ``prefix`` -> ``\\Atext``, ``suffix`` -> ``text\\Z``;
    raises ``re.error`` for an invalid ``regex``."""
    if mode != "regex":
        escaped = re.escape(text)
        text = {
            "exact": rf"\A{escaped}\Z",
            "prefix": rf"\A{escaped}",
            "suffix": rf"{escaped}\Z",
            "contains": escaped,
        }[mode]
    return re.compile(text, 0 if case_sensitive else re.IGNORECASE)


def _session(t: _Table) -> Session:
    kind = t.choice("type", SESSION_TYPES, "ip")
    needs_id = kind in ("cookie", "header", "url")
    if needs_id:
        ident = t.string("id")
        if not _TOKEN_PATTERN.match(ident):
            raise t.error("id", f"{ident!r} is not a cookie, field or parameter name")
    elif t.has("id"):
        raise t.error("id", f'only for type = "cookie", "header" or "url", not {kind!r}')
    else:
        ident = ""
    session = Session(kind, ident, t.number("ttl", Session("ip").ttl))
    t.finish()
    return session


def _redirect(t: _Table) -> Redirect:
    text = t.string("location")
    try:
        location = LocationTemplate.parse(text)
    except TemplateError as exc:
        raise t.error("location", str(exc)) from exc
    redirect = Redirect(location, _status(t, "status", REDIRECT_STATUSES, 302))
    t.finish()
    return redirect


def _error_page(t: _Table) -> ErrorPage:
    status = t.integer("status", None, 400, 599)
    body = path = None
    if t.has("file"):
        path = Path(t.string("file"))
        try:
            with path.open("rb") as page:
                body = page.read(MAX_ERROR_PAGE_BYTES + 1)
        except OSError as exc:
            raise t.error("file", f"cannot read {path}: {exc.strerror}") from exc
        if len(body) > MAX_ERROR_PAGE_BYTES:
            raise t.error("file", f"{path} is larger than {MAX_ERROR_PAGE_BYTES} bytes")
    t.finish()
    return ErrorPage(status, body, path)


def _cache(t: _Table) -> CacheSettings:
    d = CacheSettings()
    max_bytes = t.integer("max_bytes", d.max_bytes, 64 * 1024)
    max_entry = t.integer("max_entry_bytes", d.max_entry_bytes, 1, max_bytes)
    cookies = tuple(t.strings("bypass_cookies")) if t.has("bypass_cookies") else d.bypass_cookies
    for name in cookies:
        if name != "*" and not _TOKEN_PATTERN.match(name):
            raise t.error(
                "bypass_cookies", f"{name!r} is not a cookie name (letters, digits, -_.) or *"
            )
    settings = CacheSettings(
        max_bytes=max_bytes,
        max_entry_bytes=max_entry,
        default_ttl=t.number("default_ttl", d.default_ttl) if t.has("default_ttl") else 0.0,
        bypass_cookies=cookies,
    )
    t.finish()
    return settings


def _backends(t: _Table, required: bool = True) -> tuple[Backend, ...]:
    """``backends``: URLs, or ``{ url = ..., weight = ..., priority = ... }`` tables."""
    entries = t.data.get("backends")
    t.seen.add("backends")
    example = 'e.g. ["http://blog:4334"] or [{ url = "http://blog:4334", weight = 2 }]'
    if entries is None and not required:
        return ()
    if not isinstance(entries, list) or not entries:
        raise t.error("backends", f"needs at least one backend, {example}")
    backends = []
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            try:
                backends.append(_backend(t, interpolate(entry, t.env)))
            except InterpolationError as exc:
                raise t.error("backends", str(exc)) from exc
        elif isinstance(entry, dict):
            item = t.child(entry, f"{t.prefix}backends[{index}].")
            backend = _backend(item, item.string("url"), key="url")
            backend = dataclasses.replace(
                backend,
                weight=item.integer("weight", 1, 1, 1000),
                priority=item.integer("priority", 1, 1, 100),
                **_backend_tls(item, backend),
            )
            item.finish()
            backends.append(backend)
        else:
            raise t.error("backends", f"entry {index} must be a URL or a table, {example}")
    return tuple(backends)


def _cookie_name(t: _Table) -> str:
    name = t.string("affinity_cookie")
    if not _TOKEN_PATTERN.match(name):
        raise t.error("affinity_cookie", f"{name!r} is not a cookie name (letters, digits, -_.)")
    return name


def _health_check(t: _Table) -> HealthCheck:
    d = HealthCheck()
    path = t.string("path", d.path)
    if not path.startswith("/"):
        raise t.error("path", f"must start with '/', got {path!r}")
    check = HealthCheck(
        path=path,
        interval=t.number("interval", d.interval),
        timeout=t.number("timeout", d.timeout),
        fails=t.integer("fails", d.fails, 1, 100),
        passes=t.integer("passes", d.passes, 1, 100),
    )
    t.finish()
    return check


def _backend(t: _Table, url: str, key: str = "backends") -> Backend:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise t.error(key, f"{url!r} must be an http://host[:port] or https://host[:port] URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise t.error(key, f"{url!r} must have no path, query or user part")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise t.error(key, f"{url!r} has an invalid port") from exc
    return Backend(url.rstrip("/"), parts.scheme, parts.hostname.lower(), port)


def _backend_tls(t: _Table, backend: Backend) -> dict[str, Any]:
    """``tls_ca`` and ``tls_verify`` of an https backend (checked loadable now)."""
    if backend.scheme != "https":
        for key in ("tls_ca", "tls_verify"):
            if t.has(key):
                raise t.error(key, "only for https:// backends")
        return {}
    verify = t.boolean("tls_verify", True)
    ca = Path(t.string("tls_ca")) if t.has("tls_ca") else None
    if ca is not None:
        if not verify:
            raise t.error("tls_ca", "means nothing with tls_verify = false; remove one")
        try:
            ssl.create_default_context(cafile=str(ca))
        except (OSError, ssl.SSLError) as exc:
            raise t.error("tls_ca", f"cannot use {ca} as a CA file: {exc}") from exc
    return {"tls_ca": ca, "tls_verify": verify}


def _check_unique_addresses(listeners: tuple[Listener, ...], where: Where) -> None:
    seen: dict[tuple[str, int], int] = {}
    for index, listener in enumerate(listeners):
        key = (listener.address, listener.port)
        if key in seen:
            raise ConfigError(
                f"{where(f'listeners[{index}].', 'port')}: "
                f"{listener.port} on {listener.address} "
                f"is already used by listeners[{seen[key]}]; each listener needs its own port"
            )
        seen[key] = index


def _where(source: str, text: str, prefix: str, key: str) -> str:
    """``"file, line N: prefix.key"`` (without the line when it cannot be found)."""
    line = key_line(text, prefix, key) if text else None
    return f"{source}, line {line}: {prefix}{key}" if line else f"{source}: {prefix}{key}"

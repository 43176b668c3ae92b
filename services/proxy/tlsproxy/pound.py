"""Pound configuration files (1.x and 4.x syntax) translated into the proxy's own
configuration: the same document the TOML file gives, validated by ``config`` into
the same ``Config``, so ``serve``, ``check`` and SIGHUP work on a Pound file as on
ours, and ``import-pound`` prints that document as TOML (``toml_writer``).

Each directive is supported, translated with a caveat (a ``Note``: printed by
``check`` and at start, and written as a comment above its TOML line), or refused
with the file, the line and what to do instead. The table in docs/proxy.md ("Coming
from Pound") lists every one; ``REFUSED`` and ``NOTED`` below hold the reasons.

Pound's semantics kept: services are tried in order, a listener's own first, and a
request no service matches gets 503; a backend's ``Priority`` is its share
(weighted random, or ``iwrr``: shares of priority + 1, as smooth round robin);
``Emergency`` serves only while every backend is down; sessions; ``X-SSL-*``
fields on HTTPS listeners; ``xHTTP`` method sets (others get 501).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .config import (
    NO_ROUTE_STATUSES,
    REDIRECT_STATUSES,
    Config,
    ConfigError,
    parse_config,
)
from .pound_lexer import Line, PoundError, Token, read_lines
from .replies import LocationTemplate, TemplateError

# Pound's xHTTP levels: each adds methods to the one below (501 for the others).
XHTTP_METHODS = (
    ("GET", "HEAD", "POST"),
    ("PUT", "PATCH", "DELETE"),
    (
        "LOCK",
        "UNLOCK",
        "PROPFIND",
        "PROPPATCH",
        "SEARCH",
        "MKCOL",
        "MOVE",
        "COPY",
        "OPTIONS",
        "MKACTIVITY",
        "CHECKOUT",
        "MERGE",
        "REPORT",
    ),
    ("SUBSCRIBE", "UNSUBSCRIBE", "NOTIFY", "BPROPFIND", "BPROPPATCH", "POLL", "BMOVE", "BCOPY"),
)
DEFAULT_PRIORITY = 5
# The order a route's keys are written in (as the reference lists them).
ROUTE_KEYS = (
    "name",
    "listeners",
    "match",
    "basic_auth",
    "backends",
    "balance",
    "session",
    "retry_interval",
    "redirect",
    "error",
)
FORWARDED_NAMES = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-host")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_POSIX_CLASS = re.compile(r"\[:([a-z]+):\]")
_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\v",
    "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "cntrl": r"\x00-\x1f\x7f",
    "print": r" -~",
    "graph": r"!-~",
}

# Known to Pound, refused here: what to do instead.
REFUSED = {
    "socketfrom": "only an Address and Port can be listened on; write them instead",
    "checkurl": "not supported; send such requests to a Service with URL and Error 400",
    "acme": "the kit answers ACME HTTP-01 itself (its acme service, docs/acme.md); remove it",
    "calist": "not supported; VerifyList names the CA file client certificates must chain to",
    "crllist": "certificate revocation lists are not checked; remove it (or issue short-lived "
    "client certificates)",
    "setheader": "request headers are not modified by this proxy; set it in the backend",
    "headeradd": "request headers are not modified by this proxy; set it in the backend",
    "addheader": "request headers are not modified by this proxy; set it in the backend",
    "deleteheader": "request headers are not modified by this proxy; drop it in the backend",
    "headerremove": "request headers are not modified by this proxy; drop it in the backend",
    "headremove": "request headers are not modified by this proxy; drop it in the backend",
    "seturl": "requests are not rewritten by this proxy; route them with URL or Path instead",
    "setpath": "requests are not rewritten by this proxy; route them with URL or Path instead",
    "setquery": "requests are not rewritten by this proxy; route them with Query instead",
    "setqueryparam": "requests are not rewritten by this proxy",
    "rewrite": "request and response rewriting is not supported; remove the Rewrite block",
    "stringmatch": "not supported; use URL, Path, Query, QueryParam, Header, Host or Method",
    "usebackend": "named backends are not supported; write the Backend block in the Service",
    "metrics": "use the proxy's own [metrics] listener (docs/proxy.md, Metrics)",
    "servername": "not supported; the backend is verified and addressed by its Address",
    "httpsheaders": "not supported; X-Forwarded-Proto is always set, and a Pound 4 ListenHTTPS "
    "block adds the X-SSL-* fields",
    "trustedip": "not supported; convert with import-pound and list the proxies in front "
    "in [server] trusted_proxies",
    "lua": "not supported",
    "combineheaders": "not supported; fields are passed on as received",
    "regextype": "not supported; regular expressions are Python's (close to PCRE)",
    "haport": "a separate health-check port is not supported; convert with import-pound and "
    "give the route a health_check",
}
# Known to Pound, nothing to translate: why that is fine (printed as a caveat).
NOTED = {
    "user": "the container decides the user (the proxy runs as uid 10001)",
    "group": "the container decides the group",
    "rootjail": "the container is the jail (read-only file system, no capabilities)",
    "daemon": "the proxy runs in the foreground under the container's supervision",
    "supervisor": "the container engine restarts the proxy",
    "pidfile": "no PID file is written; the container engine tracks the process",
    "logfacility": "logs go to stdout (access log) and stderr (events), not to syslog",
    "logformat": "the access log is combined or JSON ([server] access_log)",
    "threads": "no threads to size: one event loop per process ([server] workers)",
    "workermincount": "no threads to size: one event loop per process ([server] workers)",
    "workermaxcount": "no threads to size: one event loop per process ([server] workers)",
    "workeridletimeout": "no threads to size: one event loop per process ([server] workers)",
    "control": "there is no control socket; SIGHUP reloads, /metrics reports",
    "anonymise": "the access log keeps whole addresses",
    "anonymize": "the access log keeps whole addresses",
    "ecdhcurve": "key exchange uses X25519, P-256 and P-384 (services/proxy/openssl.cnf)",
    "sslengine": "OpenSSL engines are not loaded",
    "forwardedheader": "only used by Pound for logging; the access log shows the peer",
    "logsuppress": "every request is logged",
    "sslhonorcipherorder": "the client's order is used: every offered suite is strong",
    "nohttps11": "keep-alive works for every client",
    "errorfile": "the proxy answers with its own short page for this status",
    "dynscale": "priorities are not adjusted at run time",
    "dhparams": "only ECDHE key exchange is offered (no finite-field DHE suites)",
}

Handler = Callable[["_Translator", Line], None]


@dataclass(frozen=True)
class Note:
    """A caveat: what differs from Pound for the directive at ``where``.

    ``anchor`` is the table (dict) of the document it concerns and ``key`` the key in
    it (None: the table itself; no anchor: nothing in the document)."""

    where: str
    directive: str
    text: str
    anchor: dict[str, Any] | None = field(default=None, compare=False)
    key: str | None = None

    @property
    def message(self) -> str:
        return f"{self.where}: {self.directive}: {self.text}"


@dataclass
class Translation:
    """A Pound file as the proxy's configuration document, with the caveats and where
    each table and key came from (``where``, for errors the validation finds)."""

    source: str
    document: dict[str, Any]
    notes: list[Note]
    origins: dict[tuple[int, str | None], tuple[str, str]]

    def where(self, prefix: str, key: str) -> str:
        """``config.Where`` for this document: the Pound line a TOML key came from."""
        table: Any = self.document
        found = (self.source, "")
        for part in [p for p in prefix.split(".") if p]:
            name, _, index = part.partition("[")
            table = table.get(name) if isinstance(table, dict) else None
            if index and isinstance(table, list):
                table = table[int(index.rstrip("]"))]
            if isinstance(table, dict):
                found = self.origins.get((id(table), None), found)
        if isinstance(table, dict):
            found = self.origins.get((id(table), key), found)
        where, directive = found
        named = f" {directive}:" if directive else ""
        return f"{where}:{named} ({prefix}{key})"


def load_pound(source: str, text: str) -> Config:
    """A Pound file as the proxy's validated ``Config``; raises ConfigError."""
    try:
        translation = translate_pound(source, text)
    except PoundError as exc:
        raise ConfigError(str(exc)) from exc
    config = parse_config(translation.document, source, {}, where=translation.where)
    notes = tuple(note.message for note in translation.notes)
    return dataclasses.replace(config, syntax="pound", warnings=notes + config.warnings)


def translate_pound(source: str, text: str) -> Translation:
    """The document, caveats and origins of a Pound file; raises PoundError."""
    return _Translator(source, read_lines(source, text)).run()


def python_regex(pattern: str, line: Line) -> str:
    """A POSIX extended regular expression as Python's: ``[[:alpha:]]`` classes and
    GNU's ``\\<`` / ``\\>`` word boundaries translated; raises PoundError if it does
    not compile."""

    def replace(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in _POSIX_CLASSES:
            raise line.error(f"[:{name}:] is not a POSIX character class")
        return _POSIX_CLASSES[name]

    converted = _POSIX_CLASS.sub(replace, pattern).replace(r"\<", r"\b").replace(r"\>", r"\b")
    try:
        re.compile(converted)
    except re.error as exc:
        raise line.error(f"{pattern!r} is not a valid regular expression: {exc}") from exc
    return converted


# -- the parts of a translation -------------------------------------------------------


@dataclass
class _Listener:
    line: Line
    kind: str  # "http" or "https"
    name: str
    old_style: bool = False  # Pound 1.x: ListenHTTP address,port on one line
    document: dict[str, Any] = field(default_factory=dict)
    xhttp: int | None = None
    ssl_headers: bool | None = None
    client_cert: tuple[int, Line] | None = None
    verify_list: str | None = None
    profile: tuple[str, Line] | None = None
    routes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Backend:
    line: Line
    host: str | None = None
    port: int | None = None
    priority: int = DEFAULT_PRIORITY
    https: bool = False
    disabled: bool = False
    document: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Service:
    line: Line
    route: dict[str, Any] = field(default_factory=dict)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    backends: list[_Backend] = field(default_factory=list)
    emergency: _Backend | None = None
    balancer: str | None = None
    ignore_case: bool | None = None
    disabled: bool = False


class _Translator:
    """Reads the directives in order, context by context (global, listener, service,
    backend, session, ACL, Match), into the document; see the module docstring."""

    def __init__(self, source: str, lines: list[Line]) -> None:
        self.source = source
        self.lines = lines
        self.position = 0
        self.notes: list[Note] = []
        self.origins: dict[tuple[int, str | None], tuple[str, str]] = {}
        self.document: dict[str, Any] = {}
        self.server: dict[str, Any] = {"no_route_status": NO_ROUTE_STATUSES[1]}
        self.tls: dict[str, Any] = {}
        self.limits: dict[str, Any] = {}
        self.listeners: list[_Listener] = []
        self.routes: list[dict[str, Any]] = []  # global services, in order
        self.acls: dict[str, list[str]] = {}
        self.balancer = "random"
        self.ignore_case = False
        self.ssl_headers = True
        self.alive: int | None = None
        self.timeouts: dict[str, tuple[int, Line]] = {}  # client / backend / connect / ws
        self.backend_timeouts: list[tuple[int, Line, str]] = []
        self.old_methods = 0  # Pound 1.x: ExtendedHTTP 1 -> 1, WebDAV 1 -> 2
        self.listener_limits: list[tuple[str, Line]] = []  # per listener in Pound, not here

    # -- reading ------------------------------------------------------------------
    def _next(self) -> Line | None:
        if self.position >= len(self.lines):
            return None
        line = self.lines[self.position]
        self.position += 1
        return line

    def _inside(self, opener: Line, end: str = "end") -> Line | None:
        """The next line of ``opener``'s block, None at its end keyword."""
        line = self._next()
        if line is None:
            closing = "EndGroup" if end == "endgroup" else "End"
            raise opener.error(f"the block is not closed: add {closing} after it")
        return None if line.keyword == end else line

    def note(
        self, line: Line, text: str, anchor: dict[str, Any] | None = None, key: str | None = None
    ) -> None:
        self.notes.append(Note(line.where, line.name, text, anchor, key))

    def origin(self, table: dict[str, Any], line: Line, key: str | None = None) -> None:
        self.origins[(id(table), key)] = (line.where, line.name)

    def _other(self, line: Line, context: str) -> None:
        """A directive no handler of ``context`` took: caveat, refusal or unknown."""
        keyword = line.keyword
        if keyword in NOTED:
            self.note(line, f"not translated: {NOTED[keyword]}")
            if line.args == () and keyword == "control":
                self._skip_block(line)
            return
        if keyword in REFUSED:
            if keyword in ("setheader", "headeradd", "addheader") and _sets_forwarded(line):
                self.note(
                    line,
                    "not needed: the proxy sets X-Forwarded-For, -Proto, -Port "
                    "and -Host itself, replacing what clients send",
                )
                return
            if keyword in ("deleteheader", "headerremove", "headremove") and _drops_forwarded(line):
                self.note(
                    line, "not needed: the proxy replaces the X-Forwarded-* fields clients send"
                )
                return
            raise line.error(f"refused: {REFUSED[keyword]}")
        if re.fullmatch(r"err[0-9]{3}", keyword):
            self.note(line, f"not translated: {NOTED['errorfile']}")
            return
        raise line.error(
            f"not a directive known in {context} (docs/proxy.md, Coming from Pound, lists "
            "those the proxy reads)"
        )

    def _skip_block(self, opener: Line) -> None:
        while self._inside(opener) is not None:
            pass

    # -- the whole file -------------------------------------------------------------
    def run(self) -> Translation:
        while (line := self._next()) is not None:
            handler = GLOBAL.get(line.keyword)
            if handler is None:
                self._other(line, "the global scope")
            else:
                handler(self, line)
        return self._finish()

    def _finish(self) -> Translation:
        if not self.listeners:
            raise PoundError(
                f"{self.source}: no ListenHTTP or ListenHTTPS: add one to say where to listen"
            )
        document = self.document
        listeners = [self._finish_listener(listener) for listener in self.listeners]
        routes = [route for listener in self.listeners for route in listener.routes]
        routes += self.routes
        if not routes:
            raise PoundError(
                f"{self.source}: no Service (or UrlGroup): every request would get 503; "
                "add a Service with a Backend"
            )
        for route in routes:
            if self.alive is not None and route.get("backends"):
                route["retry_interval"] = self.alive
            for key in ROUTE_KEYS:  # in place: notes and origins refer to this dict
                if key in route:
                    route[key] = route.pop(key)
        self._finish_timeouts()
        self._finish_tls(listeners)
        if len(listeners) > 1:
            for key, line in self.listener_limits:
                self.note(line, "applies to every listener here", self.limits, key)
        document["server"] = self.server
        if self.tls:
            document["tls"] = self.tls
        if self.limits:
            document["limits"] = self.limits
        document["listeners"] = [listener.document for listener in listeners]
        document["routes"] = routes
        _escape_dollars(document)
        return Translation(self.source, document, self.notes, self.origins)

    def _finish_listener(self, listener: _Listener) -> _Listener:
        document = listener.document
        if "port" not in document or "address" not in document:
            raise listener.line.error("needs an Address and a Port")
        level = listener.xhttp
        if level is None:
            level = self.old_methods if listener.old_style else 0
        document["methods"] = sorted(m for group in XHTTP_METHODS[: level + 1] for m in group)
        if listener.kind == "https":
            if not document.get("certificates"):
                raise listener.line.error("an HTTPS listener needs a Cert (certificate and key)")
            wanted = listener.ssl_headers
            if wanted is None:
                wanted = self.ssl_headers and not listener.old_style
            if wanted:
                document["ssl_headers"] = True
            self._finish_client_cert(listener)
        return listener

    def _finish_client_cert(self, listener: _Listener) -> None:
        if listener.client_cert is None:
            return
        mode, line = listener.client_cert
        if listener.verify_list is None:
            raise line.error(
                'needs VerifyList "ca.pem" in the same listener: the CA file client '
                "certificates must chain to"
            )
        document = listener.document
        document["client_ca"] = listener.verify_list
        document["client_cert"] = "optional" if mode == 1 else "required"
        self.origin(document, line, "client_cert")

    def _finish_timeouts(self) -> None:
        limits = self.limits
        if "client" in self.timeouts:
            seconds, line = self.timeouts["client"]
            for key in ("header_timeout", "body_timeout", "idle_timeout"):
                limits[key] = seconds
                self.origin(limits, line, key)
        for name, key in (
            ("backend", "backend_read_timeout"),
            ("connect", "backend_connect_timeout"),
            ("ws", "tunnel_idle_timeout"),
        ):
            if name in self.timeouts:
                seconds, line = self.timeouts[name]
                limits[key] = seconds
                self.origin(limits, line, key)
        if "backend" in self.timeouts and "connect" not in self.timeouts:
            # Pound's ConnTO defaults to its TimeOut.
            limits["backend_connect_timeout"] = limits["backend_read_timeout"]
        for seconds, line, kind in self.backend_timeouts:
            key = {"backend": "backend_read_timeout", "connect": "backend_connect_timeout"}.get(
                kind, "tunnel_idle_timeout"
            )
            longest = max(seconds, limits.get(key, 0))
            limits[key] = longest
            self.note(
                line,
                f"one time-out for every backend here: {key} = {longest} (the longest given)",
                limits,
                key,
            )

    def _finish_tls(self, listeners: list[_Listener]) -> None:
        https = [listener for listener in listeners if listener.kind == "https"]
        if not https:
            return
        profiles = {(lst.profile or ("intermediate", lst.line))[0] for lst in https}
        if len(profiles) > 1:
            line = next(lst.profile[1] for lst in https if lst.profile is not None)
            raise line.error(
                "the TLS protocols are one setting for every HTTPS listener here; give each "
                "listener the same Disable (TLSv1_2 leaves TLS 1.3 only)"
            )
        profile = profiles.pop()
        if profile != "intermediate":
            self.tls["profile"] = profile
            self.origin(self.tls, next(lst.profile[1] for lst in https if lst.profile), "profile")
        self.tls["hsts_max_age"] = 31536000
        self.note(
            https[0].line,
            "HTTPS answers carry Strict-Transport-Security for a year, which Pound does not "
            "send; set hsts_max_age = 0 in the TOML's [tls] to match",
            self.tls,
            "hsts_max_age",
        )

    # -- global directives ----------------------------------------------------------
    def g_listen(self, line: Line) -> None:
        kind = "https" if line.keyword == "listenhttps" else "http"
        index = len(self.listeners)
        listener = _Listener(line, kind, f"listener{index}")
        document = listener.document
        document["kind"] = kind
        self.origin(document, line)
        args = line.args
        if args and not (len(args) == 1 and args[0].quoted):
            self._old_listener(listener, line)
        else:
            if args and _NAME.match(args[0].text):
                listener.name = args[0].text
            document["name"] = listener.name
            while (inner := self._inside(line)) is not None:
                handler = LISTENER.get(inner.keyword)
                if handler is None and kind == "https":
                    handler = HTTPS_LISTENER.get(inner.keyword)
                if handler is None:
                    self._other(inner, f"{line.name}")
                else:
                    handler(self, inner, listener)
        self.listeners.append(listener)

    def _old_listener(self, listener: _Listener, line: Line) -> None:
        """Pound 1.x: ``ListenHTTP address,port`` and ``ListenHTTPS address,port cert
        [ciphers]`` on one line."""
        listener.old_style = True
        document = listener.document
        document["name"] = listener.name
        address, sep, port = line.args[0].text.rpartition(",")
        if not sep:
            raise line.error("takes address,port (for example *,443) in Pound 1.x syntax")
        document["address"] = _listen_address(address, line)
        document["port"] = _port(port, line)
        rest = line.args[1:]
        if listener.kind == "http":
            if rest:
                raise line.error("takes only address,port")
            return
        if not rest:
            raise line.error("needs the certificate file after address,port")
        cert = str(line.path(rest[0].text))
        document["certificates"] = [{"cert": cert, "key": cert}]
        if len(rest) > 1:
            self.note(line, _CIPHERS_NOTE, document)
        if len(rest) > 2:
            raise line.error("takes address,port, a certificate file and ciphers, no more")

    def g_service(self, line: Line) -> None:
        route = self._service(line)
        if route is not None:
            self.routes.append(route)

    def g_acl(self, line: Line) -> None:
        if len(line.args) != 1 or not line.args[0].quoted:
            raise line.error('a global ACL needs a name: ACL "name", then CIDRs, then End')
        name = line.args[0].text
        if name in self.acls:
            raise line.error(f"the ACL {name!r} is defined twice")
        self.acls[name] = self._acl_block(line)

    def g_alive(self, line: Line) -> None:
        self.alive = _number(line, 1)

    def g_timeout(self, line: Line) -> None:
        kind = {"client": "client", "timeout": "backend", "server": "backend", "connto": "connect"}
        self.timeouts[kind.get(line.keyword, "ws")] = (_number(line, 1), line)

    def g_grace(self, line: Line) -> None:
        self.server["shutdown_grace"] = _number(line, 1)
        self.origin(self.server, line, "shutdown_grace")

    def g_balancer(self, line: Line) -> None:
        self.balancer = _balancer(line)

    def g_ignore_case(self, line: Line) -> None:
        self.ignore_case = _boolean(line)

    def g_header_option(self, line: Line) -> None:
        self.ssl_headers = self._header_option(line, self.ssl_headers)

    def g_log_level(self, line: Line) -> None:
        self.server["access_log"] = self._access_log(line)
        self.origin(self.server, line, "access_log")

    def g_old_methods(self, line: Line) -> None:
        if _boolean(line):
            level = 1 if line.keyword == "extendedhttp" else 2
            self.old_methods = max(self.old_methods, level)

    def g_url_group(self, line: Line) -> None:
        """Pound 1.x: ``UrlGroup "regex"`` ... ``EndGroup``, a service matching the URL
        (case-insensitively, as Pound 1.x did)."""
        pattern = _one_string(line)
        service = _Service(line)
        service.conditions.append({"url": python_regex(pattern, line), "case_sensitive": False})
        while (inner := self._inside(line, "endgroup")) is not None:
            if inner.keyword == "backend" and inner.args and not inner.args[0].quoted:
                service.backends.append(self._old_backend(inner))
            elif inner.keyword in ("headrequire", "headdeny"):
                service.conditions.append(self._condition(inner, top=False))
            else:
                raise inner.error(
                    "inside UrlGroup only HeadRequire, HeadDeny and BackEnd address,port,"
                    "priority are read; write other settings as a Pound 4 Service block"
                )
        self.routes.append(self._finish_service(service))

    def _old_backend(self, line: Line) -> _Backend:
        parts = line.args[0].text.split(",") if len(line.args) == 1 else []
        if len(parts) != 3:
            raise line.error("takes address,port,priority (for example 192.168.0.10,80,1)")
        backend = _Backend(line, _backend_host(parts[0], line), _port(parts[1], line))
        backend.priority = _priority(parts[2], line)
        return backend

    # -- listeners ------------------------------------------------------------------
    def l_address(self, line: Line, listener: _Listener) -> None:
        listener.document["address"] = _listen_address(_one(line), line)

    def l_port(self, line: Line, listener: _Listener) -> None:
        listener.document["port"] = _port(_one(line), line)
        self.origin(listener.document, line, "port")

    def l_xhttp(self, line: Line, listener: _Listener) -> None:
        level = _number(line, 0, 4)
        if level >= 2:
            self.note(line, "TRACE and CONNECT stay refused with 405", listener.document, "methods")
        if level == 4:
            self.note(
                line,
                "Microsoft RPC methods are not HTTP methods the parser knows: 400",
                listener.document,
                "methods",
            )
        listener.xhttp = min(level, 3)

    def l_client(self, line: Line, listener: _Listener) -> None:
        seconds = _number(line, 1)
        previous = self.timeouts.get("client")
        if previous is not None and previous[0] != seconds:
            self.note(
                line,
                "one client time-out for every listener here: the longest given is used",
                self.limits,
                "idle_timeout",
            )
            seconds = max(seconds, previous[0])
        self.timeouts["client"] = (seconds, line)

    def l_max_request(self, line: Line, listener: _Listener) -> None:
        self._listener_limit(line, "max_body_bytes", _number(line, 0))

    def l_max_uri(self, line: Line, listener: _Listener) -> None:
        self._listener_limit(line, "max_target_bytes", _number(line, 16, 1024 * 1024))

    def _listener_limit(self, line: Line, key: str, value: int) -> None:
        previous = self.limits.get(key)
        if previous is not None and previous != value:
            raise line.error(
                f"limits are one setting for every listener here, and another listener "
                f"says {previous}; give every listener the same value"
            )
        self.limits[key] = value
        self.origin(self.limits, line, key)
        self.listener_limits.append((key, line))

    def l_rewrite_location(self, line: Line, listener: _Listener) -> None:
        level = _number(line, 0, 2)
        if level == 0:
            self.note(
                line,
                "Location fields naming a backend are always rewritten to the public origin",
                listener.document,
            )
        elif level == 1:
            self.note(
                line,
                "only Location fields naming the backend are rewritten (as RewriteLocation "
                "2), not those naming this listener with the other scheme",
                listener.document,
            )

    def l_rewrite_destination(self, line: Line, listener: _Listener) -> None:
        if _boolean(line):
            raise line.error(
                "refused: the WebDAV Destination field is passed on as received; remove it "
                "or set RewriteDestination 0 (a WebDAV backend behind a proxy usually reads "
                "X-Forwarded-Host)"
            )

    def l_log_level(self, line: Line, listener: _Listener) -> None:
        wanted = self._access_log(line)
        current = self.server.get("access_log", "combined")
        if wanted != current:
            self.note(line, f"the access log is one setting: {current} for every listener")

    def l_header_option(self, line: Line, listener: _Listener) -> None:
        listener.ssl_headers = self._header_option(line, self.ssl_headers)

    def l_service(self, line: Line, listener: _Listener) -> None:
        route = self._service(line)
        if route is not None:
            route["listeners"] = [listener.name]
            listener.routes.append(route)

    def l_cert(self, line: Line, listener: _Listener) -> None:
        path = line.path(_one_string(line))
        if path.is_dir():
            raise line.error(f"{path} is a directory; write one Cert line per certificate file")
        entry = {"cert": str(path), "key": str(path)}
        listener.document.setdefault("certificates", []).append(entry)
        self.origin(entry, line)

    def l_client_cert(self, line: Line, listener: _Listener) -> None:
        if not line.args or len(line.args) > 2:
            raise line.error("takes a mode 0-3 and an optional depth: ClientCert 2 9")
        mode = _int(line.args[0].text, line, 0, 3)
        if mode == 3:
            raise line.error(
                "refused: mode 3 accepts client certificates without verifying them, which "
                "proves nothing; use 1 (optional) or 2 (required) with VerifyList"
            )
        if len(line.args) == 2:
            depth = _int(line.args[1].text, line, 0, 100)
            if depth < 9:
                self.note(line, f"the chain depth is not limited to {depth}", listener.document)
        if mode:
            listener.client_cert = (mode, line)

    def l_verify_list(self, line: Line, listener: _Listener) -> None:
        listener.verify_list = str(line.path(_one_string(line)))
        self.origin(listener.document, line, "client_ca")

    def l_disable(self, line: Line, listener: _Listener) -> None:
        protocol = _one(line).upper()
        if protocol == "TLSV1_2":
            listener.profile = ("modern", line)
        elif protocol in ("SSLV2", "SSLV3", "TLSV1", "TLSV1_1"):
            self.note(line, "TLS 1.2 is the oldest protocol accepted here anyway")
        else:
            raise line.error("takes SSLv2, SSLv3, TLSv1, TLSv1_1 or TLSv1_2")

    def l_ciphers(self, line: Line, listener: _Listener) -> None:
        _one_string(line)
        self.note(line, _CIPHERS_NOTE, listener.document)

    def l_renegotiation(self, line: Line, listener: _Listener) -> None:
        if _number(line, 0, 2):
            self.note(line, "renegotiation stays off", listener.document)

    # -- services -------------------------------------------------------------------
    def _service(self, opener: Line) -> dict[str, Any] | None:
        """The route of a Service block (None when it is Disabled)."""
        service = _Service(opener)
        if opener.args:
            service.route["name"] = _one_string(opener)
        while (line := self._inside(opener)) is not None:
            handler = SERVICE.get(line.keyword)
            if handler is not None:
                handler(self, line, service)
            elif line.keyword in CONDITIONS:
                condition = self._condition(line, top=True, service=service)
                if condition:
                    service.conditions.append(condition)
            else:
                self._other(line, "a Service")
        if service.disabled:
            self.note(opener, "Disabled: left out (there is no poundctl to enable it)")
            return None
        return self._finish_service(service)

    def _finish_service(self, service: _Service) -> dict[str, Any]:
        route = service.route
        self.origin(route, service.line)
        if service.conditions:
            route["match"] = service.conditions
        replied = "redirect" in route or "error" in route
        backends = [b for b in service.backends if not b.disabled]
        if replied and (backends or service.emergency):
            raise service.line.error(
                "a Service with Redirect or Error has no Backend here; split it in two"
            )
        if not replied and not backends and service.emergency is None:
            route["error"] = {"status": 503}
            self.note(
                service.line,
                "no backend: every request it matches gets 503, as in Pound",
                route,
                "error",
            )
        if backends or service.emergency:
            self._finish_backends(service, route, backends)
        return route

    def _finish_backends(
        self, service: _Service, route: dict[str, Any], backends: list[_Backend]
    ) -> None:
        policy = service.balancer or self.balancer
        if policy == "iwrr":
            route["balance"] = "round_robin"
        shares = {b.priority for b in backends}
        entries = []
        for backend in backends:
            entry = backend.document
            entry["url"] = _backend_url(backend)
            if len(shares) > 1:
                entry["weight"] = backend.priority + (1 if policy == "iwrr" else 0)
            self.origin(entry, backend.line)
            entries.append(entry)
        if service.emergency is not None:
            entry = service.emergency.document
            entry["url"] = _backend_url(service.emergency)
            entry["priority"] = 2
            self.origin(entry, service.emergency.line)
            entries.append(entry)
        route["backends"] = entries

    def s_backend(self, line: Line, service: _Service) -> None:
        if line.args:
            if line.args[0].quoted:
                raise line.error(f"refused: {REFUSED['usebackend']}")
            raise line.error("Pound 1.x BackEnd address,port,priority belongs in a UrlGroup")
        service.backends.append(self._backend_block(line, emergency=False))

    def s_emergency(self, line: Line, service: _Service) -> None:
        if service.emergency is not None:
            raise line.error("one Emergency backend per Service")
        service.emergency = self._backend_block(line, emergency=True)

    def s_redirect(self, line: Line, service: _Service) -> None:
        if "redirect" in service.route or "error" in service.route:
            raise line.error("one Redirect or Error per Service")
        args = line.args
        status = 302
        if len(args) == 2:
            status = _int(args[0].text, line, 300, 399)
            if status not in REDIRECT_STATUSES:
                raise line.error(
                    f"the code must be one of {', '.join(map(str, REDIRECT_STATUSES))}"
                )
            args = args[1:]
        if len(args) != 1:
            raise line.error('takes an optional code and a URL: Redirect 301 "https://host"')
        location = _location_template(args[0].text, line)
        redirect = {"location": location, "status": status}
        service.route["redirect"] = redirect
        self.origin(redirect, line)
        self.origin(service.route, line, "redirect")

    def s_error(self, line: Line, service: _Service) -> None:
        if "redirect" in service.route or "error" in service.route:
            raise line.error("one Redirect or Error per Service")
        if not line.args or len(line.args) > 2:
            raise line.error('takes a status and an optional file: Error 404 "notfound.html"')
        page: dict[str, Any] = {"status": _int(line.args[0].text, line, 400, 599)}
        if len(line.args) == 2:
            page["file"] = str(line.path(line.args[1].text))
        service.route["error"] = page
        self.origin(page, line)
        self.origin(service.route, line, "error")

    def s_session(self, opener: Line, service: _Service) -> None:
        session: dict[str, Any] = {}
        ttl = None
        while (line := self._inside(opener)) is not None:
            if line.keyword == "type":
                kind = _one(line).lower()
                if kind not in ("ip", "cookie", "header", "url", "parm", "basic"):
                    raise line.error("takes IP, COOKIE, HEADER, URL, PARM or BASIC")
                session["type"] = kind
            elif line.keyword == "ttl":
                ttl = _number(line, 1)
            elif line.keyword == "id":
                session["id"] = _one_string(line)
                self.origin(session, line, "id")
            else:
                raise line.error("inside Session only Type, TTL and ID are read")
        if "type" not in session:
            raise opener.error("needs a Type (IP, COOKIE, HEADER, URL, PARM or BASIC)")
        if ttl is None:
            raise opener.error("needs a TTL (seconds a session may be idle)")
        session["ttl"] = ttl
        service.route["session"] = session
        self.origin(session, opener)

    def s_balancer(self, line: Line, service: _Service) -> None:
        service.balancer = _balancer(line)

    def s_ignore_case(self, line: Line, service: _Service) -> None:
        service.ignore_case = _boolean(line)

    def s_disabled(self, line: Line, service: _Service) -> None:
        service.disabled = _boolean(line)

    def _backend_block(self, opener: Line, emergency: bool) -> _Backend:
        backend = _Backend(opener)
        while (line := self._inside(opener)) is not None:
            keyword = line.keyword
            if keyword == "address":
                backend.host = _backend_host(_one(line), line)
            elif keyword == "port":
                backend.port = _port(_one(line), line)
            elif keyword == "priority" and not emergency:
                backend.priority = _priority(_one(line), line)
            elif keyword == "https":
                if line.args:
                    raise line.error(
                        "refused: a client certificate toward the backend is not supported; "
                        "write HTTPS alone"
                    )
                backend.https = True
                self.note(
                    line,
                    "the backend's certificate is verified (against the system's CAs, or "
                    "SSL_CERT_FILE, or the TOML's tls_ca), which Pound does not do",
                    backend.document,
                )
            elif keyword in ("timeout", "connto", "wstimeout"):
                kind = {"timeout": "backend", "connto": "connect"}.get(keyword, "ws")
                self.backend_timeouts.append((_number(line, 1), line, kind))
            elif keyword == "disabled" and not emergency:
                backend.disabled = _boolean(line)
                if backend.disabled:
                    self.note(line, "left out: there is no poundctl to enable it")
            elif keyword in ("ciphers", "disable"):
                self.note(
                    line,
                    "TLS 1.2 or 1.3 with the system's default suites toward backends",
                    backend.document,
                )
            elif keyword in ("cert", "servername"):
                raise line.error(f"refused: {REFUSED['servername']}")
            else:
                self._other(line, line.name if emergency else "a Backend")
        if backend.host is None or backend.port is None:
            raise opener.error("needs an Address and a Port")
        return backend

    # -- conditions -----------------------------------------------------------------
    def _condition(
        self, line: Line, top: bool, service: _Service | None = None
    ) -> dict[str, Any] | None:
        """A service condition as a ``match`` entry; ``top``: directly in the Service,
        where ``BasicAuth`` may stand (it becomes the route's ``basic_auth``)."""
        keyword = line.keyword
        ignore_case = self.ignore_case
        if service is not None and service.ignore_case is not None:
            ignore_case = service.ignore_case
        if keyword == "not":
            if not line.args:
                raise line.error('needs a condition after it: Not URL "^/static/"')
            inner = Line(line.source, line.number, line.args[0].text, line.args[1:], line.base)
            if inner.keyword not in CONDITIONS:
                raise line.error(f"{inner.name} is not a condition Not can invert")
            condition = self._condition(inner, top=False, service=service)
            assert condition is not None
            condition["negate"] = not condition.get("negate", False)
            if not condition["negate"]:
                del condition["negate"]
            return condition
        if keyword == "match":
            op = _one(line).lower()
            if op not in ("and", "or"):
                raise line.error("takes AND or OR")
            children = []
            while (inner := self._inside(line)) is not None:
                if inner.keyword not in CONDITIONS:
                    raise inner.error("inside Match only conditions are read")
                child = self._condition(inner, top=False, service=service)
                assert child is not None
                children.append(child)
            if not children:
                raise line.error("an empty Match block tests nothing; remove it")
            return {"all" if op == "and" else "any": children}
        if keyword == "acl":
            return {"client": self._acl(line)}
        if keyword == "basicauth":
            if not top or service is None:
                raise line.error(
                    "refused here: BasicAuth is read only as a plain condition of a Service, "
                    "whose requests then need the password (401 otherwise)"
                )
            path = line.path(_one_string(line))
            service.route["basic_auth"] = {"htpasswd": str(path)}
            self.origin(service.route["basic_auth"], line)
            self.origin(service.route, line, "basic_auth")
            self.note(
                line,
                "a request without the right password gets 401 (with a challenge) instead of "
                "going on to the next Service; the backend gets X-Forwarded-User, not the "
                "password; hashes must be bcrypt or Argon2",
                service.route,
                "basic_auth",
            )
            return None
        if keyword == "stringmatch":
            raise line.error(f"refused: {REFUSED['stringmatch']}")
        return self._leaf(line, ignore_case)

    def _leaf(self, line: Line, ignore_case: bool) -> dict[str, Any]:
        keyword = line.keyword
        subject = {
            "url": "url",
            "path": "path",
            "query": "query",
            "queryparam": "query_param",
            "header": "header",
            "headrequire": "header",
            "headdeny": "header",
            "host": "host",
            "method": "method",
        }[keyword]
        args = list(line.args)
        name = None
        if subject == "query_param":
            if not args or not args[0].quoted:
                raise line.error('needs the parameter name first: QueryParam "id" "^[0-9]+$"')
            name = args.pop(0).text
        elif subject == "header" and len(args) >= 2 and not args[0].text.startswith("-"):
            name = args.pop(0).text  # Header "Name" "value" (and Pound 1.x HeadRequire)
        default_mode = {"host": "exact", "method": "exact"}.get(subject, "regex")
        case_insensitive = subject in ("header", "host") or ignore_case
        if subject == "method":
            case_insensitive = False
        mode, case_insensitive, patterns = self._pattern_options(
            line, args, default_mode, case_insensitive
        )
        leaves = [
            self._leaf_entry(line, subject, name, text, mode, case_insensitive) for text in patterns
        ]
        condition = leaves[0] if len(leaves) == 1 else {"any": leaves}
        if keyword == "headdeny":
            condition["negate"] = True
        self.origin(condition, line)
        return condition

    def _pattern_options(
        self, line: Line, args: list[Token], mode: str, icase: bool
    ) -> tuple[str, bool, list[str]]:
        modes = {
            "-re": "regex",
            "-posix": "regex",
            "-pcre": "regex",
            "-perl": "regex",
            "-exact": "exact",
            "-beg": "prefix",
            "-end": "suffix",
            "-contain": "contains",
        }
        patterns: list[str] | None = None
        index = 0
        while index < len(args):
            token = args[index]
            option = token.text.lower() if not token.quoted else ""
            if option in modes:
                mode = modes[option]
            elif option == "-icase":
                icase = True
            elif option == "-case":
                icase = False
            elif option in ("-file", "-filewatch"):
                index += 1
                if index >= len(args):
                    raise line.error(f"{token.text} needs a file name")
                patterns = _pattern_file(line, args[index].text)
                if option == "-filewatch":
                    self.note(line, "the file is read at start and on SIGHUP, not watched")
            elif token.quoted and patterns is None and index == len(args) - 1:
                patterns = [token.text]
            else:
                raise line.error(
                    f"{token.text!r} is not understood here; options are -re, -exact, -beg, "
                    "-end, -contain, -icase, -case, -file, then the quoted pattern"
                )
            index += 1
        if patterns is None:
            raise line.error("needs a quoted pattern")
        return mode, icase, patterns

    def _leaf_entry(
        self, line: Line, subject: str, name: str | None, text: str, mode: str, icase: bool
    ) -> dict[str, Any]:
        if subject == "header" and name is not None:
            return _named_header(line, name, text, mode, icase)
        if subject == "host" and mode in ("exact", "prefix") and ":" in text:
            # A port is part of Pound's Host match; ours tests the name alone.
            escaped = re.escape(text)
            tail = r"\s*$" if mode == "exact" else ""
            return {"header": rf"^Host:\s*{escaped}{tail}"}
        entry: dict[str, Any] = {}
        if mode == "regex":
            text = python_regex(text, line)
        if subject == "query_param":
            entry["query_param"] = name
            entry["pattern"] = text
        else:
            entry[subject] = text
        if mode != "regex":
            entry["mode"] = mode
        default_icase = subject in ("header", "host")
        if icase != default_icase:
            entry["case_sensitive"] = not icase
        return entry

    def _acl(self, line: Line) -> list[str]:
        if not line.args:
            return self._acl_block(line)
        name = _one_string(line)
        if name not in self.acls:
            raise line.error(f'no ACL {name!r} is defined above; define it with ACL "{name}"')
        return list(self.acls[name])

    def _acl_block(self, opener: Line) -> list[str]:
        networks = []
        while (line := self._inside(opener)) is not None:
            if line.args or not line.name:
                raise line.error("an ACL lists one quoted address or CIDR range per line")
            try:
                ipaddress.ip_network(line.name, strict=False)
            except ValueError as exc:
                raise line.error("is not an IP address or CIDR range") from exc
            networks.append(line.name)
        if not networks:
            raise opener.error("an empty ACL matches nobody; list addresses or remove it")
        return networks

    # -- shared ---------------------------------------------------------------------
    def _header_option(self, line: Line, ssl_headers: bool) -> bool:
        if not line.args:
            raise line.error("takes forwarded, ssl, no-forwarded, no-ssl, none or all")
        for token in line.args:
            option = token.text.lower()
            if option in ("ssl", "all"):
                ssl_headers = True
            elif option in ("no-ssl", "none"):
                ssl_headers = False
            elif option not in ("forwarded", "no-forwarded"):
                raise line.error(f"{token.text!r}: takes forwarded, ssl, no-*, none or all")
            if option in ("no-forwarded", "none"):
                self.note(line, "X-Forwarded-For, -Proto, -Port and -Host are always set")
        return ssl_headers

    def _access_log(self, line: Line) -> str:
        level = _one(line).lower()
        if level in ("0", "null"):
            return "off"
        if level not in ("4", "combined"):
            self.note(line, "the access log is written in the combined format")
        return "combined"


_CIPHERS_NOTE = (
    "the cipher list is the Mozilla profile's (TLS 1.2: ECDHE with AES-GCM or ChaCha20; "
    "TLS 1.3), not this one"
)


def _sets_forwarded(line: Line) -> bool:
    text = line.args[0].text if len(line.args) == 1 else ""
    return text.partition(":")[0].strip().lower() in FORWARDED_NAMES


def _drops_forwarded(line: Line) -> bool:
    text = line.args[-1].text if line.args else ""
    name = text.strip("^$ ").partition(":")[0].lower()
    return name in FORWARDED_NAMES


def _named_header(line: Line, name: str, text: str, mode: str, icase: bool) -> dict[str, Any]:
    """Pound's ``Header "Name" "pattern"`` (and 1.x ``HeadRequire Name "pattern"``): the
    pattern applies to the value of field ``Name``."""
    head = rf"^{re.escape(name)}:\s*"
    if mode == "regex":
        body = "(?:" + python_regex(text.removeprefix("^"), line) + ")"
    else:
        escaped = re.escape(text)
        body = {
            "exact": rf"{escaped}\s*$",
            "prefix": escaped,
            "suffix": rf".*{escaped}\s*$",
            "contains": rf".*{escaped}",
        }[mode]
    entry: dict[str, Any] = {"header": head + body}
    if not icase:
        entry["case_sensitive"] = True
    return entry


def _pattern_file(line: Line, name: str) -> list[str]:
    path = line.path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise line.error(f"cannot read the pattern file {path}: {exc}") from exc
    patterns = [p.strip() for p in text.splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    if not patterns:
        raise line.error(f"the pattern file {path} holds no pattern")
    return patterns


def _location_template(url: str, line: Line) -> str:
    """Pound's redirect URL as a location template (``replies``): ``$N`` and ``$N(M)``
    become ``{N}`` and ``{N.M}``, ``%[accessor]`` the placeholder of the same part; a URL
    without them keeps Pound's old rule: no path appends the request's, a path of
    ``/`` alone is dropped."""
    if re.search(r"\$\{?[0-9]|%\[", url) is None:
        parts = urlsplit(url)
        bare = not parts.query and not parts.fragment
        if parts.path == "/" and bare:
            url = url[:-1]
        literal = url.replace("{", "{{").replace("}", "}}")
        template = literal + "{url}" if parts.path == "" and bare else literal
    else:
        template = _expansions(url, line)
    try:
        LocationTemplate.parse(template)
    except TemplateError as exc:
        raise line.error(f"the URL cannot be used: {exc}") from exc
    return template


_ACCESSORS = {"url": "url", "path": "path", "query": "query", "host": "host", "port": "port"}
_EXPANSION = re.compile(
    r"\$\{(?P<braced>[0-9]+)\}|\$(?P<group>[0-9]+)(?:\((?P<back>[0-9]+)\))?|\$\$|\$%"
    r"|%\[(?P<accessor>[^\]]*)\]|[{}]"
)


def _expansions(url: str, line: Line) -> str:
    def replace(found: re.Match[str]) -> str:
        token = found.group(0)
        if token in ("{", "}"):
            return token * 2
        if token in ("$$", "$%"):
            return token[1]
        if found.group("braced") is not None:
            return "{" + str(int(found.group("braced"))) + "}"
        if found.group("group") is not None:
            group = int(found.group("group"))
            back = found.group("back")
            return f"{{{group}.{int(back)}}}" if back is not None else f"{{{group}}}"
        words = found.group("accessor").split()
        if len(words) == 1 and words[0] in _ACCESSORS:
            return "{" + _ACCESSORS[words[0]] + "}"
        if len(words) == 2 and words[0] in ("header", "param"):
            return "{" + f"{words[0]} {words[1]}" + "}"
        raise line.error(f"%[{found.group('accessor')}] is not a request accessor the proxy knows")

    return _EXPANSION.sub(replace, url)


def _escape_dollars(value: Any) -> Any:
    """Every string as the configuration reads it back: ``$`` doubled, since strings are
    interpolated from the environment (``${NAME}``) and Pound has no such thing."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        value[:] = [_escape_dollars(v) for v in value]
    elif isinstance(value, dict):
        for key, item in value.items():
            value[key] = _escape_dollars(item)
    return value


def _one(line: Line) -> str:
    if len(line.args) != 1:
        raise line.error("takes one value")
    return line.args[0].text


def _one_string(line: Line) -> str:
    if len(line.args) != 1:
        raise line.error('takes one quoted value: "..."')
    return line.args[0].text


def _int(text: str, line: Line, low: int, high: int | None = None) -> int:
    if not text.isdigit() or not text.isascii():
        raise line.error(f"{text!r} is not a whole number")
    value = int(text)
    if value < low or (high is not None and value > high):
        limit = f"{low}-{high}" if high is not None else f">= {low}"
        raise line.error(f"{value} is out of range ({limit})")
    return value


def _number(line: Line, low: int, high: int | None = None) -> int:
    return _int(_one(line), line, low, high)


def _boolean(line: Line) -> bool:
    value = _one(line).lower()
    if value in ("1", "yes", "true", "on"):
        return True
    if value in ("0", "no", "false", "off"):
        return False
    raise line.error(f"{value!r} is not a boolean (yes, no, true, false, on, off, 1, 0)")


def _priority(text: str, line: Line) -> int:
    return _int(text.strip(), line, 1, 9)


def _balancer(line: Line) -> str:
    policy = _one(line).lower()
    if policy not in ("random", "iwrr"):
        raise line.error("takes random or iwrr")
    return policy


def _port(text: str, line: Line) -> int:
    text = text.strip()
    if not text.isdigit():
        raise line.error(f"{text!r}: write the port as a number (service names are not looked up)")
    return _int(text, line, 1, 65535)


def _listen_address(text: str, line: Line) -> str:
    text = text.strip()
    if text in ("*", ""):
        return "0.0.0.0"  # noqa: S104 - Pound's "any address"
    if text.lower() == "localhost":
        return "127.0.0.1"
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as exc:
        raise line.error(
            f"{text!r}: write the IP address to listen on (a host name is not looked up)"
        ) from exc


def _backend_host(text: str, line: Line) -> str:
    text = text.strip()
    if text.startswith("/"):
        raise line.error("refused: UNIX-socket backends are not supported; use address and port")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if not re.fullmatch(
        r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*", text
    ):
        raise line.error(f"{text!r} is neither an IP address nor a host name")
    return text.lower()


def _backend_url(backend: _Backend) -> str:
    host = backend.host or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if backend.https else 'http'}://{host}:{backend.port}"


GLOBAL: dict[str, Handler] = {
    "listenhttp": _Translator.g_listen,
    "listenhttps": _Translator.g_listen,
    "service": _Translator.g_service,
    "acl": _Translator.g_acl,
    "alive": _Translator.g_alive,
    "client": _Translator.g_timeout,
    "timeout": _Translator.g_timeout,
    "server": _Translator.g_timeout,
    "connto": _Translator.g_timeout,
    "wstimeout": _Translator.g_timeout,
    "grace": _Translator.g_grace,
    "balancer": _Translator.g_balancer,
    "ignorecase": _Translator.g_ignore_case,
    "headeroption": _Translator.g_header_option,
    "loglevel": _Translator.g_log_level,
    "extendedhttp": _Translator.g_old_methods,
    "webdav": _Translator.g_old_methods,
    "urlgroup": _Translator.g_url_group,
}
ListenerHandler = Callable[[_Translator, Line, _Listener], None]
LISTENER: dict[str, ListenerHandler] = {
    "address": _Translator.l_address,
    "port": _Translator.l_port,
    "xhttp": _Translator.l_xhttp,
    "client": _Translator.l_client,
    "maxrequest": _Translator.l_max_request,
    "maxuri": _Translator.l_max_uri,
    "rewritelocation": _Translator.l_rewrite_location,
    "rewritedestination": _Translator.l_rewrite_destination,
    "loglevel": _Translator.l_log_level,
    "headeroption": _Translator.l_header_option,
    "service": _Translator.l_service,
}
HTTPS_LISTENER: dict[str, ListenerHandler] = {
    "cert": _Translator.l_cert,
    "clientcert": _Translator.l_client_cert,
    "verifylist": _Translator.l_verify_list,
    "disable": _Translator.l_disable,
    "ciphers": _Translator.l_ciphers,
    "sslallowclientrenegotiation": _Translator.l_renegotiation,
}
ServiceHandler = Callable[[_Translator, Line, _Service], None]
SERVICE: dict[str, ServiceHandler] = {
    "backend": _Translator.s_backend,
    "emergency": _Translator.s_emergency,
    "redirect": _Translator.s_redirect,
    "error": _Translator.s_error,
    "session": _Translator.s_session,
    "balancer": _Translator.s_balancer,
    "ignorecase": _Translator.s_ignore_case,
    "disabled": _Translator.s_disabled,
}
CONDITIONS = frozenset(
    (
        "url",
        "path",
        "query",
        "queryparam",
        "header",
        "headrequire",
        "headdeny",
        "host",
        "method",
        "acl",
        "basicauth",
        "not",
        "match",
        "stringmatch",
    )
)

"""Pound files read and translated: every supported directive (with what it becomes),
every one translated with a caveat, every one refused (file, line, directive and what
to do instead), the lexical rules, and ``import-pound``'s TOML reading back the same.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from tlsproxy.cli import main
from tlsproxy.config import ConfigError, load_config, looks_like_pound, parse_config
from tlsproxy.fields import Fields
from tlsproxy.pound import (
    NOTED,
    REFUSED,
    PoundError,
    Translation,
    python_regex,
    translate_pound,
)
from tlsproxy.pound_lexer import Line
from tlsproxy.replies import LocationTemplate
from tlsproxy.request import RequestHead
from tlsproxy.toml_writer import write_toml

SOURCE = "/etc/pound/pound.cfg"


def pound(
    top: str = "",
    listener: str = "",
    service: str = "",
    backend: str = "",
    https: bool = False,
    with_backend: bool = True,
) -> str:
    """A small Pound 4 file with the given lines in each context (one listener, one
    service with one backend)."""
    cert = '    Cert "/etc/pound/server.pem"\n' if https else ""
    backend_block = (
        f"    Backend\n        Address 127.0.0.1\n        Port 9000\n{backend}\n    End\n"
        if with_backend
        else ""
    )
    return (
        f"{top}\nListenHTTP{'S' if https else ''}\n    Address 127.0.0.1\n    Port 8080\n"
        f"{cert}{listener}\nEnd\nService\n{service}\n{backend_block}End\n"
    )


def reply(line: str) -> str:
    """A second service answered by the proxy itself."""
    return pound() + f"Service\n    {line}\nEnd\n"


def marked_line(text: str) -> int:
    """The number of the line marked with ``#!`` (0: none)."""
    for number, line in enumerate(text.splitlines(), 1):
        if "#!" in line:
            return number
    return 0


def translated(text: str) -> Translation:
    return translate_pound(SOURCE, text)


def dig(document: Any, path: str) -> Any:
    for part in path.split("."):
        document = document[int(part)] if part.isdigit() else document[part]
    return document


# (Pound file, where in the document, what it becomes): one entry per supported form.
SUPPORTED = [
    # global directives
    (pound("Alive 45"), "routes.0.retry_interval", 45),
    (pound("Client 12"), "limits.header_timeout", 12),
    (pound("Client 12"), "limits.idle_timeout", 12),
    (pound("TimeOut 20"), "limits.backend_read_timeout", 20),
    (pound("TimeOut 20"), "limits.backend_connect_timeout", 20),  # Pound's ConnTO default
    (pound("TimeOut 20\nConnTO 3"), "limits.backend_connect_timeout", 3),
    (pound("WSTimeOut 900"), "limits.tunnel_idle_timeout", 900),
    (pound("Server 25"), "limits.backend_read_timeout", 25),  # Pound 1.x
    (pound("Grace 5"), "server.shutdown_grace", 5),
    (pound("LogLevel 0"), "server.access_log", "off"),
    (pound('LogLevel "combined"'), "server.access_log", "combined"),
    (pound(), "server.no_route_status", 503),
    (pound("Balancer iwrr"), "routes.0.balance", "round_robin"),
    (pound("IgnoreCase 1", service='    URL "^/a"'), "routes.0.match.0.case_sensitive", False),
    (pound("HeaderOption no-ssl", https=True), "listeners.0", {"ssl_headers": None}),
    (
        pound('ACL "lan"\n "10.0.0.0/8"\nEnd', service='    ACL "lan"'),
        "routes.0.match.0",
        {"client": ["10.0.0.0/8"]},
    ),
    # listeners
    (pound(), "listeners.0.address", "127.0.0.1"),
    (pound(), "listeners.0.port", 8080),
    (pound(), "listeners.0.kind", "http"),
    (pound(), "listeners.0.methods", ["GET", "HEAD", "POST"]),
    (
        pound(listener="    xHTTP 1"),
        "listeners.0.methods",
        ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"],
    ),
    (pound(listener="    xHTTP 2"), "listeners.0.methods", lambda m: "PROPFIND" in m),
    (pound(listener="    xHTTP 3"), "listeners.0.methods", lambda m: "SUBSCRIBE" in m),
    (pound(listener="    Client 7"), "limits.body_timeout", 7),
    (pound(listener="    MaxRequest 4096"), "limits.max_body_bytes", 4096),
    (pound(listener="    MaxURI 1024"), "limits.max_target_bytes", 1024),
    (pound(listener="    RewriteLocation 2"), "listeners.0.kind", "http"),
    (pound(listener="    RewriteDestination 0"), "listeners.0.kind", "http"),
    (pound(listener="    LogLevel 4"), "listeners.0.kind", "http"),
    (
        pound(listener='    Service\n        URL "^/own"\n        Error 404\n    End'),
        "routes.0.listeners",
        ["listener0"],
    ),
    (
        pound(https=True),
        "listeners.0.certificates",
        [{"cert": "/etc/pound/server.pem", "key": "/etc/pound/server.pem"}],
    ),
    (pound(https=True), "listeners.0.ssl_headers", True),
    (pound(https=True), "tls.hsts_max_age", 31536000),
    (
        pound(listener='    Cert "/etc/pound/other.pem"', https=True),
        "listeners.0.certificates.1.cert",
        "/etc/pound/other.pem",
    ),
    (
        pound(listener='    ClientCert 2 9\n    VerifyList "ca.pem"', https=True),
        "listeners.0",
        {"client_ca": "/etc/pound/ca.pem", "client_cert": "required"},
    ),
    (
        pound(listener='    ClientCert 1 9\n    VerifyList "/ca.pem"', https=True),
        "listeners.0.client_cert",
        "optional",
    ),
    (pound(listener="    Disable TLSv1_2", https=True), "tls.profile", "modern"),
    (pound(listener="    Disable TLSv1", https=True), "tls", {"profile": None}),
    (pound(listener='    Ciphers "HIGH"', https=True), "listeners.0.kind", "https"),
    (pound(listener="    SSLAllowClientRenegotiation 0", https=True), "listeners.0.kind", "https"),
    (
        pound('ListenHTTP "front"\nAddress ::1\nPort 80\nEnd'),
        "listeners.0",
        {"name": "front", "address": "::1"},
    ),
    (pound("ListenHTTP\nAddress localhost\nPort 80\nEnd"), "listeners.0.address", "127.0.0.1"),
    # service conditions
    (pound(service='    URL "^/api/(v[0-9]+)"'), "routes.0.match.0", {"url": "^/api/(v[0-9]+)"}),
    (
        pound(service='    URL -icase -beg "/API"'),
        "routes.0.match.0",
        {"url": "/API", "mode": "prefix", "case_sensitive": False},
    ),
    (pound(service='    Path -end ".php"'), "routes.0.match.0", {"path": ".php", "mode": "suffix"}),
    (
        pound(service='    Query -contain "q="'),
        "routes.0.match.0",
        {"query": "q=", "mode": "contains"},
    ),
    (
        pound(service='    QueryParam "lang" -exact "en"'),
        "routes.0.match.0",
        {"query_param": "lang", "pattern": "en", "mode": "exact"},
    ),
    (
        pound(service='    Header "^X-Debug:[[:space:]]*1$"'),
        "routes.0.match.0.header",
        "^X-Debug:[ \\t\\n\\r\\f\\v]*1$$",
    ),
    (
        pound(service='    Header "X-Debug" "^1$"'),
        "routes.0.match.0.header",
        "^X\\-Debug:\\s*(?:1$$)",
    ),
    (
        pound(service='    HeadRequire "Host:.*example"'),
        "routes.0.match.0.header",
        "Host:.*example",
    ),
    (
        pound(service='    HeadDeny "User-Agent:.*bot"'),
        "routes.0.match.0",
        {"header": "User-Agent:.*bot", "negate": True},
    ),
    (
        pound(service='    Host "www.example.org"'),
        "routes.0.match.0",
        {"host": "www.example.org", "mode": "exact"},
    ),
    (
        pound(service='    Host "www.example.org:8080"'),
        "routes.0.match.0.header",
        "^Host:\\s*www\\.example\\.org:8080\\s*$$",
    ),
    (
        pound(service='    Host -re "^(www\\\\.)?example\\\\.org$"'),
        "routes.0.match.0.host",
        "^(www\\.)?example\\.org$$",
    ),
    (pound(service='    Method "PUT"'), "routes.0.match.0", {"method": "PUT", "mode": "exact"}),
    (
        pound(service='    ACL\n        "192.0.2.0/24"\n    End'),
        "routes.0.match.0",
        {"client": ["192.0.2.0/24"]},
    ),
    (
        pound(service='    Not URL "^/static/"'),
        "routes.0.match.0",
        {"url": "^/static/", "negate": True},
    ),
    (pound(service='    Not Not URL "^/s"'), "routes.0.match.0", {"url": "^/s"}),
    (
        pound(
            service='    Match OR\n        Path "^/a"\n        Not Match AND\n'
            '            Path "^/b"\n        End\n    End'
        ),
        "routes.0.match.0",
        {"any": [{"path": "^/a"}, {"all": [{"path": "^/b"}], "negate": True}]},
    ),
    # (BasicAuth needs a real htpasswd file: test_proxy_pound_serving covers it)
    (pound(service="    Balancer iwrr"), "routes.0.balance", "round_robin"),
    (pound(service="    Disabled 0"), "routes.0.backends.0.url", "http://127.0.0.1:9000"),
    # backends, emergency, sessions
    (pound(backend="        HTTPS"), "routes.0.backends.0.url", "https://127.0.0.1:9000"),
    (pound(backend="        Priority 7"), "routes.0.backends.0", {"weight": None}),
    (pound(backend="        TimeOut 30"), "limits.backend_read_timeout", 30),
    (pound(backend="        ConnTO 2"), "limits.backend_connect_timeout", 2),
    (pound(backend="        WSTimeOut 60"), "limits.tunnel_idle_timeout", 60),
    (
        pound(
            service="    Backend\n        Address backend.internal\n        Port 81\n"
            "        Priority 2\n    End"
        ),
        "routes.0.backends",
        [
            {"url": "http://backend.internal:81", "weight": 2},
            {"url": "http://127.0.0.1:9000", "weight": 5},
        ],
    ),
    (
        pound(
            service="    Backend\n        Address ::1\n        Port 81\n        Disabled 1\n    End"
        ),
        "routes.0.backends",
        [{"url": "http://127.0.0.1:9000"}],
    ),
    (
        pound(
            service="    Emergency\n        Address 10.0.0.9\n        Port 80\n        HTTPS\n"
            "    End"
        ),
        "routes.0.backends.1",
        {"url": "https://10.0.0.9:80", "priority": 2},
    ),
    (
        pound(
            service='    Session\n        Type COOKIE\n        ID "sid"\n        TTL 60\n    End'
        ),
        "routes.0.session",
        {"type": "cookie", "id": "sid", "ttl": 60},
    ),
    (
        pound(service="    Session\n        Type IP\n        TTL 300\n    End"),
        "routes.0.session",
        {"type": "ip", "ttl": 300},
    ),
    # answers of the proxy itself
    (
        reply('Redirect "https://example.org"'),
        "routes.1.redirect",
        {"location": "https://example.org{url}", "status": 302},
    ),
    (
        reply('Redirect 307 "https://example.org/x"'),
        "routes.1.redirect",
        {"location": "https://example.org/x", "status": 307},
    ),
    (reply("Error 451"), "routes.1.error", {"status": 451}),
    # Pound 1.x
    (
        'ListenHTTP *,80\nUrlGroup "^/shop"\nHeadRequire Host ".*shop.example"\n'
        'HeadDeny User-Agent "bot"\nBackEnd 10.0.0.2,8080,3\nBackEnd 10.0.0.3,8080,1\nEndGroup\n',
        "routes.0",
        {
            "match": [
                {"url": "^/shop", "case_sensitive": False},
                {"header": "^Host:\\s*(?:.*shop.example)"},
                {"header": "^User\\-Agent:\\s*(?:bot)", "negate": True},
            ],
            "backends": [
                {"url": "http://10.0.0.2:8080", "weight": 3},
                {"url": "http://10.0.0.3:8080", "weight": 1},
            ],
        },
    ),
    (
        'ListenHTTPS 0.0.0.0,443 /etc/pound/c.pem\nUrlGroup ".*"\nBackEnd a,1,1\nEndGroup\n',
        "listeners.0",
        {"kind": "https", "address": "0.0.0.0", "port": 443, "ssl_headers": None},
    ),
    (
        'ExtendedHTTP 1\nListenHTTP *,80\nUrlGroup ".*"\nBackEnd a,1,1\nEndGroup\n',
        "listeners.0.methods",
        ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"],
    ),
    (
        'WebDAV 1\nListenHTTP *,80\nUrlGroup ".*"\nBackEnd a,1,1\nEndGroup\n',
        "listeners.0.methods",
        lambda methods: "LOCK" in methods and "SUBSCRIBE" not in methods,
    ),
]


def matches_expected(found: Any, expected: Any) -> bool:
    """Dicts: listed keys equal (None: absent); callables: true; anything else: equal."""
    if callable(expected):
        return bool(expected(found))
    if isinstance(expected, dict) and isinstance(found, dict):
        return all(
            (key not in found) if value is None else found.get(key) == value
            for key, value in expected.items()
        )
    return found == expected


@pytest.mark.parametrize(("text", "path", "expected"), SUPPORTED)
def test_supported_directives_become_the_proxys_settings(
    text: str, path: str, expected: Any
) -> None:
    translation = translated(text)
    assert matches_expected(dig(translation.document, path), expected), translation.document
    # and the proxy's own validation accepts the result
    parse_config(translation.document, SOURCE, {}, where=translation.where)


@pytest.mark.parametrize(("keyword", "reason"), sorted(NOTED.items()))
def test_directives_without_a_counterpart_are_caveats(keyword: str, reason: str) -> None:
    text = (
        pound(f'{keyword.capitalize()} "x"')
        if keyword != "errorfile"
        else pound(listener='    ErrorFile 503 "busy.html"')
    )
    notes = translated(text).notes
    line = 5 if keyword == "errorfile" else 1
    assert any(note.where == f"{SOURCE}, line {line}" and reason in note.text for note in notes), (
        notes
    )


# (Pound file with the offending line marked "#!", directive, what the message must say)
REFUSALS = [
    *[
        (pound(service=f'    {name.capitalize()} "x"  #!'), name.capitalize(), reason)
        for name, reason in sorted(REFUSED.items())
    ],
    (pound(listener="    ClientCert 3 9  #!", https=True), "ClientCert", "without verifying"),
    (pound(listener="    ClientCert 2 9  #!", https=True), "ClientCert", "VerifyList"),
    (pound(listener="    RewriteDestination 1  #!"), "RewriteDestination", "Destination"),
    (pound(listener="    Disable TLSv1_3  #!", https=True), "Disable", "TLSv1_2"),
    (pound(listener="    Port https  #!"), "Port", "as a number"),
    (pound(listener="    Address www.example.org  #!"), "Address", "IP address"),
    (pound(listener='    Cert "/tmp"  #!', https=True), "Cert", "directory"),
    (pound(backend="        Priority 0  #!"), "Priority", "out of range"),
    (pound(backend='        HTTPS "client.pem"  #!'), "HTTPS", "client certificate"),
    (pound(service='    Backend "shared"  #!\n    End'), "Backend", "named backends"),
    (
        pound(service="    Backend\n        Address /run/app.sock  #!\n    End"),
        "Address",
        "UNIX-socket",
    ),
    (pound(service="    Backend  #!\n        Address ::1\n    End"), "Backend", "a Port"),
    (pound(service='    Match OR\n        BasicAuth "u"  #!\n    End'), "BasicAuth", "plain"),
    (pound(service="    Match OR  #!\n    End"), "Match", "empty"),
    (pound(service="    Match XOR  #!\n    End"), "Match", "AND or OR"),
    (pound(service="    Not  #!"), "Not", "needs a condition"),
    (pound(service="    Not Backend  #!"), "Not", "not a condition"),
    (
        'ListenHTTP\nAddress ::1\nPort 1\nEnd\nService  #!\nRedirect "https://a"\n'
        "Backend\nAddress ::1\nPort 2\nEnd\nEnd\n",
        "Service",
        "split it in two",
    ),
    (reply('Error 404\n    Redirect "https://a.example"  #!'), "Redirect", "one Redirect"),
    (pound(service='    URL "(["  #!'), "URL", "regular expression"),
    (pound(service='    URL "[[:nothing:]]"  #!'), "URL", "POSIX character class"),
    (pound(service='    URL -weird "x"  #!'), "URL", "-re, -exact"),
    (pound(service="    URL -icase  #!"), "URL", "quoted pattern"),
    (pound(service='    QueryParam -re "x"  #!'), "QueryParam", "parameter name"),
    (reply('Redirect "https://%[cookie x]/"  #!'), "Redirect", "accessor"),
    (reply('Redirect "https://a b/"  #!'), "Redirect", "printable ASCII"),
    (reply('Redirect 304 "https://a/"  #!'), "Redirect", "301"),
    (reply("Error 200  #!"), "Error", "out of range"),
    (pound(service="    Session  #!\n        Type IP\n    End"), "Session", "TTL"),
    (pound(service="    Session  #!\n        TTL 1\n    End"), "Session", "Type"),
    (pound(service="    Session\n        Type FORM  #!\n        TTL 1\n    End"), "Type", "IP"),
    (pound(service="    Session\n        Type IP\n        TTL 0  #!\n    End"), "TTL", "range"),
    (pound(service="    Session\n        Port 1  #!\n    End"), "Port", "Type, TTL and ID"),
    (pound(service='    ACL "unknown"  #!'), "ACL", "no ACL"),
    (pound(service='    ACL\n        "10.0.0.0/33"  #!\n    End'), "10.0.0.0/33", "CIDR"),
    (pound(service="    ACL  #!\n    End"), "ACL", "empty"),
    (pound('ACL "a"\n"::1"\nEnd\nACL "a"  #!\n"::1"\nEnd'), "ACL", "twice"),
    (pound("ACL  #!\nEnd"), "ACL", "needs a name"),
    (pound(service="    Nonsense 1  #!"), "Nonsense", "not a directive"),
    (pound("Alive yes  #!"), "Alive", "whole number"),
    (pound("Balancer fastest  #!"), "Balancer", "random or iwrr"),
    (pound("HeaderOption fast  #!"), "HeaderOption", "takes forwarded"),
    (pound("IgnoreCase maybe  #!"), "IgnoreCase", "boolean"),
    (pound(listener="    xHTTP 5  #!"), "xHTTP", "out of range"),
    ('ListenHTTP  #!\nAddress ::1\nPort 1\nService\nURL "x"\nEnd\n', "ListenHTTP", "add End"),
    (
        pound(listener="    MaxRequest 10")
        + "ListenHTTP\nAddress ::1\nPort 81\nMaxRequest 20  #!\nEnd\n",
        "MaxRequest",
        "same value",
    ),
    (
        pound(listener="    Disable TLSv1_2  #!", https=True)
        + 'ListenHTTPS\nAddress ::1\nPort 81\nCert "/c.pem"\nEnd\n',
        "Disable",
        "same Disable",
    ),
    (
        'ListenHTTP 1.2.3.4  #!\nUrlGroup ".*"\nBackEnd a,1,1\nEndGroup\n',
        "ListenHTTP",
        "address,port",
    ),
    (
        'ListenHTTP *,80 x  #!\nUrlGroup ".*"\nBackEnd a,1,1\nEndGroup\n',
        "ListenHTTP",
        "only address,port",
    ),
    (
        'ListenHTTPS *,443  #!\nUrlGroup ".*"\nBackEnd a,1,1\nEndGroup\n',
        "ListenHTTPS",
        "certificate file",
    ),
    ('ListenHTTP *,80\nUrlGroup ".*"\nBackEnd a,1  #!\nEndGroup\n', "BackEnd", "priority"),
    ('ListenHTTP *,80\nUrlGroup ".*"\nSession IP 300  #!\nEndGroup\n', "Session", "Service"),
    ('ListenHTTP *,80\nUrlGroup ".*"  #!\nBackEnd a,1,1\n', "UrlGroup", "add EndGroup"),
    ("ListenHTTP  #!\n    Address ::1\nEnd\n", "ListenHTTP", "Port"),
    ("ListenHTTP  #!\n    Port 80\nEnd\n", "ListenHTTP", "Address"),
    (
        "ListenHTTPS  #!\n    Address ::1\n    Port 1\nEnd\nService\nError 503\nEnd\n",
        "ListenHTTPS",
        "Cert",
    ),
    ('Include "missing.cfg"  #!\n', "Include", "cannot read"),
    ("IncludeDir  #!\n", "IncludeDir", "one directory"),
    ('URL "x"  #!\n', "URL", "global scope"),
    ("Service\nError 404\nEnd\n", "", "no ListenHTTP"),
    ("ListenHTTP\nAddress ::1\nPort 1\nEnd\n", "", "no Service"),
    ('ListenHTTP\nAddress "unclosed  #!\n', "", "not closed"),
]


@pytest.mark.parametrize(("text", "directive", "fragment"), REFUSALS)
def test_what_cannot_be_served_is_refused_with_file_line_and_fix(
    text: str, directive: str, fragment: str
) -> None:
    with pytest.raises(PoundError) as refused:
        translated(text)
    message = str(refused.value)
    line = marked_line(text)
    where = f"{SOURCE}, line {line}:" if line else f"{SOURCE}:"
    if directive:
        where += f" {directive}:"
    assert message.startswith(where), message
    assert fragment in message, message


def test_serve_and_check_refuse_a_pound_file_with_the_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "pound.cfg"
    text = pound(service='    SetHeader "X-Frame-Options: DENY"  #!')
    path.write_text(text)
    line = marked_line(text)
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}, line {line}: SetHeader: refused: request headers are not modified" in err
    with pytest.raises(ConfigError, match=f"line {line}: SetHeader"):
        load_config(path)


def test_validation_errors_of_the_translation_name_the_pound_line(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("alice:$apr1$abc$def\n")  # Pound accepts MD5; the proxy does not
    path = tmp_path / "pound.cfg"
    text = pound(service=f'    BasicAuth "{users}"  #!')
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    where = f"{path}, line {marked_line(text)}: BasicAuth: (routes[0].basic_auth.htpasswd)"
    assert where in str(refused.value)
    assert "not bcrypt or Argon2" in str(refused.value)


# -- lexical rules, includes, detection --------------------------------------------


def test_strings_comments_and_escapes() -> None:
    text = pound(service='    URL "^/a\\"b\\\\d+\\.e#f"   # a comment "with quotes"')
    assert dig(translated(text).document, "routes.0.match.0.url") == '^/a"b\\d+\\.e#f'


def test_includes_are_read_in_place_relative_to_the_main_file(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "acl.cfg").write_text('  "10.1.0.0/16"\n  "10.2.0.0/16"\n')
    (tmp_path / "conf.d" / "service.cfg").write_text(
        'Service\n    ACL\n        Include "conf.d/acl.cfg"\n    End\n    Error 403\nEnd\n'
    )
    (tmp_path / "bad.cfg").write_text("\n\nFrobnicate 1\n")
    main_file = tmp_path / "pound.cfg"
    main_file.write_text('ListenHTTP\nAddress ::1\nPort 80\nEnd\nInclude "conf.d/service.cfg"\n')
    translation = translate_pound(str(main_file), main_file.read_text())
    assert dig(translation.document, "routes.0.match.0.client") == ["10.1.0.0/16", "10.2.0.0/16"]
    with pytest.raises(PoundError, match=rf"^{tmp_path}/bad.cfg, line 3: Frobnicate:"):
        translate_pound(str(main_file), 'Include "bad.cfg"\n')
    (tmp_path / "listen.d").mkdir()
    for name, port in (("b.cfg", 82), ("a.cfg", 81)):
        (tmp_path / "listen.d" / name).write_text(f"ListenHTTP\nAddress ::1\nPort {port}\nEnd\n")
    both = translate_pound(str(main_file), 'Include "listen.d/*.cfg"\nService\nError 404\nEnd\n')
    assert [lst["port"] for lst in both.document["listeners"]] == [81, 82]  # name order
    (tmp_path / "loop.cfg").write_text('Include "loop.cfg"\n')
    with pytest.raises(PoundError, match="includes itself"):
        translate_pound(str(main_file), 'Include "loop.cfg"\n')


def test_include_dir_changes_where_relative_names_are_found(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    text = 'IncludeDir "certs"\n' + pound(https=True).replace("/etc/pound/server.pem", "server.pem")
    translation = translate_pound(str(tmp_path / "pound.cfg"), text)
    assert dig(translation.document, "listeners.0.certificates.0.cert") == str(
        tmp_path / "certs" / "server.pem"
    )


@pytest.mark.parametrize(
    ("text", "is_pound"),
    [
        ("ListenHTTPS *,443 /etc/pound/mycert.pem\n", True),
        ('# Pound\n\nUser "nobody"\n', True),
        ('[server]\naccess_log = "off"\n', False),
        ("# ours\n[[listeners]]\nport = 1\n", False),
        ('title = "x"\n', False),
        ("", False),
    ],
)
def test_a_pound_file_is_told_apart_by_its_first_directive(text: str, is_pound: bool) -> None:
    assert looks_like_pound(text) is is_pound


@pytest.mark.parametrize(
    ("posix", "python"),
    [
        ("^/a[[:digit:]]+$", "^/a[0-9]+$"),
        ("[[:alpha:][:space:]]", "[a-zA-Z \\t\\n\\r\\f\\v]"),
        ("\\<word\\>", "\\bword\\b"),
        (".*\\.(jpg|gif)", ".*\\.(jpg|gif)"),
    ],
)
def test_posix_regular_expressions_become_pythons(posix: str, python: str) -> None:
    line = Line(SOURCE, 1, "URL", (), Path("/"))
    assert python_regex(posix, line) == python


# -- redirects -----------------------------------------------------------------------


def request_for(target: str, host: str = "www.example.org:8443", **fields: str) -> RequestHead:
    lines = Fields.of([("Host", host), *fields.items()])
    return RequestHead.build("GET", target, "1.1", lines, {"host": [host]}, True, False, "https", 0)


# (Pound's URL, the location template, what a request for /a/b?x=1 gets)
REDIRECTS = [
    ("https://example.org", "https://example.org{url}", "https://example.org/a/b?x=1"),
    ("https://example.org/", "https://example.org", "https://example.org"),
    ("https://example.org/home", "https://example.org/home", "https://example.org/home"),
    (
        "https://%[host]%[port]%[path]",
        "https://{host}{port}{path}",
        "https://www.example.org:8443/a/b",
    ),
    (
        "https://x/%[query]?l=%[param x]&h=%[header X-Lang]",
        "https://x/{query}?l={param x}&h={header X-Lang}",
        "https://x/x=1?l=1&h=de%20ch",
    ),
    ("https://x$0", "https://x{0}", "https://x/a/b"),
    ("https://x/$2/$1", "https://x/{2}/{1}", "https://x/b/a"),
    ("https://$0(1)${1}0", "https://{0.1}{1}0", "https://www.example.orga0"),
    ("https://x/$1$$%", "https://x/{1}$%", "https://x/a$%"),
    ("https://x/{y}", "https://x/{{y}}", "https://x/{y}"),
]


@pytest.mark.parametrize(("url", "template", "location"), REDIRECTS)
def test_redirect_urls_as_pound_expands_them(url: str, template: str, location: str) -> None:
    text = pound(
        service=f'    Host -re ".+"\n    URL "^/([^/]+)/([^/?]+)"\n    Redirect "{url}"',
        with_backend=False,
    )
    translation = translated(text)
    route = parse_config(translation.document, SOURCE, {}, where=translation.where).routes[0]
    assert route.redirect is not None
    assert route.redirect.location.text == template
    request = request_for("/a/b?x=1", **{"X-Lang": "de ch"})
    from tlsproxy.replies import route_reply

    answer = route_reply(route, request, "127.0.0.1")
    assert answer.fields.get("location") == location


@pytest.mark.parametrize(
    ("template", "error"),
    [("https://x/{nope}", "not a placeholder"), ("https://x/{", "lone"), ("https://x/}", "lone")],
)
def test_location_templates_are_checked_at_load(template: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        LocationTemplate.parse(template)


# -- import-pound -------------------------------------------------------------------

ROUND_TRIPS = [
    pound(
        'User "nobody"\nAlive 10',
        service='    Match OR\n        URL "^/a$"\n        Header "X-A" "b\\"c"\n    End',
        backend="        TimeOut 9",
    ),
    pound(listener='    ClientCert 1 3\n    VerifyList "/ca.pem"\n    Disable TLSv1_2', https=True),
    pound(service='    URL "(.*)"\n    Redirect 301 "https://%[host]$1"', with_backend=False),
]


@pytest.mark.parametrize("text", ROUND_TRIPS)
def test_the_toml_reads_back_as_the_same_document(text: str) -> None:
    translation = translated(text)
    written = write_toml(translation.document, translation.notes, ["a header"])
    assert tomllib.loads(written) == translation.document
    for note in translation.notes:  # every caveat is in the file, above its line
        assert f"# {note.message}" in written


def test_import_pound_prints_toml_that_check_accepts(tmp_path: Path, capsys) -> None:
    source = tmp_path / "pound.cfg"
    source.write_text(ROUND_TRIPS[0])
    assert main(["import-pound", str(source)]) == 0
    output = capsys.readouterr().out
    assert output.startswith(f"# Translated from the Pound file {source}")
    assert "line 1: User: not translated" in output
    target = tmp_path / "proxy.toml"
    target.write_text(output)
    assert main(["check", "--config", str(target)]) == 0
    assert load_config(target, environ={}).syntax == "toml"
    assert load_config(source).syntax == "pound"


def test_import_pound_refuses_like_check(tmp_path: Path, capsys) -> None:
    source = tmp_path / "pound.cfg"
    text = pound(service="    Rewrite  #!")
    source.write_text(text)
    assert main(["import-pound", str(source)]) == 2
    assert f"{source}, line {marked_line(text)}: Rewrite: refused" in capsys.readouterr().err


def test_the_syntax_can_be_named(tmp_path: Path, capsys) -> None:
    source = tmp_path / "pound.cfg"
    source.write_text(pound())
    assert main(["check", "--syntax", "pound", "--config", str(source)]) == 0
    assert main(["check", "--syntax", "toml", "--config", str(source)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


# (Pound file with the line marked "#!", what its caveat says)
CAVEATS = [
    (pound(listener="    Disable TLSv1  #!", https=True), "TLS 1.2 is the oldest"),
    (pound(listener='    Ciphers "HIGH"  #!', https=True), "Mozilla profile"),
    (pound(listener="    SSLAllowClientRenegotiation 2  #!", https=True), "stays off"),
    (pound(listener='    ClientCert 1 2  #!\n    VerifyList "/ca.pem"', https=True), "depth"),
    (pound(listener="    xHTTP 2  #!"), "TRACE and CONNECT"),
    (pound(listener="    xHTTP 4  #!"), "RPC"),
    (pound("Client 10", listener="    Client 30  #!"), "longest"),
    (
        pound(listener="    MaxRequest 10  #!") + "ListenHTTP\nAddress ::1\nPort 81\nEnd\n",
        "every listener",
    ),
    (pound(listener="    RewriteLocation 0  #!"), "always rewritten"),
    (pound(listener="    RewriteLocation 1  #!"), "other scheme"),
    (pound("LogLevel 3  #!"), "combined format"),
    (pound("LogLevel 0", listener="    LogLevel 4  #!"), "one setting"),
    (pound("HeaderOption no-forwarded  #!"), "always set"),
    (pound(listener='    HeadRemove "X-Forwarded-Proto"  #!'), "replaces the X-Forwarded"),
    (pound(listener='    AddHeader "X-Forwarded-Proto: https"  #!'), "sets X-Forwarded-For"),
    (pound(listener='    Err503 "busy.html"  #!'), "its own short page"),
    (pound(service='    BasicAuth "users"  #!'), "401"),
    (pound(service=f'    URL -exact -filewatch "{__file__}"  #!'), "not watched"),
    (pound(backend="        HTTPS  #!"), "verified"),
    (pound(backend="        TimeOut 99  #!"), "backend_read_timeout = 99"),
    (pound(backend="        Disabled 1  #!") + "Service\nError 404\nEnd\n", "left out"),
    (pound(backend='        Ciphers "HIGH"  #!'), "default suites"),
    (
        "ListenHTTP\nAddress ::1\nPort 1\nEnd\nService  #!\nDisabled 1\nError 404\nEnd\n"
        "Service\nError 404\nEnd\n",
        "left out",
    ),
    ("ListenHTTP\nAddress ::1\nPort 1\nEnd\nService  #!\nEnd\n", "503, as in Pound"),
    (pound(https=True).replace("ListenHTTPS", "ListenHTTPS  #!"), "Strict-Transport-Security"),
]


@pytest.mark.parametrize(("text", "fragment"), CAVEATS)
def test_caveats_name_the_line_and_say_what_differs(text: str, fragment: str) -> None:
    notes = translated(text).notes
    line = marked_line(text)
    assert any(
        note.where == f"{SOURCE}, line {line}" and fragment in note.text for note in notes
    ), [note.message for note in notes]


def test_a_disabled_service_is_left_out() -> None:
    translation = translated(pound(service="    Disabled 1") + "Service\n    Error 404\nEnd\n")
    assert [route.get("error") for route in translation.document["routes"]] == [{"status": 404}]

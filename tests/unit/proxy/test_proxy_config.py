"""Configuration: the shipped default, interpolation, and errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from blog.sessions import COOKIE_NAME as SESSION_COOKIE
from tlsproxy.cli import main
from tlsproxy.config import ConfigError, load_config
from tlsproxy.interpolate import InterpolationError, interpolate

DEFAULT = Path(__file__).parents[3] / "services" / "proxy" / "proxy.toml"

VALID_BASE = """
[[listeners]]
kind = "https"
port = 8443
certificates = [{ cert = "/c.pem", key = "/k.pem" }]
[[routes]]
backends = ["http://blog:4334"]
"""


def test_default_config_is_the_kit_layout() -> None:
    config = load_config(DEFAULT, environ={})
    https, redirect = config.listeners
    assert (https.kind, https.address, https.port) == ("https", "0.0.0.0", 8443)
    local, acme = https.certificates
    assert (acme.cert, acme.key, acme.optional) == (
        Path("/acme/certs/certificate.pem"),
        Path("/acme/certs/certificate.pem"),
        True,
    )
    assert (local.cert, local.key, local.optional) == (
        Path("/certs/server.pem"),
        Path("/certs/server-key.pem"),
        False,
    )
    assert (redirect.kind, redirect.port, redirect.redirect_port) == ("redirect", 8080, 443)
    assert redirect.acme_challenge_dir == Path("/acme/challenges")
    assert [b.url for b in config.routes[0].backends] == ["http://blog:4334"]
    cache = config.routes[0].cache
    assert cache is not None and cache.bypass_cookies == (SESSION_COOKIE,)
    assert cache.max_bytes == 32 * 1024 * 1024 and cache.default_ttl == 0
    assert config.tls.profile == "intermediate" and config.tls.hsts_max_age == 31536000
    assert config.server.shutdown_grace == 8  # inside Docker's 10 s stop timeout
    assert config.server.health_path == "/healthz" and config.server.trusted_proxies == ()


@pytest.mark.parametrize(
    ("environ", "profile"), [({}, "intermediate"), ({"TLS_PROFILE": "modern"}, "modern")]
)
def test_default_config_takes_the_tls_profile_from_environment(environ, profile: str) -> None:
    assert load_config(DEFAULT, environ=environ).tls.profile == profile


def test_default_config_takes_https_port_from_environment() -> None:
    config = load_config(DEFAULT, environ={"HTTPS_PORT": "8443"})
    assert config.listeners[1].redirect_port == 8443


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("${A:-d}", {}, "d"),
        ("${A:-d}", {"A": ""}, "d"),
        ("a${A}b${B:-2}", {"A": "1"}, "a1b2"),
        ("$$HOME", {}, "$HOME"),
        ("no refs", {}, "no refs"),
    ],
)
def test_interpolation(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(text, env) == expected


def test_interpolation_of_unset_variable_fails() -> None:
    with pytest.raises(InterpolationError, match="MISSING"):
        interpolate("${MISSING}", {})


# (what is appended / replaced, expected fragments of the message)
INVALID = [
    ("[tls]\nprofile = 'old'", ["tls.profile", "intermediate, modern", "'old'"]),
    ("[server]\naccess_log = 'xml'", ["server.access_log", "combined, json, off"]),
    ("[server]\ntrusted_proxies = ['10.0.0.0/33']", ["server.trusted_proxies", "CIDR"]),
    ("[limits]\nmax_connections = 0", ["limits.max_connections", ">= 1"]),
    ("[limits]\nheader_timeout = -1", ["limits.header_timeout", "> 0"]),
    ("[limits]\nmax_body_bytes = 'big'", ["limits.max_body_bytes", "integer"]),
    ("[limits]\nunknown_limit = 1", ["limits.unknown_limit", "unknown key", "max_body_bytes"]),
    ("[tls]\nhsts_include_subdomains = 'yes'", ["hsts_include_subdomains", "true or false"]),
    (
        "[[listeners]]\nkind = 'ftp'\nport = 21",
        ["listeners[1].kind", "https, redirect, http"],
    ),
    ("[[listeners]]\nkind = 'http'\nport = 70000", ["listeners[1].port", "1-65535"]),
    ("[[listeners]]\nkind = 'http'", ["listeners[1].port", "required"]),
    (
        "[[listeners]]\nkind = 'http'\nport = 80\naddress = 'localhost'",
        ["listeners[1].address", "IPv4 or IPv6"],
    ),
    ("[[listeners]]\nkind = 'https'\nport = 9443", ["listeners[1].certificates", "required"]),
    (
        "[[listeners]]\nkind = 'http'\nport = 80\nredirect_port = 1",
        ["listeners[1].redirect_port", 'kind = "redirect"'],
    ),
    ("[[listeners]]\nkind = 'http'\nport = 8443", ["listeners[1].port", "already used"]),
    (
        "[[listeners]]\nkind = 'redirect'\nport = 80\nredirect_port = '${NOPE}'",
        ["listeners[1].redirect_port", "NOPE is not set"],
    ),
    ("[[routes]]\nbackends = []", ["routes[1].backends", "at least one backend"]),
    ("[[routes]]\nbackends = ['ftp://x']", ["routes[1].backends", "http://host"]),
    ("[[routes]]\nbackends = ['http://x/path']", ["routes[1].backends", "no path"]),
    ("[[routes]]\nbackends = ['http://x']\npath_prefix = 'a'", ["path_prefix", "'/'"]),
    ("[[routes]]\nbackends = ['http://x']\npath_regex = '('", ["path_regex", "regular"]),
    ("[[routes]]\nbackends = ['http://x']\nhosts = ['a b']", ["routes[1].hosts", "host name"]),
    ("[[routes]]\nbackends = ['http://x']\nmethods = ['G T']", ["routes[1].methods"]),
    ("[[routes]]\nbackends = [1]", ["routes[1].backends", "URL or a table"]),
    (
        "[[routes]]\nbackends = [{ url = 'http://x', weight = 0 }]",
        ["routes[1].backends[0].weight", "1-1000"],
    ),
    (
        "[[routes]]\nbackends = [{ url = 'http://x', priority = 101 }]",
        ["routes[1].backends[0].priority", "1-100"],
    ),
    ("[[routes]]\nbackends = [{ url = 'ftp://x' }]", ["routes[1].backends[0].url", "http://"]),
    ("[[routes]]\nbackends = [{ weight = 2 }]", ["routes[1].backends[0].url", "required"]),
    (
        "[[routes]]\nbackends = [{ url = 'http://x', wieght = 2 }]",
        ["routes[1].backends[0].wieght", "unknown key"],
    ),
    ("[[routes]]\nbackends = ['http://x']\nbalance = 'least'", ["balance", "round_robin"]),
    ("[[routes]]\nbackends = ['http://x']\nretry_interval = 0", ["retry_interval", "> 0"]),
    (
        "[[routes]]\nbackends = ['http://x']\nhealth_check = { path = 'x' }",
        ["routes[1].health_check.path", "'/'"],
    ),
    (
        "[[routes]]\nbackends = ['http://x']\nhealth_check = { fails = 0 }",
        ["routes[1].health_check.fails", "1-100"],
    ),
    ("[tls]\ncertificate_check_interval = 0", ["tls.certificate_check_interval", "> 0"]),
    (
        "[[listeners]]\nkind = 'https'\nport = 9443\n"
        "certificates = [{ cert = 'a', key = 'a', optional = true }]",
        ["listeners[1].certificates", "one certificate without optional = true"],
    ),
    (
        "[[listeners]]\nkind = 'https'\nport = 9443\n"
        "certificates = [{ cert = 'a', key = 'b', optional = 'yes' }]",
        ["listeners[1].certificates[0].optional", "true or false"],
    ),
    (
        "[[listeners]]\nkind = 'http'\nport = 80\nacme_challenge_dir = '/acme'",
        ["listeners[1].acme_challenge_dir", 'kind = "redirect"'],
    ),
    (
        "[[listeners]]\nkind = 'redirect'\nport = 80\nacme_challenge_dir = 'acme'",
        ["listeners[1].acme_challenge_dir", "absolute path"],
    ),
    ("[metrics]\nenabled = 'yes'", ["metrics.enabled", "true or false"]),
    ("[metrics]\nport = 0", ["metrics.port", "1-65535"]),
    ("[metrics]\naddress = 'any'", ["metrics.address", "IPv4 or IPv6"]),
    ("[metrics]\npath = 'metrics'", ["metrics.path", "'/'"]),
    (
        "[[listeners]]\nkind = 'http'\nport = 80\nclient_ca = 'ca.pem'",
        ["listeners[1].client_ca", 'kind = "https"'],
    ),
    (
        "[[listeners]]\nkind = 'https'\nport = 9443\nclient_cert = 'page'\n"
        "certificates = [{ cert = 'a', key = 'b' }]",
        ["listeners[1].client_cert", "client_ca"],
    ),
    (
        "[[listeners]]\nkind = 'https'\nport = 9443\nclient_ca = 'c'\nclient_cert = 'maybe'\n"
        "certificates = [{ cert = 'a', key = 'b' }]",
        ["listeners[1].client_cert", "required, page, optional"],
    ),
    (
        "[[routes]]\nbackends = ['http://x']\nclient_cert_required = 1",
        ["client_cert_required", "true or false"],
    ),
    (
        "[[routes]]\nbackends = ['http://x']\naffinity_cookie = 'a b'",
        ["routes[1].affinity_cookie", "cookie name"],
    ),
    ("this is = not toml", ["not valid TOML"]),
]


@pytest.mark.parametrize(("extra", "fragments"), INVALID, ids=[i[0][:40] for i in INVALID])
def test_invalid_configuration_names_file_and_key(
    extra: str, fragments: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "proxy.toml"
    path.write_text(VALID_BASE + "\n" + extra + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message


# (appended text, line the message must name); VALID_BASE ends on line 8.
LINES = [
    ("[tls]\nprofile = 'old'", 10),
    ("[limits]\nheader_timeout = 1\nmax_connections = 0", 11),
    ("[[listeners]]\nkind = 'http'", 9),  # required key missing: the table's header
    ("[[listeners]]\nkind = 'http'\n\nport = 8443", 12),  # the duplicate port
    ("[[routes]]\nhosts = ['a']\nbackends = ['ftp://x']", 11),
    ("[server]\ntrusted_proxies = ['x']", 10),
    ("[tls]\nprofile = 'modern'\n[[routes]]\nbackends = []", 12),
]


@pytest.mark.parametrize(("extra", "line"), LINES)
def test_errors_name_the_line(extra: str, line: int, tmp_path: Path) -> None:
    path = tmp_path / "proxy.toml"
    path.write_text(VALID_BASE + "\n" + extra + "\n")
    with pytest.raises(ConfigError, match=rf"^{path}, line {line}: "):
        load_config(path, environ={})


def test_missing_listeners_and_routes_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("")
    with pytest.raises(ConfigError, match="listeners: at least one"):
        load_config(path, environ={})


def test_check_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(DEFAULT)]) == 0
    assert "configuration is valid" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(VALID_BASE + "[tls]\nprofile = 'old'\n")
    assert main(["check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "tls.profile" in err
    assert main(["check", "--config", str(tmp_path / "absent.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_config_path_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "env.toml"
    path.write_text(VALID_BASE)
    monkeypatch.setenv("TLSPROXY_CONFIG", str(path))
    assert main(["check"]) == 0
    assert str(path) in capsys.readouterr().out


def test_serve_exits_1_when_the_port_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = tmp_path / "busy.toml"
        path.write_text(
            f'[[listeners]]\nkind = "http"\naddress = "127.0.0.1"\nport = {port}\n'
            '[[routes]]\nbackends = ["http://blog:4334"]\n'
        )
        assert main(["serve", "--config", str(path)]) == 1
    assert "cannot listen" in capsys.readouterr().err


def test_check_lists_certificate_names_or_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from proxy_testkit import issue, make_ca

    cert, key = issue(make_ca(tmp_path), tmp_path, "server", ["blog.example.org"])
    path = tmp_path / "proxy.toml"
    path.write_text(
        f'[[listeners]]\nport = 8443\ncertificates = [{{ cert = "{cert}", key = "{key}" }}]\n'
        '[[routes]]\nbackends = ["http://blog:4334"]\n'
    )
    assert main(["check", "--config", str(path)]) == 0
    assert "blog.example.org" in capsys.readouterr().out
    key.unlink()
    assert main(["check", "--config", str(path)]) == 0  # valid file, certificate to come
    assert "warning" in capsys.readouterr().err

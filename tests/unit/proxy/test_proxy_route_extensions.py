"""The keys a Pound file needed, in the proxy's own TOML: ``match`` conditions, route
``listeners``, ``session``, ``redirect`` and ``error`` routes, listener ``name``,
``methods`` and ``ssl_headers``, https backends, ``no_route_status`` and
``max_target_bytes``; each invalid value is refused with its key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tlsproxy.cli import main
from tlsproxy.config import ConfigError, parse_config

LISTENER = {"kind": "http", "port": 8080}
BACKENDS = ["http://blog:4334"]


def document(route: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "listeners": [dict(LISTENER)],
        "routes": [route if route is not None else {"backends": BACKENDS}],
    }
    result.update(top)
    return result


def nested(depth: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"path": "^/"}
    for _ in range(depth):
        condition = {"all": [condition]}
    return condition


# (document, the key named, what the message says)
INVALID = [
    (
        document({"backends": BACKENDS, "match": [{"url": "a", "path": "b"}]}),
        "match[0].path",
        "exactly one of",
    ),
    (
        document({"backends": BACKENDS, "match": [{"mode": "exact"}]}),
        "match[0].url",
        "exactly one of",
    ),
    (
        document({"backends": BACKENDS, "match": [{"url": "("}]}),
        "match[0].url",
        "not a valid regular expression",
    ),
    (
        document({"backends": BACKENDS, "match": [{"url": "a", "mode": "glob"}]}),
        "match[0].mode",
        "must be one of regex",
    ),
    (
        document({"backends": BACKENDS, "match": [{"client": []}]}),
        "match[0].client",
        "at least one",
    ),
    (
        document({"backends": BACKENDS, "match": [{"client": ["300.1.1.1"]}]}),
        "match[0].client",
        "not an IP address",
    ),
    (
        document({"backends": BACKENDS, "match": [{"query_param": "x"}]}),
        "match[0].pattern",
        "is required",
    ),
    (document({"backends": BACKENDS, "match": [nested(9)]}), "all", "nest at most"),
    (
        document({"backends": BACKENDS, "match": [{"url": "a", "other": 1}]}),
        "match[0].other",
        "unknown key",
    ),
    (
        document({"backends": BACKENDS, "listeners": ["nope"]}),
        "routes[0].listeners",
        "names no listener",
    ),
    (
        document(listeners=[dict(LISTENER, name="a"), dict(LISTENER, port=81, name="a")]),
        "listeners[1].name",
        "already the name",
    ),
    (document(listeners=[dict(LISTENER, name="a b")]), "listeners[0].name", "is not a name"),
    (
        document(listeners=[dict(LISTENER, methods=["G T"])]),
        "listeners[0].methods",
        "not an HTTP method",
    ),
    (
        document(listeners=[dict(LISTENER, ssl_headers=True)]),
        "listeners[0].ssl_headers",
        "only allowed on listeners with kind",
    ),
    (
        document({"backends": BACKENDS, "affinity_cookie": "k", "session": {"type": "ip"}}),
        "routes[0].session",
        "not both",
    ),
    (document({"backends": BACKENDS, "session": {"type": "cookie"}}), "session.id", "is required"),
    (
        document({"backends": BACKENDS, "session": {"type": "ip", "id": "x"}}),
        "session.id",
        "only for type",
    ),
    (document({"backends": BACKENDS, "session": {"type": "ip", "ttl": 0}}), "session.ttl", "> 0"),
    (
        document({"backends": BACKENDS, "redirect": {"location": "https://x/"}}),
        "routes[0].redirect",
        "has no backends",
    ),
    (
        document({"redirect": {"location": "https://x/"}, "error": {"status": 404}}),
        "routes[0].error",
        "not both",
    ),
    (
        document({"redirect": {"location": "https://x/", "status": 200}}),
        "redirect.status",
        "must be one of 301",
    ),
    (
        document({"redirect": {"location": "https://x/{nope}"}}),
        "redirect.location",
        "not a placeholder",
    ),
    (document({"error": {"status": 200}}), "error.status", "400-599"),
    (
        document({"error": {"status": 404, "file": "/nonexistent/page.html"}}),
        "error.file",
        "cannot read",
    ),
    (
        document({"error": {"status": 404}, "basic_auth": {"htpasswd": "/x"}}),
        "routes[0].basic_auth",
        "not on a route answered",
    ),
    (
        document({"backends": [{"url": "https://b", "tls_ca": "/nonexistent.pem"}]}),
        "backends[0].tls_ca",
        "cannot use",
    ),
    (
        document({"backends": [{"url": "http://b", "tls_ca": "/x.pem"}]}),
        "backends[0].tls_ca",
        "only for https",
    ),
    (
        document({"backends": [{"url": "https://b", "tls_ca": "/x", "tls_verify": False}]}),
        "backends[0].tls_ca",
        "means nothing",
    ),
    (document({"backends": ["ftp://b"]}), "routes[0].backends", "https://host"),
    (document({}), "routes[0].backends", "needs at least one backend"),
    (document(server={"no_route_status": 500}), "server.no_route_status", "404, 503"),
    (document(limits={"max_target_bytes": 8}), "limits.max_target_bytes", "16-"),
]


@pytest.mark.parametrize(("config", "key", "fragment"), INVALID)
def test_invalid_values_name_the_key_and_what_is_allowed(
    config: dict[str, Any], key: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(config, "proxy.toml", {})
    message = str(refused.value)
    assert key in message, message
    assert fragment in message, message


def test_valid_extensions_become_typed_settings() -> None:
    config = parse_config(
        document(
            {
                "listeners": ["front"],
                "match": [{"any": [{"host": "a.example"}, {"header": "^X-A:"}], "negate": True}],
                "backends": [{"url": "https://b:8443", "tls_verify": False}],
                "session": {"type": "header", "id": "X-Session", "ttl": 30},
            },
            listeners=[dict(LISTENER, name="front", methods=["get", "POST"])],
            server={"no_route_status": 503},
            limits={"max_header_bytes": 4096},
        ),
        "proxy.toml",
        {},
    )
    route = config.routes[0]
    assert route.listeners == ("front",)
    assert route.match[0].negate and route.match[0].subject == "any"
    assert route.match[0].children[0].pattern.flags & 2  # host: case-insensitive
    assert (route.backends[0].scheme, route.backends[0].port) == ("https", 8443)
    assert route.session is not None and route.session.ttl == 30
    assert config.listeners[0].methods == frozenset(("GET", "POST"))
    assert config.server.no_route_status == 503
    assert config.limits.max_target_bytes == 4096  # max_header_bytes unless set
    assert any("tls_verify = false" in warning for warning in config.warnings)


def test_check_says_an_unverified_backend_aloud(tmp_path: Path, capsys) -> None:
    path = tmp_path / "proxy.toml"
    path.write_text(
        '[[listeners]]\nkind = "http"\nport = 8080\n'
        '[[routes]]\nbackends = [{ url = "https://b", tls_verify = false }]\n'
    )
    assert main(["check", "--config", str(path)]) == 0
    said = capsys.readouterr().err
    assert "without verifying its certificate" in said
    # `check` says every warning `serve` says (a Pound file's ListenHTTP, here).
    assert "http 0.0.0.0:8080 serves plain HTTP" in said

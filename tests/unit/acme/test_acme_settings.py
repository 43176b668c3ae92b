"""The acme service's settings: ACME off unless ACME_DOMAINS is set, and every bad value
refused at start with the variable's name and the fix."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from acmekit.settings import LETS_ENCRYPT, LETS_ENCRYPT_STAGING, SettingsError, settings_from


@pytest.mark.parametrize("domains", ["", " ", ",, ,"])
def test_without_acme_domains_acme_is_off(domains: str) -> None:
    assert settings_from({"ACME_DOMAINS": domains, "ACME_DIRECTORY": "not checked"}) is None
    assert settings_from({}) is None


# (environment, what the settings hold)
VALID = [
    ({"ACME_DOMAINS": "Blog.Example.org, www.example.org,blog.example.org"},
     {"domains": ("blog.example.org", "www.example.org"), "directory": LETS_ENCRYPT}),
    ({"ACME_DIRECTORY": "staging"}, {"directory": LETS_ENCRYPT_STAGING}),
    ({"ACME_DIRECTORY": "Production"}, {"directory": LETS_ENCRYPT}),
    ({"ACME_DIRECTORY": "https://acme.example.net:14000/dir"},
     {"directory": "https://acme.example.net:14000/dir"}),
    ({"ACME_EMAIL": "mailto:me@example.org"}, {"contact": "me@example.org"}),
    ({"ACME_EMAIL": ""}, {"contact": None}),
    ({"ACME_RENEW_INTERVAL": "6h", "ACME_RETRY_INTERVAL": "30s"},
     {"renew_interval": timedelta(hours=6), "retry_interval": timedelta(seconds=30)}),
    ({}, {"renew_interval": timedelta(hours=12), "retry_interval": timedelta(minutes=10)}),
]  # fmt: skip


@pytest.mark.parametrize(("env", "expected"), VALID)
def test_valid_settings(env: dict[str, str], expected: dict[str, object]) -> None:
    settings = settings_from({"ACME_DOMAINS": "blog.example.org", **env})
    assert settings is not None
    for name, value in expected.items():
        assert getattr(settings, name) == value


# (environment, fragments of the message)
INVALID = [
    ({"ACME_DOMAINS": "localhost"}, ["localhost is not a public name", "CERT_HOSTS"]),
    ({"ACME_DOMAINS": "blog.home.arpa"}, ["not a public name"]),
    ({"ACME_DOMAINS": "nas.lan"}, ["not a public name"]),
    ({"ACME_DOMAINS": "blog"}, ["not a public name"]),
    ({"ACME_DOMAINS": "203.0.113.5"}, ["IP address", "CERT_HOSTS"]),
    ({"ACME_DOMAINS": "::1"}, ["IP address"]),
    ({"ACME_DOMAINS": "*.example.org"}, ["wildcard", "DNS-01"]),
    ({"ACME_DOMAINS": "bad_name.example.org"}, ["ACME_DOMAINS:", "not a valid host name"]),
    ({"ACME_DOMAINS": ",".join(f"n{i}.example.org" for i in range(101))}, ["at most 100"]),
    ({"ACME_DIRECTORY": "http://acme.example.net/dir"}, ["ACME_DIRECTORY", "https://"]),
    ({"ACME_DIRECTORY": "stagin"}, ["ACME_DIRECTORY", "staging"]),
    ({"ACME_DIRECTORY": "https://user@acme.example.net/dir"}, ["ACME_DIRECTORY"]),
    ({"ACME_EMAIL": "me"}, ["ACME_EMAIL", "one e-mail address"]),
    ({"ACME_EMAIL": "a@example.org,b@example.org"}, ["ACME_EMAIL"]),
    ({"ACME_RETRY_INTERVAL": "10"}, ["ACME_RETRY_INTERVAL", "with its unit"]),
    ({"ACME_RENEW_INTERVAL": "90d"}, ["ACME_RENEW_INTERVAL"]),
    ({"ACME_CA_BUNDLE": "/nonexistent/ca.pem"}, ["ACME_CA_BUNDLE", "cannot read"]),
]


@pytest.mark.parametrize(("env", "fragments"), INVALID)
def test_invalid_settings_are_refused_by_name(env: dict[str, str], fragments: list[str]) -> None:
    with pytest.raises(SettingsError) as refused:
        settings_from({"ACME_DOMAINS": "blog.example.org", **env})
    for fragment in fragments:
        assert fragment in str(refused.value)


def test_the_ca_bundle_must_hold_a_certificate(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate")
    with pytest.raises(SettingsError, match="holds no PEM certificate"):
        settings_from({"ACME_DOMAINS": "blog.example.org", "ACME_CA_BUNDLE": str(bundle)})

"""Host parsing and typing, and the name-constraint subtrees built from the hosts."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from tlsproxy.certs import names
from tlsproxy.certs.errors import CertsError

VALID = [
    ("localhost", "localhost"),
    ("Blog.Home.Arpa.", "blog.home.arpa"),
    ("127.0.0.1", ipaddress.ip_address("127.0.0.1")),
    ("::1", ipaddress.ip_address("::1")),
    ("[fe80::1]", ipaddress.ip_address("fe80::1")),
    ("0:0:0:0:0:0:0:1", ipaddress.ip_address("::1")),
    ("*.blog.example", "*.blog.example"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("a-b.c1", "a-b.c1"),
]


@pytest.mark.parametrize(("entry", "expected"), VALID)
def test_entries_are_typed_as_dns_name_or_ip(entry: str, expected: object) -> None:
    assert names.parse_host(entry) == expected
    assert type(names.parse_host(entry)) is type(expected)


INVALID = [
    ("www.*.example", "wildcard outside the leftmost label"),
    ("w*.blog.example", "partial or misplaced wildcard"),
    ("*.example", "too broad"),
    ("*", "too broad"),
    ("-bad.example", "not a valid host name"),
    ("under_score.example", "not a valid host name"),
    ("a..b", "not a valid host name"),
    ("a" * 64 + ".example", "not a valid host name"),
    ("256.1.1.1", "neither a valid IP address"),
    ("10.0.0.0/8", "neither a valid IP address"),
    ("::g", "neither a valid IP address"),
    ("localhost:8443", "neither a valid IP address"),
    ("bücher.example", "punycode"),
    ("fe80::1%eth0", "zone index"),
    ("a." * 127 + "ab", "longer than 253"),
]


@pytest.mark.parametrize(("entry", "message"), INVALID)
def test_bad_entries_are_refused_with_the_reason(entry: str, message: str) -> None:
    with pytest.raises(CertsError, match=message):
        names.parse_host(entry)


@pytest.mark.parametrize("text", ["", " , ,", ","])
def test_an_empty_list_is_refused(text: str) -> None:
    with pytest.raises(CertsError, match="empty"):
        names.parse_hosts(text)


def test_list_keeps_order_and_drops_duplicates() -> None:
    hosts = names.parse_hosts(" localhost, 127.0.0.1,LOCALHOST,::1,0::1 ")
    assert hosts == ("localhost", ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


@pytest.mark.parametrize(
    ("env", "expected_extra"),
    [
        ({"CERT_HOSTNAME": "Laptop"}, ("laptop",)),
        ({"CERT_HOSTNAME": "my_laptop"}, ()),  # not a DNS name: skipped, not fatal
        ({"CERT_HOSTNAME": "localhost"}, ()),  # already there
    ],
)
def test_default_hosts_add_the_machine_name(env: dict[str, str], expected_extra: tuple) -> None:
    base = ("localhost", ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
    assert names.default_hosts(env) == base + expected_extra


def test_subtrees_cover_names_and_exact_addresses() -> None:
    hosts = names.parse_hosts("blog.example,*.pics.example,203.0.113.3,::1,nas.home.arpa")
    extra = names.parse_permit("example.org,198.51.100.0/24")
    assert names.subtrees_for(hosts, extra, machine="laptop") == [
        *names.PRIVATE_SUBTREES,
        "laptop",
        "blog.example",
        "pics.example",
        ipaddress.ip_network("203.0.113.3/32"),  # ::1 and nas.home.arpa: already inside
        "example.org",
        ipaddress.ip_network("198.51.100.0/24"),
    ]


def test_without_the_private_subtrees_only_the_names_are_listed() -> None:
    """What kits before issue 16 made, and what tests use to make such an older CA."""
    hosts = names.parse_hosts("localhost,127.0.0.1,::1,www.localhost")
    assert names.subtrees_for(hosts, private=False) == [
        "localhost",
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    ]


def test_a_name_type_left_out_is_closed_not_open() -> None:
    """An address-only CA must not be free to sign any DNS name (RFC 5280 default)."""
    constraints = names.name_constraints([ipaddress.ip_network("10.0.0.1/32")])
    assert x509.DNSName("invalid") in constraints.permitted_subtrees
    assert names.not_permitted(["evil.example"], constraints) == ["evil.example"]
    constraints = names.name_constraints(["blog.example"])
    assert names.not_permitted([ipaddress.ip_address("10.0.0.1")], constraints)


PERMITTED = [
    ("blog.example", True),
    ("www.blog.example", True),
    ("*.blog.example", True),
    ("evilblog.example", False),
    ("example", False),
    ("192.168.1.20", True),
    ("203.0.113.77", True),
    ("203.0.114.1", False),
    ("192.169.0.1", False),
    ("172.32.0.1", False),
    ("100.128.0.1", False),
    ("::ffff:192.168.1.20", False),  # an IPv6 name is checked against IPv6 ranges only
    ("fe00::1", False),
    ("2001:db8::1", False),
    ("localhost.example", False),
    ("home.arpa.example", False),
    ("::1", True),
]


@pytest.mark.parametrize(("host", "permitted"), PERMITTED)
def test_not_permitted_follows_subtrees(host: str, permitted: bool) -> None:
    constraints = names.name_constraints(
        names.subtrees_for(names.parse_hosts("blog.example"), names.parse_permit("203.0.113.0/24"))
    )
    refused = names.not_permitted([names.parse_host(host)], constraints)
    assert (refused == []) is permitted


@pytest.mark.parametrize("text", ["10.0.0.0/33", "300.0.0.0/8"])
def test_bad_permit_ranges_are_refused(text: str) -> None:
    with pytest.raises(CertsError, match="address range"):
        names.parse_permit(text)

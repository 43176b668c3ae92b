"""Host names and IP addresses: parsing, typing, validation and name constraints.

Every name that ends up in a certificate or in the CA's name constraints passes
through here, so the rules (what a valid DNS name is, where a wildcard may stand,
which subtree permits which name) live in one place.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping, Sequence

from cryptography import x509

from .errors import CertsError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Host = str | IPAddress  # a str is always a validated, lower-case DNS name
_NETWORKS = (ipaddress.IPv4Network, ipaddress.IPv6Network)

BASE_HOSTS = "localhost,127.0.0.1,::1"
# Name spaces and address ranges that are private by definition, permitted by every new
# CA so that adding a LAN name or address later needs no new CA, while a stolen CA key
# still cannot impersonate any public site: localhost (RFC 6761), home.arpa (RFC 8375),
# internal (ICANN, 2024), lan and local (mDNS, RFC 6762; lan is in common home use);
# loopback, RFC 1918, shared address space (RFC 6598, CGNAT and Tailscale), unique local
# (RFC 4193) and link-local IPv6 addresses.
PRIVATE_SUBTREES: tuple[str | IPNetwork, ...] = (
    "localhost",
    "home.arpa",
    "internal",
    "lan",
    "local",
    *(
        ipaddress.ip_network(text)
        for text in (
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "fc00::/7",
            "fe80::/10",
        )
    ),
)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Permitted subtrees that no real name falls under (RFC 2606 reserves .invalid; 0.0.0.0 is
# never a server address), used to close a name type the user did not configure.
NO_DNS_NAMES = x509.DNSName("invalid")
NO_IP_ADDRESSES = x509.IPAddress(ipaddress.ip_network("0.0.0.0/32"))


def parse_dns_name(text: str) -> str:
    """Return ``text`` as a lower-case DNS name, or raise CertsError saying why not."""
    name = text.strip().lower().rstrip(".")
    if not name.isascii():
        raise CertsError(
            f"{text!r} is not an ASCII host name. Write internationalised names in their "
            "punycode form (xn--...), e.g. as shown by `python -c \"print('bücher.example'"
            ".encode('idna'))\"`."
        )
    if len(name) > 253:
        raise CertsError(f"{text!r} is longer than 253 characters; use a shorter host name.")
    labels = name.split(".")
    for position, label in enumerate(labels):
        if label == "*":
            if position != 0:
                raise CertsError(
                    f"{text!r} has a wildcard outside the leftmost label. A wildcard may only "
                    "be the whole first label, as in *.blog.example."
                )
            if len(labels) < 3:
                raise CertsError(
                    f"{text!r} is too broad: a wildcard needs at least two labels after it "
                    "(*.blog.example, not *.example). List the names you need instead."
                )
            continue
        if "*" in label:
            raise CertsError(
                f"{text!r} has a partial or misplaced wildcard. A wildcard may only be the "
                "whole first label, as in *.blog.example."
            )
        if not _LABEL.match(label):
            raise CertsError(
                f"{text!r} is not a valid host name: each dot-separated label must be 1-63 "
                "letters, digits or hyphens, not starting or ending with a hyphen. Fix the "
                "entry in CERT_HOSTS (or --hosts)."
            )
    return name


def parse_host(text: str) -> Host:
    """Type one entry as an IP address when it parses as one, else as a DNS name."""
    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]  # [::1] as written in URLs
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        pass
    else:
        if getattr(address, "scope_id", None):
            raise CertsError(
                f"{text!r} has a zone index (%...), which certificates cannot hold; write the "
                "address without it."
            )
        return address
    if re.fullmatch(r"[0-9.]+", candidate) or ":" in candidate or "/" in candidate:
        raise CertsError(
            f"{text!r} is neither a valid IP address nor a host name. Write one address "
            "per entry (192.168.1.10 or ::1, no ports or /prefix) in CERT_HOSTS (or --hosts)."
        )
    return parse_dns_name(candidate)


def parse_hosts(text: str | Iterable[str]) -> tuple[Host, ...]:
    """Parse a comma-separated list (or an iterable of entries) into unique hosts, in order."""
    entries = text.split(",") if isinstance(text, str) else list(text)
    hosts: list[Host] = []
    for entry in entries:
        if not entry.strip():
            continue
        host = parse_host(entry)
        if host not in hosts:
            hosts.append(host)
    if not hosts:
        raise CertsError(
            "The host list is empty. Set CERT_HOSTS (or --hosts) to the comma-separated names "
            "and addresses the blog is reached by, e.g. localhost,127.0.0.1,::1,blog.home.arpa."
        )
    return tuple(hosts)


def machine_name(env: Mapping[str, str]) -> str | None:
    """This machine's name as a DNS name, or None (not set, or not a valid DNS name).

    Inside a container gethostname() is the container id, so CERT_HOSTNAME (passed by the
    Makefile from the host) wins when set; set but empty means no machine name.
    """
    machine = env.get("CERT_HOSTNAME")
    if machine is None:
        machine = socket.gethostname()
    if not machine:  # set but empty (compose without a host name)
        return None
    try:
        name = parse_dns_name(machine)
    except CertsError:
        return None  # e.g. "my_laptop": left out rather than fatal
    return name if name and "*" not in name else None


def default_hosts(env: Mapping[str, str]) -> tuple[Host, ...]:
    """localhost and loopback addresses, plus this machine's name (``machine_name``)."""
    hosts = list(parse_hosts(BASE_HOSTS))
    machine = machine_name(env)
    if machine is not None and machine not in hosts:
        hosts.append(machine)
    return tuple(hosts)


def general_name(host: Host) -> x509.GeneralName:
    if isinstance(host, str):
        return x509.DNSName(host)
    return x509.IPAddress(host)


def host_from_general_name(name: x509.GeneralName) -> Host | None:
    if isinstance(name, x509.DNSName):
        return name.value.lower()
    if isinstance(name, x509.IPAddress) and not isinstance(name.value, _NETWORKS):
        return name.value
    return None


def parse_permit(text: str, source: str = "--permit") -> tuple[str | IPNetwork, ...]:
    """Extra name-constraint subtrees: domains (example.org) or address ranges (203.0.113.0/24).

    ``source`` names where the text came from (``--permit`` or ``CERT_PERMIT``) in errors.
    """
    subtrees: list[str | IPNetwork] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        if "/" in entry or ":" in entry or re.fullmatch(r"[0-9.]+", entry):
            try:
                subtrees.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise CertsError(
                    f"{entry!r} in {source} is not a valid address range; write it as "
                    "203.0.113.0/24 or 2001:db8::/48."
                ) from None
        else:
            try:
                name = parse_dns_name(entry)
            except CertsError as error:
                raise CertsError(f"{source}: {error}") from None
            subtrees.append(name.removeprefix("*."))
    return tuple(subtrees)


def _subtree_name(item: str | IPNetwork) -> x509.GeneralName:
    return x509.DNSName(item) if isinstance(item, str) else x509.IPAddress(item)


def _covered(item: str | IPNetwork, subtrees: Sequence[str | IPNetwork]) -> bool:
    """Whether ``item`` lies inside one of ``subtrees`` (so listing it adds nothing)."""
    if isinstance(item, str):
        return any(_within(item, _subtree_name(subtree)) for subtree in subtrees)
    return any(
        not isinstance(subtree, str) and subtree.version == item.version and item.subnet_of(subtree)  # type: ignore[arg-type]
        for subtree in subtrees
    )


def is_private(host: Host) -> bool:
    """Whether ``host`` lies inside the private name spaces and ranges (PRIVATE_SUBTREES):
    a local CA's name, never a publicly trusted one's."""
    item = host.removeprefix("*.") if isinstance(host, str) else ipaddress.ip_network(host)
    return _covered(item, PRIVATE_SUBTREES)


def subtrees_for(
    hosts: Sequence[Host],
    extra: Sequence[str | IPNetwork] = (),
    machine: str | None = None,
    private: bool = True,
) -> list[str | IPNetwork]:
    """The permitted subtrees of a new CA, in this order, each listed once:

    the name spaces and ranges that are private by definition (``PRIVATE_SUBTREES``,
    unless ``private`` is false), this machine's name, the configured hosts and the
    extras (CERT_PERMIT). A DNS name permits itself and its subdomains; an address
    permits only itself (/32 or /128); an entry already inside an earlier subtree is
    left out (``blog.home.arpa`` adds nothing to ``home.arpa``).
    """
    wanted: list[str | IPNetwork] = list(PRIVATE_SUBTREES) if private else []
    if machine is not None:
        wanted.append(machine)
    for host in hosts:
        wanted.append(
            host.removeprefix("*.") if isinstance(host, str) else ipaddress.ip_network(host)
        )
    wanted.extend(extra)
    subtrees: list[str | IPNetwork] = []
    for item in wanted:
        if not _covered(item, subtrees):
            subtrees.append(item)
    return subtrees


def name_constraints(subtrees: Sequence[str | IPNetwork]) -> x509.NameConstraints:
    """Build permitted subtrees, closing each name type the user did not mention.

    RFC 5280 leaves a name type unconstrained when no subtree of that type is listed,
    so a CA for addresses only would still sign for any DNS name. A placeholder subtree
    (the reserved .invalid domain, or the unspecified address) closes that gap.
    """
    dns = [_subtree_name(item) for item in subtrees if isinstance(item, str)]
    ips = [_subtree_name(item) for item in subtrees if not isinstance(item, str)]
    permitted: list[x509.GeneralName] = [
        *(dns or [NO_DNS_NAMES]),
        *(ips or [NO_IP_ADDRESSES]),
    ]
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None)


def general_name_text(name: x509.GeneralName) -> str:
    """A subtree or alternative name as written in messages; placeholders explained."""
    if name == NO_DNS_NAMES:
        return "invalid (no DNS names)"
    if name == NO_IP_ADDRESSES:
        return "0.0.0.0/32 (no IP addresses)"
    return str(name.value)


def _within(host: Host, subtree: x509.GeneralName) -> bool:
    if isinstance(host, str):
        if not isinstance(subtree, x509.DNSName):
            return False
        base = subtree.value.lower().lstrip(".")
        name = host.removeprefix("*.")
        return name == base or name.endswith("." + base)
    if not isinstance(subtree, x509.IPAddress) or not isinstance(subtree.value, _NETWORKS):
        return False
    return subtree.value.version == host.version and host in subtree.value


def not_permitted(hosts: Sequence[Host], constraints: x509.NameConstraints | None) -> list[Host]:
    """The hosts a CA with these name constraints may not sign for (empty when all are fine)."""
    if constraints is None:
        return []
    permitted = list(constraints.permitted_subtrees or [])
    excluded = list(constraints.excluded_subtrees or [])
    refused: list[Host] = []
    for host in hosts:
        kind = x509.DNSName if isinstance(host, str) else x509.IPAddress
        typed = [subtree for subtree in permitted if isinstance(subtree, kind)]
        allowed = not typed or any(_within(host, subtree) for subtree in typed)
        if not allowed or any(_within(host, subtree) for subtree in excluded):
            refused.append(host)
    return refused

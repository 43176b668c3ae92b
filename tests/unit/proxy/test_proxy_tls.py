"""TLS: protocol versions and ciphers per profile, SNI certificate choice, ALPN, HSTS,
the shipped OpenSSL groups file and the message for a missing certificate."""

from __future__ import annotations

import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from proxy_testkit import LocalCA, RunningProxy, base_document, config_from, issue, raw_exchange
from tlsproxy.cli import main
from tlsproxy.server import Proxy
from tlsproxy.tls import CertificateLoadError

OPENSSL_CNF = Path(__file__).parents[3] / "services" / "proxy" / "openssl.cnf"


def client(
    ca: LocalCA, low: ssl.TLSVersion, high: ssl.TLSVersion, ciphers: str = ""
) -> ssl.SSLContext:
    ctx = ca.client_context()
    ctx.minimum_version, ctx.maximum_version = low, high
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


V11, V12, V13 = ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
# (profile, client versions, client TLS 1.2 ciphers, handshake expected to succeed)
HANDSHAKES = [
    ("intermediate", (V13, V13), "", True),
    ("intermediate", (V12, V12), "", True),
    ("intermediate", (V12, V12), "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA", False),
    ("intermediate", (V12, V12), "ECDHE-ECDSA-CHACHA20-POLY1305", True),
    ("intermediate", (V11, V11), "ALL:@SECLEVEL=0", False),
    ("modern", (V13, V13), "", True),
    ("modern", (V12, V12), "", False),
]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
@pytest.mark.parametrize(("profile", "versions", "ciphers", "ok"), HANDSHAKES)
async def test_profiles_accept_only_their_versions_and_ciphers(
    profile: str,
    versions: tuple[ssl.TLSVersion, ssl.TLSVersion],
    ciphers: str,
    ok: bool,
    server_cert: tuple[Path, Path],
    ca: LocalCA,
) -> None:
    document = base_document(*server_cert, "http://127.0.0.1:9", tls={"profile": profile})
    async with RunningProxy(config_from(document)) as proxy:
        ctx = client(ca, *versions, ciphers)
        request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        if ok:
            answer = await raw_exchange(proxy.https_port, request, ctx)
            assert answer.startswith(b"HTTP/1.1 200")
        else:
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                await raw_exchange(proxy.https_port, request, ctx)


@pytest.mark.parametrize(
    "client_order",
    [
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305",
    ],
)
async def test_client_cipher_order_wins(
    client_order: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    import asyncio

    async with RunningProxy(config_from(base_document(*server_cert, "http://x:1"))) as proxy:
        ctx = client(ca, V12, V12, client_order)
        _, writer = await asyncio.open_connection(
            "127.0.0.1", proxy.https_port, ssl=ctx, server_hostname="localhost"
        )
        chosen = writer.get_extra_info("ssl_object").cipher()[0]
        writer.close()
    assert chosen == client_order.split(":")[0]


@pytest.fixture
def two_certificates(ca: LocalCA, tmp_path: Path) -> dict:
    default = issue(ca, tmp_path, "default", ["localhost"])
    other = issue(ca, tmp_path, "other", ["other.example", "*.wild.example"])
    return {
        "kind": "https",
        "address": "127.0.0.1",
        "port": 1,
        "certificates": [
            {"cert": str(default[0]), "key": str(default[1])},
            {"cert": str(other[0]), "key": str(other[1]), "names": ["extra.example"]},
        ],
    }


# (SNI name sent, common name of the certificate expected back)
SNI_CASES = [
    ("localhost", "localhost"),
    ("other.example", "other.example"),
    ("OTHER.example", "other.example"),
    ("a.wild.example", "other.example"),
    ("extra.example", "other.example"),
    ("unknown.example", "localhost"),
    ("a.b.wild.example", "localhost"),  # a wildcard covers one label only
]


@pytest.mark.parametrize(("sni", "expected_cn"), SNI_CASES)
async def test_sni_selects_the_certificate(
    sni: str, expected_cn: str, two_certificates: dict, ca: LocalCA
) -> None:
    import asyncio

    document = base_document(Path("unused"), Path("unused"), "http://127.0.0.1:9")
    document["listeners"] = [two_certificates]
    async with RunningProxy(config_from(document)) as proxy:
        ctx = ca.client_context()
        ctx.check_hostname = False  # we look at which certificate came, not whether it fits
        _, writer = await asyncio.open_connection(
            "127.0.0.1", proxy.https_port, ssl=ctx, server_hostname=sni
        )
        ssl_object = writer.get_extra_info("ssl_object")
        subject = dict(item[0] for item in ssl_object.getpeercert()["subject"])
        assert ssl_object.selected_alpn_protocol() in (None, "http/1.1")
        writer.close()
    assert subject["commonName"] == expected_cn


async def test_alpn_offers_http11(server_cert: tuple[Path, Path], ca: LocalCA) -> None:
    import asyncio

    async with RunningProxy(config_from(base_document(*server_cert, "http://x:1"))) as proxy:
        ctx = ca.client_context()
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        _, writer = await asyncio.open_connection(
            "127.0.0.1", proxy.https_port, ssl=ctx, server_hostname="localhost"
        )
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
        writer.close()


@pytest.mark.parametrize(
    ("tls", "expected"),
    [
        ({}, b"Strict-Transport-Security: max-age=31536000\r\n"),
        ({"hsts_max_age": 600, "hsts_include_subdomains": True},
         b"Strict-Transport-Security: max-age=600; includeSubDomains\r\n"),
        ({"hsts_max_age": 0}, None),
    ],
)  # fmt: skip
async def test_hsts_header(
    tls: dict, expected: bytes | None, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    document = base_document(*server_cert, "http://127.0.0.1:9", tls=tls)
    async with RunningProxy(config_from(document)) as proxy:
        answer = await raw_exchange(
            proxy.https_port,
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            ca.client_context(),
        )
    if expected is None:
        assert b"Strict-Transport-Security" not in answer
    else:
        assert expected in answer


def test_missing_certificate_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = base_document(tmp_path / "server.pem", tmp_path / "server-key.pem", "http://x:1")
    with pytest.raises(CertificateLoadError, match=r"server\.pem does not exist.*make certs"):
        Proxy(config_from(document))
    config_file = tmp_path / "proxy.toml"
    config_file.write_text(
        f"""
[[listeners]]
kind = "https"
port = 8443
certificates = [{{ cert = "{tmp_path}/server.pem", key = "{tmp_path}/server-key.pem" }}]
[[routes]]
backends = ["http://blog:4334"]
"""
    )
    assert main(["serve", "--config", str(config_file)]) == 1
    assert "make certs" in capsys.readouterr().err


def test_unreadable_key_is_a_clear_error(server_cert: tuple[Path, Path], tmp_path: Path) -> None:
    cert, _ = server_cert
    wrong_key = tmp_path / "wrong-key.pem"
    wrong_key.write_text("not a key")
    document = base_document(cert, wrong_key, "http://x:1")
    with pytest.raises(CertificateLoadError, match="Cannot use"):
        Proxy(config_from(document))


GROUP_PROBE = textwrap.dedent(
    """
    import ssl, sys
    from tlsproxy.tls import server_context
    from tlsproxy.config import Certificate
    from pathlib import Path
    server = server_context(Certificate(Path(sys.argv[1]), Path(sys.argv[2])), "intermediate")
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    # TLS 1.3: groups only choose the key exchange (in 1.2 they also limit ECDSA certs).
    client.minimum_version = ssl.TLSVersion.TLSv1_3
    client.set_ecdh_curve(sys.argv[3])
    bios = [ssl.MemoryBIO() for _ in range(4)]
    s = server.wrap_bio(bios[0], bios[1], server_side=True)
    c = client.wrap_bio(bios[2], bios[3], server_hostname="localhost")
    for _ in range(10):
        for side, out_bio, in_bio in ((c, bios[3], bios[0]), (s, bios[1], bios[2])):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                print("refused"); sys.exit(0)
            in_bio.write(out_bio.read())
    print("accepted")
    """
)


@pytest.mark.parametrize(
    ("curve", "with_cnf", "expected"),
    [
        ("secp521r1", True, "refused"),
        ("secp521r1", False, "accepted"),  # shows the file is what refuses it
        ("prime256v1", True, "accepted"),
        ("secp384r1", True, "accepted"),
    ],
)
def test_shipped_openssl_cnf_limits_groups(
    curve: str, with_cnf: bool, expected: str, server_cert: tuple[Path, Path]
) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(OPENSSL_CNF.parent)}
    if with_cnf:
        env["OPENSSL_CONF"] = str(OPENSSL_CNF)
    result = subprocess.run(
        [sys.executable, "-c", GROUP_PROBE, *map(str, server_cert), curve],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == expected, result.stderr

"""The proxy's side of ACME (issue 16): HTTP-01 answers on the port-80 listener, before
the redirect, from files it may only read; and the ACME pair chosen by SNI for its
names only, served once it appears and never needed to start."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from cryptography import x509
from proxy_testkit import LocalCA, RunningProxy, base_document, config_from, issue, raw_exchange
from proxy_testkit import status_of as status
from tlsproxy.acme_challenge import MAX_KEY_AUTHORIZATION, challenge_token, key_authorization
from tlsproxy.config import Config
from tlsproxy.tls import CertificateLoadError, listener_context

TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
THUMBPRINT = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
ANSWER = f"{TOKEN}.{THUMBPRINT}".encode()


# (request target, whether it names a challenge token)
TARGETS = [
    (f"/.well-known/acme-challenge/{TOKEN}", TOKEN),
    ("/.well-known/acme-challenge/" + "a" * 22, "a" * 22),
    ("/.well-known/acme-challenge/" + "a" * 21, None),  # under 128 bits
    ("/.well-known/acme-challenge/" + "a" * 129, None),
    (f"/.well-known/acme-challenge/{TOKEN}?x=1", None),
    (f"/.well-known/acme-challenge/{TOKEN}/", None),
    ("/.well-known/acme-challenge/../../certs/server-key.pem", None),
    ("/.well-known/acme-challenge/%2e%2e%2fserver-key.pem", None),
    (f"/.well-known/acme-challenge/{TOKEN[:30]}%41{TOKEN[33:]}", None),
    ("/.well-known/acme-challenge/", None),
    (f"/.well-known/ACME-challenge/{TOKEN}", None),
    (f"//.well-known/acme-challenge/{TOKEN}", None),
    (f"http://blog.example/.well-known/acme-challenge/{TOKEN}", None),
]


@pytest.mark.parametrize(("target", "token"), TARGETS)
def test_only_a_well_formed_token_names_a_file(target: str, token: str | None) -> None:
    assert challenge_token(target) == token


# (file content the acme service left, the answer served: None carries on to the redirect)
CONTENTS = [
    (ANSWER, ANSWER),
    (ANSWER + b"\n", ANSWER),
    (b"other-token-of-22-chars." + THUMBPRINT.encode(), None),
    (ANSWER[:-1], None),  # thumbprint cut short
    (ANSWER + b"x", None),
    (TOKEN.encode() + b"." + b"-----BEGIN PRIVATE KEY-----", None),
    (b"", None),
    (ANSWER + b" " * MAX_KEY_AUTHORIZATION, None),  # larger than any key authorization
]


@pytest.mark.parametrize(("content", "served"), CONTENTS)
def test_only_a_key_authorization_for_that_token_is_served(
    tmp_path: Path, content: bytes, served: bytes | None
) -> None:
    (tmp_path / TOKEN).write_bytes(content)
    assert key_authorization(tmp_path, f"/.well-known/acme-challenge/{TOKEN}") == served


def test_no_file_no_directory_no_answer(tmp_path: Path) -> None:
    assert key_authorization(tmp_path, f"/.well-known/acme-challenge/{TOKEN}") is None
    assert key_authorization(tmp_path / "absent", f"/.well-known/acme-challenge/{TOKEN}") is None


def test_a_symbolic_link_is_never_followed(tmp_path: Path) -> None:
    """A compromised acme service could point a token at a file only the proxy can read."""
    secret = tmp_path / "secret"
    secret.write_bytes(ANSWER)  # even a well-formed answer: the link itself is refused
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / TOKEN).symlink_to(secret)
    assert key_authorization(answers, f"/.well-known/acme-challenge/{TOKEN}") is None


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_what_is_not_a_regular_file_is_refused_without_blocking(tmp_path: Path, kind: str) -> None:
    path = tmp_path / TOKEN
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would block the event loop without a writer
    else:
        path.mkdir()
    assert key_authorization(tmp_path, f"/.well-known/acme-challenge/{TOKEN}") is None


def get(target: str, method: str = "GET", host: str = "blog.example.org") -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


# (request, status, body or Location expected)
EXCHANGES = [
    (get(f"/.well-known/acme-challenge/{TOKEN}"), 200, ANSWER),
    (get(f"/.well-known/acme-challenge/{TOKEN}", host="[::1]:80"), 200, ANSWER),
    (get(f"/.well-known/acme-challenge/{TOKEN}", "HEAD"), 200, b""),
    (get(f"/.well-known/acme-challenge/{TOKEN}", "POST"), 308, b"Location: https://"),
    (get("/.well-known/acme-challenge/" + "b" * 43), 308, b"Location: https://blog.example"),
    (get("/x"), 308, b"Location: https://blog.example.org/x\r\n"),
]


@pytest.mark.parametrize(("request_bytes", "code", "expected"), EXCHANGES)
async def test_the_redirect_listener_answers_http_01_before_redirecting(
    tmp_path: Path,
    server_cert: tuple[Path, Path],
    request_bytes: bytes,
    code: int,
    expected: bytes,
) -> None:
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / TOKEN).write_bytes(ANSWER + b"\n")
    document = base_document(*server_cert, "http://127.0.0.1:9")
    document["listeners"][1]["acme_challenge_dir"] = str(answers)
    async with RunningProxy(config_from(document)) as proxy:
        raw = await raw_exchange(proxy.http_port, request_bytes)
    assert status(raw) == code
    head, _, body = raw.partition(b"\r\n\r\n")
    if code == 200:
        assert body == expected
        assert b"Content-Type: application/octet-stream" in head
        assert b"Content-Length: 87\r\n" in head
    else:
        assert expected in head


async def test_without_acme_challenge_dir_a_challenge_path_is_redirected(
    tmp_path: Path, server_cert: tuple[Path, Path]
) -> None:
    (tmp_path / TOKEN).write_bytes(ANSWER)
    config = config_from(base_document(*server_cert, "http://127.0.0.1:9"))
    async with RunningProxy(config) as proxy:
        raw = await raw_exchange(proxy.http_port, get(f"/.well-known/acme-challenge/{TOKEN}"))
    assert status(raw) == 308


# -- the ACME pair chosen by SNI -------------------------------------------------------


def combined_pair(ca: LocalCA, folder: Path, names: list[str]) -> Path:
    """The acme service's layout: the chain, then the key, in one file written at once."""
    folder.mkdir(exist_ok=True)
    chain, key = issue(ca, folder, "acme", names)
    combined = folder / "certificate.pem.tmp"
    combined.write_bytes(chain.read_bytes() + key.read_bytes())
    return combined


async def served_common_name(port: int, ca: LocalCA, sni: str | None) -> str:
    ctx = ca.client_context()
    ctx.check_hostname = False  # which certificate came, not whether it fits
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=sni or "")
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        subject = x509.load_der_x509_certificate(der).subject
        return str(subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value)
    finally:
        writer.close()


async def common_name_soon(port: int, ca: LocalCA, sni: str, wanted: str) -> str:
    seen = ""
    for _ in range(100):
        seen = await served_common_name(port, ca, sni)
        if seen == wanted:
            break
        await asyncio.sleep(0.05)
    return seen


def kit_layout(acme: Path, local: tuple[Path, Path], acme_first: bool = False) -> Config:
    """The kit's layout: the local pair first (the default, keeping its names), then
    the optional ACME pair; ``acme_first`` lists it first instead."""
    document = base_document(*local, "http://127.0.0.1:9")
    document["tls"] = {"certificate_check_interval": 0.05}
    document["listeners"][0]["certificates"].insert(
        0 if acme_first else 1, {"cert": str(acme), "key": str(acme), "optional": True}
    )
    return config_from(document)


# (SNI sent, ACME pair listed first, common name served while the ACME pair is absent,
# and once it is there). The ACME pair also claims localhost and blog.example.org.
CHOICES = [
    ("public.example", False, "localhost", "public.example"),
    ("www.public.example", False, "localhost", "public.example"),
    ("blog.example.org", False, "localhost", "localhost"),  # on both: the one listed first
    ("localhost", False, "localhost", "localhost"),
    ("blog.example.org", True, "localhost", "public.example"),
    ("localhost", True, "localhost", "public.example"),
    ("other.example", False, "localhost", "localhost"),
    (None, False, "localhost", "localhost"),  # https://192.168.1.20/ sends no name
    (None, True, "localhost", "localhost"),  # an optional certificate is never the default
]


@pytest.mark.parametrize(("sni", "acme_first", "before", "after"), CHOICES)
async def test_the_acme_pair_is_served_by_sni_once_it_appears(
    tmp_path: Path,
    ca: LocalCA,
    server_cert: tuple[Path, Path],
    sni: str | None,
    acme_first: bool,
    before: str,
    after: str,
) -> None:
    acme = tmp_path / "acme" / "certificate.pem"
    async with RunningProxy(kit_layout(acme, server_cert, acme_first)) as proxy:
        port = proxy.https_port
        assert await served_common_name(port, ca, sni) == before  # it started without it
        names = ["public.example", "www.public.example", "blog.example.org", "localhost"]
        staged = combined_pair(ca, acme.parent, names)
        os.replace(staged, acme)
        await common_name_soon(port, ca, "public.example", "public.example")
        assert await served_common_name(port, ca, sni) == after


async def test_a_broken_acme_pair_keeps_what_is_served(
    tmp_path: Path, ca: LocalCA, server_cert: tuple[Path, Path]
) -> None:
    acme = tmp_path / "acme" / "certificate.pem"
    async with RunningProxy(kit_layout(acme, server_cert)) as proxy:
        os.replace(combined_pair(ca, acme.parent, ["public.example"]), acme)
        port = proxy.https_port
        assert await common_name_soon(port, ca, "public.example", "public.example") == (
            "public.example"
        )
        acme.write_bytes(acme.read_bytes()[:200])  # a truncated file: the reload is refused
        await asyncio.sleep(0.3)
        assert await served_common_name(port, ca, "public.example") == "public.example"
        assert await served_common_name(port, ca, "localhost") == "localhost"


def test_a_required_certificate_still_must_exist(tmp_path: Path) -> None:
    document = base_document(tmp_path / "none.pem", tmp_path / "none-key.pem", "http://x:1")
    config = config_from(document)
    with pytest.raises(CertificateLoadError, match="does not exist"):
        listener_context(config.listeners[0], "intermediate")

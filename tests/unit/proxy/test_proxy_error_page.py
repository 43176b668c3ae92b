"""The proxy's error answers as a page of the site (``[errors]``): for browsers only,
every value escaped, a CSP that allows the page's own style and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from proxy_testkit import (
    LocalCA,
    RunningProxy,
    base_document,
    closed_port_url,
    config_from,
    raw_exchange,
    status_of,
)
from tlsproxy.config import ConfigError

ROOT = Path(__file__).resolve().parents[3]
KIT_PAGE = ROOT / "services/proxy-error-page/error.html"
BROWSER = b"Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n"


def errors_section(page: Path = KIT_PAGE, **extra: Any) -> dict[str, Any]:
    return {
        "page": str(page),
        "site_title": 'Ann\'s <blog> & "notes"',
        "wording": {"502": {"title": "The blog is not answering", "explanation": "Try <later>."}},
        **extra,
    }


@pytest.fixture
async def proxy(server_cert: tuple[Path, Path]):  # type: ignore[no-untyped-def]
    document = base_document(*server_cert, closed_port_url(), errors=errors_section())
    async with RunningProxy(config_from(document)) as running:
        yield running


async def get(proxy: RunningProxy, ca: LocalCA, extra: bytes = b"", path: str = "/") -> bytes:
    request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n".encode()
    return await raw_exchange(proxy.https_port, request + extra + b"\r\n", ca.client_context())


async def test_a_browser_gets_the_sites_page_with_every_value_escaped(
    proxy: RunningProxy, ca: LocalCA
) -> None:
    answer = await get(proxy, ca, BROWSER)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status_of(answer) == 502 and head.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert b"Content-Type: text/html; charset=utf-8" in head
    assert b"Cache-Control: no-store" in head and b"X-Content-Type-Options: nosniff" in head
    assert b"Strict-Transport-Security: max-age=31536000" in head
    assert (
        b"Content-Security-Policy: default-src 'none'; "
        b"style-src 'sha256-9g9WcyFDwSPvwjJvlNN9YkNjlkWK7PfXmhrXNLfz3kg='" in head
    )
    assert b"<h1>The blog is not answering</h1>" in body
    assert b"Try &lt;later&gt;." in body
    assert b"Ann&#x27;s &lt;blog&gt; &amp; &quot;notes&quot;" in body
    assert b"<blog>" not in body and b"<later>" not in body


async def test_other_clients_keep_the_two_lines_of_text(proxy: RunningProxy, ca: LocalCA) -> None:
    answer = await get(proxy, ca)
    assert status_of(answer) == 502
    assert b"Content-Type: text/plain; charset=utf-8" in answer
    assert answer.endswith(b"502 Bad Gateway\nThe backend service could not be reached or sent "
                           b"an invalid response.\n")  # fmt: skip


async def test_statuses_without_wording_use_the_proxys_own_explanation(
    server_cert: tuple[Path, Path], backend_url: str, ca: LocalCA
) -> None:
    document = base_document(*server_cert, backend_url, errors=errors_section())
    document["routes"][0]["allow"] = ["10.0.0.0/8"]
    async with RunningProxy(config_from(document)) as running:
        answer = await get(running, ca, BROWSER)
    assert status_of(answer) == 403
    assert b"<h1>Forbidden</h1>" in answer
    assert b"Access to this service is not allowed from here." in answer


def _page(folder: Path, text: str) -> Path:
    path = folder / "page.html"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<p>$status $oops</p>", "placeholders"),
        ("<p>$status</p><script>alert(1)</script>", "must not hold scripts"),
        ("<p>100$</p>", "placeholders"),
    ],
)
def test_a_page_that_cannot_be_served_stops_the_start(
    text: str, message: str, server_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    errors = errors_section(_page(tmp_path, text))
    with pytest.raises(ConfigError, match=message):
        config_from(base_document(*server_cert, "http://127.0.0.1:9", errors=errors))


def test_wording_is_for_error_statuses_only(server_cert: tuple[Path, Path]) -> None:
    errors = errors_section(wording={"200": {"title": "x", "explanation": "y"}})
    with pytest.raises(ConfigError, match=r"errors\.wording\.200: must be an error status"):
        config_from(base_document(*server_cert, "http://127.0.0.1:9", errors=errors))


def test_a_missing_page_says_which_file(server_cert: tuple[Path, Path], tmp_path: Path) -> None:
    errors = errors_section(tmp_path / "nowhere.html")
    with pytest.raises(ConfigError, match=r"cannot read .*nowhere\.html"):
        config_from(base_document(*server_cert, "http://127.0.0.1:9", errors=errors))

"""Access log: one line per request on stdout, combined or JSON, or off; IPv6 listeners."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from proxy_testkit import LocalCA, RunningProxy, base_document, config_from, raw_exchange

REQUESTS = [
    b"GET /a?b=1 HTTP/1.1\r\nHost: localhost\r\nReferer: https://r.example/\r\n"
    b'User-Agent: t "q"\r\nConnection: close\r\n\r\n',
    b"GET /missing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: localhost\r\nX: a\r\n b\r\n\r\n",  # 400 from the parser
]  # fmt: skip
COMBINED = [
    r'^127\.0\.0\.1 - - \[[^\]]+\] "GET /a\?b=1 HTTP/1\.1" 200 \d+ "https://r\.example/" '
    r'"t \\"q\\""$',
    r'^127\.0\.0\.1 - - \[[^\]]+\] "GET /missing HTTP/1\.1" 404 \d+ "-" "-"$',
    r'^127\.0\.0\.1 - - \[[^\]]+\] ".*" 400 \d+ "-" "-"$',
]


async def _run(
    fmt: str, server_cert: tuple[Path, Path], ca: LocalCA, backend: str, answers: list[bytes]
) -> list[str]:
    document = base_document(*server_cert, backend, server={"access_log": fmt})
    document["routes"][0]["hosts"] = ["localhost"]
    document["routes"][0]["path_prefix"] = "/a"
    async with RunningProxy(config_from(document)) as proxy:
        for raw in REQUESTS:
            answers.append(await raw_exchange(proxy.https_port, raw, ca.client_context()))
    return proxy.log.getvalue().splitlines()


async def test_combined_format(
    backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    lines = await _run("combined", server_cert, ca, backend_url, [])
    assert len(lines) == len(COMBINED)
    for line, pattern in zip(lines, COMBINED, strict=True):
        assert re.match(pattern, line), line


async def test_json_format(backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA) -> None:
    answers: list[bytes] = []
    lines = await _run("json", server_cert, ca, backend_url, answers)
    records = [json.loads(line) for line in lines]
    assert [r["status"] for r in records] == [200, 404, 400]
    first = records[0]
    assert first["method"] == "GET" and first["path"] == "/a?b=1"
    assert first["user_agent"] == 't "q"' and first["referer"] == "https://r.example/"
    assert first["remote"] == "127.0.0.1"
    for record, answer in zip(records, answers, strict=True):  # body bytes, as sent
        assert record["bytes"] == len(answer.partition(b"\r\n\r\n")[2]), record
    assert {"time", "host", "protocol", "duration_ms"} <= set(first)


async def test_access_log_off(
    backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    assert await _run("off", server_cert, ca, backend_url, []) == []


async def test_ipv6_listener(backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA) -> None:
    document = base_document(*server_cert, backend_url)
    document["listeners"][0]["address"] = "::1"
    try:
        running = RunningProxy(config_from(document))
        await running.__aenter__()
    except OSError as exc:  # pragma: no cover - hosts without IPv6 loopback
        pytest.skip(f"no IPv6 loopback here: {exc}")
    import asyncio

    try:
        reader, writer = await asyncio.open_connection(
            "::1", running.https_port, ssl=ca.client_context(), server_hostname="localhost"
        )
        writer.write(b"GET /v6 HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        await running.__aexit__()
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'["X-Forwarded-For", "::1"]' in answer
    assert b'for=\\"[::1]\\"' in answer


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/password-link/SECRET", "/password-link/[redacted]"),
        ("/setup/SECRET?x=1", "/setup/[redacted]?x=1"),
        ("/setup/SECRET/more", "/setup/[redacted]/more"),
        ("/setup/", "/setup/[redacted]"),
        ("/settings/SECRET", "/settings/SECRET"),
    ],
)
def test_secret_segments_are_redacted(target: str, logged: str) -> None:
    from tlsproxy.accesslog import redacted

    assert redacted(target, ("/setup/", "/password-link/")) == logged


def test_the_kits_configuration_redacts_the_blogs_one_time_links() -> None:
    from tlsproxy.config import load_config

    kit = Path(__file__).resolve().parents[3] / "services/proxy/proxy.toml"
    config = load_config(str(kit), {})
    assert set(config.server.access_log_redact) == {"/setup/", "/password-link/"}

"""Prometheus metrics on their own listener: values after known traffic, off by default."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families
from proxy_testkit import (
    LocalCA,
    RunningProxy,
    base_document,
    closed_port_url,
    config_from,
    issue,
)
from tlsproxy.config import load_config
from tlsproxy.server import ReloadError

DEFAULT_TOML = Path(__file__).parents[3] / "services" / "proxy" / "proxy.toml"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(port: int, path: str = "/metrics") -> tuple[int, Samples]:
    async with aiohttp.ClientSession() as client:
        async with client.get(f"http://127.0.0.1:{port}{path}") as response:
            text = await response.text()
    samples: Samples = {}
    if response.status == 200:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return response.status, samples


def labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def metrics_config(cert: tuple[Path, Path], backend_url: str) -> Any:
    document = base_document(*cert, backend_url, metrics={"enabled": True, "address": "127.0.0.1"})
    document["routes"] = [
        {"name": "blog", "path_prefix": "/blog/", "backends": [backend_url]},
        {"name": "gone", "path_prefix": "/gone/", "backends": [closed_port_url()]},
    ]
    config = config_from(document)
    return dataclasses.replace(config, metrics=dataclasses.replace(config.metrics, port=0))


async def test_metrics_after_known_traffic(
    backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    config = metrics_config(server_cert, backend_url)
    async with RunningProxy(config) as proxy:
        base = f"https://localhost:{proxy.https_port}"
        trusting = ca.client_context()
        async with aiohttp.ClientSession() as client:
            for path in ("/blog/a", "/blog/b", "/blog/c", "/nowhere", "/gone/x"):
                async with client.get(base + path, ssl=trusting) as response:
                    await response.read()
            # A client that does not trust the certificate gives up in the handshake.
            untrusting = ssl.create_default_context()
            try:
                await asyncio.open_connection(
                    "127.0.0.1", proxy.https_port, ssl=untrusting, server_hostname="localhost"
                )
            except ssl.SSLError:
                pass
            await asyncio.sleep(0.1)
            gc.collect()  # the failed handshake's protocol object is gone
            port = proxy.proxy.metrics_port
            assert port is not None
            status, samples = await scrape(port)
        assert status == 200
        dead = config.routes[1].backends[0].url
        expected = {
            ("tlsproxy_requests_total", labels(route="blog", status="200", backend=backend_url)): 3,
            ("tlsproxy_requests_total", labels(route="none", status="404", backend="none")): 1,
            ("tlsproxy_requests_total", labels(route="gone", status="502", backend="none")): 1,
            ("tlsproxy_request_duration_seconds_count", labels(route="blog")): 3,
            ("tlsproxy_request_duration_seconds_bucket", labels(route="blog", le="+Inf")): 3,
            ("tlsproxy_tls_handshakes_total", ()): 1,
            ("tlsproxy_tls_handshake_failures_total", ()): 1,
            ("tlsproxy_open_connections", ()): 1,
            ("tlsproxy_backend_up", labels(backend=backend_url)): 1,
            ("tlsproxy_backend_up", labels(backend=dead)): 0,
        }
        assert {key: samples.get(key) for key in expected} == expected
        leaf = x509.load_pem_x509_certificate(server_cert[0].read_bytes())
        expiry_key = (
            "tlsproxy_certificate_expiry_timestamp_seconds",
            labels(certificate=str(server_cert[0])),
        )
        assert samples[expiry_key] == leaf.not_valid_after_utc.timestamp()
        assert (await scrape(port, "/other"))[0] == 404


async def test_metrics_are_off_by_default(backend_url: str, server_cert: tuple[Path, Path]) -> None:
    assert not load_config(DEFAULT_TOML, environ={}).metrics.enabled
    async with RunningProxy(config_from(base_document(*server_cert, backend_url))) as proxy:
        assert proxy.proxy.metrics is None
        assert proxy.proxy.metrics_port is None


async def test_counters_survive_a_reload_and_metrics_settings_need_a_restart(
    backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA
) -> None:
    config = metrics_config(server_cert, backend_url)
    async with RunningProxy(config) as proxy:
        url = f"https://localhost:{proxy.https_port}/blog/"
        key = ("tlsproxy_requests_total", labels(route="blog", status="200", backend=backend_url))
        ctx = ca.client_context()
        port = proxy.proxy.metrics_port
        assert port is not None
        async with aiohttp.ClientSession() as client:
            async with client.get(url, ssl=ctx) as response:
                await response.read()
            await proxy.proxy.reload(config)
            async with client.get(url, ssl=ctx) as response:
                await response.read()
        assert (await scrape(port))[1][key] == 2
        moved = dataclasses.replace(config.metrics, port=port + 1)
        with pytest.raises(ReloadError, match=r"\[metrics\]"):
            await proxy.proxy.reload(dataclasses.replace(config, metrics=moved))


async def test_certificate_expiry_follows_a_renewal(
    backend_url: str, server_cert: tuple[Path, Path], ca: LocalCA, tmp_path: Path
) -> None:
    """What an operator alerts on: the served certificate's notAfter, after a renewal too."""
    config = metrics_config(server_cert, backend_url)
    key = ("tlsproxy_certificate_expiry_timestamp_seconds", labels(certificate=str(server_cert[0])))
    async with RunningProxy(config) as proxy:
        port = proxy.proxy.metrics_port
        assert port is not None
        before = (await scrape(port))[1][key]
        await asyncio.sleep(1.1)  # certificate times have one-second resolution
        (tmp_path / "renewed").mkdir()
        new_cert, new_key = issue(ca, tmp_path / "renewed", "server", ["localhost"])
        os.replace(new_key, server_cert[1])
        os.replace(new_cert, server_cert[0])
        await proxy.proxy.reload(config)  # what the certificate watcher does on a change
        after = (await scrape(port))[1][key]
    leaf = x509.load_pem_x509_certificate(server_cert[0].read_bytes())
    assert after == leaf.not_valid_after_utc.timestamp() > before

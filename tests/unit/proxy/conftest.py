"""Fixtures for the proxy tests: a test CA with a server certificate, a live backend."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from proxy_testkit import LocalCA, backend_app, issue, make_ca, start_backend


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return make_ca(tmp_path)


@pytest.fixture
def server_cert(ca: LocalCA, tmp_path: Path) -> tuple[Path, Path]:
    return issue(ca, tmp_path, "server", ["localhost", "blog.example.org"])


@pytest.fixture
async def backend_url() -> AsyncIterator[str]:
    runner, url = await start_backend(backend_app())
    yield url
    await runner.cleanup()


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict:
    """asyncio's loop by default; ``TLSPROXY_TEST_UVLOOP=1`` runs these tests on uvloop,
    the loop ``serve`` uses in the image."""
    if os.environ.get("TLSPROXY_TEST_UVLOOP") == "1":
        import uvloop

        return {"uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}

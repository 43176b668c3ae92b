"""Fixtures: a real blog app on a real SQLite file in tmp_path, driven by aiohttp's client."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from blog import keys
from blog.app import init_app
from blog.config import Settings

MakeClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def make_client(aiohttp_client, settings: Settings) -> MakeClient:
    """Start the app with settings overridden by keyword arguments."""

    async def make(**overrides: object) -> TestClient:
        return await aiohttp_client(init_app(dataclasses.replace(settings, **overrides)))

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:
    return await make_client()


@pytest.fixture
def db(client: TestClient) -> sqlite3.Connection:
    return client.server.app[keys.DB]

"""Helpers and fixtures for the blog tests: a real app on a real SQLite file in tmp_path."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import ClientResponse, CookieJar
from aiohttp.test_utils import TestClient
from blog import keys, users
from blog.app import init_app
from blog.config import Settings
from blog.rendering import RenderPool

MakeClient = Callable[..., Awaitable[TestClient]]
PASSWORD = "correct horse battery staple"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def make_client(aiohttp_client, aiohttp_server, settings: Settings) -> MakeClient:
    """Start the app with settings overridden by keyword arguments.

    The cookie jar treats the test server as a secure origin, as browsers treat
    loopback, so the blog's Secure `__Host-` cookies round-trip over plain HTTP.
    """

    async def make(renderer: RenderPool | None = None, **overrides: object) -> TestClient:
        app = init_app(dataclasses.replace(settings, **overrides))
        if renderer is not None:  # a render job of the test's own (render_when_released)
            app[keys.RENDERER] = renderer
        server = await aiohttp_server(app)
        jar = CookieJar(unsafe=True, treat_as_secure_origin=str(server.make_url("/")))
        return await aiohttp_client(server, cookie_jar=jar)

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:
    return await make_client()


@pytest.fixture
def db(client: TestClient) -> sqlite3.Connection:
    return client.server.app[keys.DB]


def add_user(client: TestClient, name: str, role: users.Role = "admin") -> users.User:
    return users.create_user(client.server.app[keys.DB], name, PASSWORD, role)


async def csrf_from(client: TestClient, path: str, **headers: str) -> str:
    """Fetch a page as a browser would and read the hidden csrf_token input."""
    response = await client.get(path, headers=headers)
    assert response.status == 200, path
    match = CSRF_INPUT.search(await response.text())
    assert match, f"no csrf_token input on {path}"
    return match.group(1)


async def login(
    client: TestClient, name: str, password: str = PASSWORD, **headers: str
) -> ClientResponse:
    token = await csrf_from(client, "/login")
    return await client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token},
        headers=headers,
        allow_redirects=False,
    )


async def post_form(client: TestClient, path: str, form_page: str, **fields: str) -> ClientResponse:
    """Submit a form the way a browser does: fetch its page for the token, then POST."""
    token = await csrf_from(client, form_page)
    return await client.post(path, data={"csrf_token": token, **fields}, allow_redirects=False)


@pytest.fixture
async def admin_client(client: TestClient) -> TestClient:
    add_user(client, "alice", "admin")
    response = await login(client, "alice")
    assert response.status == 303
    return client


def tiny_png() -> bytes:
    """A real 1x1 PNG, built here so the tests ship no binary files."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def save_entry(client: TestClient, path: str, **fields: str) -> ClientResponse:
    """Submit the editor form at path (new or existing entry)."""
    defaults = {"title": "Title", "body_md": "Body", "kind": "post", "action": "publish"}
    return await post_form(client, path, path, **{**defaults, **fields})

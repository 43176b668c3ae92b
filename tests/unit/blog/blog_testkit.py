"""Helpers and fixtures for the blog tests: a real app on a real SQLite file in tmp_path."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
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


class _FormReader(HTMLParser):
    """The fields a browser would send from one form of a page (buttons and files aside)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if tag == "option" and self.inside and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")
        if not self.inside or "name" not in a:
            return
        if tag == "input" and a.get("type") not in ("file", "submit", "checkbox"):
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def form_fields(page: str, form_id: str = "editor") -> dict[str, str]:
    """What the browser would submit from the form with this id (HTML entities decoded)."""
    reader = _FormReader(form_id)
    reader.feed(page)
    return reader.fields


async def editor_form(client: TestClient, path: str) -> dict[str, str]:
    """Open the editor at `path` and read its fields, hidden ones included."""
    response = await client.get(path)
    assert response.status == 200, path
    return form_fields(await response.text())

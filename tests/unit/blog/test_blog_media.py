"""Image upload: size limit, type from content, generated names, safe serving headers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from blog import keys
from blog_testkit import add_user, csrf_from, login, tiny_png


async def upload(client: TestClient, data: bytes, filename: str, content_type: str):
    token = await csrf_from(client, "/dashboard/media")
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("file", data, filename=filename, content_type=content_type)
    return await client.post("/dashboard/media", data=form, allow_redirects=False)


async def test_png_is_stored_under_a_generated_name_and_served_safely(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    response = await upload(admin_client, tiny_png(), "../../etc/passwd.png", "image/png")
    assert response.status == 303
    name = db.execute("SELECT name FROM media").fetchone()[0]
    assert len(name) == 36 and name.endswith(".png") and "passwd" not in name
    media_dir: Path = admin_client.server.app[keys.SETTINGS].media_dir
    assert (media_dir / name).read_bytes() == tiny_png()
    served = await admin_client.get(f"/media/{name}")
    assert served.status == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert await served.read() == tiny_png()
    listing = await (await admin_client.get("/dashboard/media")).text()
    assert f"/media/{name}" in listing


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (b"<html><script>alert(1)</script></html>", "cat.png", "image/png"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "x.svg", "image/svg+xml"),
        (b"#!/bin/sh\nrm -rf /\n", "run.jpg", "image/jpeg"),
        (b"", "empty.png", "image/png"),
    ],
)
async def test_non_images_are_refused(
    admin_client: TestClient, db: sqlite3.Connection, data: bytes, filename: str, content_type: str
) -> None:
    response = await upload(admin_client, data, filename, content_type)
    assert response.status == 400
    assert db.execute("SELECT COUNT(*) FROM media").fetchone()[0] == 0
    media_dir: Path = admin_client.server.app[keys.SETTINGS].media_dir
    assert not any(media_dir.iterdir())  # noqa: ASYNC240 - a tmp dir listing


async def test_size_limit(make_client) -> None:
    client = await make_client(max_upload_bytes=1024)
    add_user(client, "alice")
    await login(client, "alice")
    big = tiny_png() + b"\0" * 4096
    response = await upload(client, big, "big.png", "image/png")
    assert response.status in (400, 413)
    assert client.server.app[keys.DB].execute("SELECT COUNT(*) FROM media").fetchone()[0] == 0


async def test_anonymous_cannot_upload(client: TestClient) -> None:
    token = await csrf_from(client, "/login")
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("file", tiny_png(), filename="a.png", content_type="image/png")
    response = await client.post("/dashboard/media", data=form, allow_redirects=False)
    assert response.status == 401


@pytest.mark.parametrize(
    "path",
    [
        "/media/../blog.sqlite3",
        "/media/blog.sqlite3",
        "/media/" + "a" * 32 + ".html",
        "/media/%2e%2e%2fblog.sqlite3",
        "/media/" + "0" * 32 + ".png",
    ],
)
async def test_only_stored_images_are_served(client: TestClient, path: str) -> None:
    assert (await client.get(path)).status == 404

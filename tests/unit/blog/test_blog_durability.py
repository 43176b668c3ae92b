"""A real `python -m blog serve` process: it starts, answers, and loses no acknowledged
write when killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from blog import users
from blog.db import open_database

BLOG_ROOT = Path(__file__).resolve().parents[3] / "services" / "blog"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path):
    data = tmp_path / "data"
    conn = open_database(data / "blog.sqlite3")
    users.create_user(conn, "alice", "correct horse battery", "admin")
    conn.close()
    port = free_port()
    env = {
        **os.environ,
        "BLOG_DATA_DIR": str(data),
        "BLOG_PORT": str(port),
        "BLOG_TRUST_LOCAL": "1",
        "PYTHONPATH": str(BLOG_ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "blog", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    process.stderr.read().decode() if process.stderr else ""
                ) from None
            time.sleep(0.1)
    yield process, base, data
    if process.poll() is None:
        process.kill()
    process.wait()


def test_acknowledged_writes_survive_sigkill(server) -> None:
    process, base, data = server
    # Trusted local access: no password, but the CSRF token is still needed. urllib keeps
    # no Secure cookie over plain HTTP, so the cookie is carried by hand.
    with urllib.request.urlopen(base + "/dashboard/posts/new") as response:
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        form_page = response.read().decode()
    token = form_page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    acknowledged = []
    for n in range(5):
        fields = {"csrf_token": token, "title": f"Kept {n}", "body_md": "x", "action": "publish"}
        request = urllib.request.Request(
            base + "/dashboard/posts/new",
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Cookie": cookie},
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 200  # followed the 303 to the saved editor page
        acknowledged.append(f"Kept {n}")
    process.send_signal(signal.SIGKILL)
    process.wait()
    conn = sqlite3.connect(data / "blog.sqlite3")
    titles = {row[0] for row in conn.execute("SELECT title FROM posts")}
    assert set(acknowledged) <= titles

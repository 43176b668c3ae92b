"""Security headers on every kind of response; no-store on authoring pages."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

CASES = [
    # (path, status, cache-control no-store?)
    ("/", 200, False),
    ("/posts/missing", 404, False),
    ("/healthz", 200, False),
    ("/feed.atom", 200, False),
    ("/static/style.css", 200, False),
    ("/login", 200, True),
    ("/dashboard", 200, True),
    ("/dashboard/posts/new", 200, True),
]


@pytest.mark.parametrize(("path", "status", "no_store"), CASES)
async def test_headers(admin_client: TestClient, path: str, status: int, no_store: bool) -> None:
    if not no_store:
        admin_client.session.cookie_jar.clear()  # an anonymous reader
    response = await admin_client.get(path, allow_redirects=False)
    assert response.status == status
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert ("no-store" in response.headers.get("Cache-Control", "")) is no_store
    assert response.headers["Server"] == "blog"  # no software versions


async def test_logged_in_reader_pages_are_not_stored(admin_client: TestClient) -> None:
    response = await admin_client.get("/")
    assert response.headers["Cache-Control"] == "no-store"


async def test_pages_have_no_inline_script(admin_client: TestClient) -> None:
    """The only scripts are the editor's and the passkeys', files from /static/ that the
    CSP allows."""
    pages = ("/", "/login", "/dashboard", "/dashboard/posts/new", "/search?q=x")
    for path in (*pages, "/dashboard/security"):
        body = await (await admin_client.get(path)).text()
        scripts = re.findall(r"<script\b[^>]*>", body)
        assert all(
            re.fullmatch(r'<script src="/static/(editor|passkeys)\.js\?v=[0-9a-f]{16}" defer>', s)
            for s in scripts
        ), path
        assert "</script>" not in body.replace("></script>", ">"), path  # nothing inside a script
        assert " onclick=" not in body and "style=" not in body, path
    editor = await (await admin_client.get("/dashboard/posts/new")).text()
    script = re.search(r'<script src="(/static/editor\.js\?v=\w+)"', editor)
    assert script is not None
    served = await admin_client.get(script.group(1))
    assert served.status == 200 and served.content_type == "text/javascript"

"""Every error the blog answers is a page of the site; the proxy's page keeps the same look."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from html.parser import HTMLParser
from pathlib import Path
from string import Template

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from blog import app_paths
from blog.app import init_app
from blog.config import Settings
from blog_testkit import add_user, login

ROOT = Path(__file__).resolve().parents[3]
PROXY_PAGE = ROOT / "services/proxy-error-page/error.html"
STYLE = Path(app_paths.STATIC_DIR) / "style.css"
DOCS = ROOT / "docs/blog.md"
SITE_HEADER = '<header class="site">'


# (who, method, path, extra request headers, status, words the page must say, header kept)
CASES = [
    ("reader", "GET", "/nowhere", {}, 404, "There is no page at this address", None),
    ("reader", "GET", "/posts/never-written", {}, 404, "Page not found", None),
    ("reader", "GET", "/media/" + "0" * 32 + ".png", {}, 404, "Page not found", None),
    ("reader", "GET", "/static/nothing.css", {}, 404, "Page not found", None),
    ("reader", "GET", "/?page=abc", {}, 400, "page must be a whole number", None),
    ("reader", "PUT", "/", {}, 405, "does not accept that kind", "Allow"),
    ("reader", "POST", "/dashboard/posts/new", {}, 403, "This form is out of date", None),
    ("author", "GET", "/dashboard/users", {}, 403, "admins only", None),
    ("author", "POST", "/dashboard/posts/new", {}, 403, "This form is out of date", None),
    ("reader", "GET", "/setup/" + "x" * 43, {}, 404, "There is no page at this address", None),
]


async def as_who(client: TestClient, who: str) -> None:
    if who == "author":
        add_user(client, "bob", "author")
        assert (await login(client, "bob")).status == 303


@pytest.mark.parametrize(
    ("who", "method", "path", "headers", "status", "words", "kept"),
    CASES,
    ids=[f"{c[1]} {c[2][:30]} {c[4]}" for c in CASES],
)
async def test_errors_are_pages_of_the_site(
    client: TestClient, who, method, path, headers, status, words, kept
) -> None:
    await as_who(client, who)
    response = await client.request(method, path, headers=headers, allow_redirects=False)
    page = await response.text()
    assert response.status == status
    assert response.content_type == "text/html"
    assert SITE_HEADER in page and '<a href="/">Front page</a>' in page
    assert words in page
    assert "Traceback" not in page and "aiohttp" not in page
    if kept:
        assert response.headers.get(kept)


async def test_a_body_over_the_limit_gets_the_blogs_own_413(make_client) -> None:
    """aiohttp answered "Maximum request body size ... exceeded" as bare text."""
    client = await make_client(max_upload_bytes=1024 * 1024)
    body = "title=" + "x" * (5 * 1024 * 1024)
    response = await client.post(
        "/login", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    page = await response.text()
    assert response.status == 413
    assert SITE_HEADER in page and "images up to 1 MiB" in page
    assert "Maximum request body size" not in page


async def test_the_way_back_is_the_page_the_browser_came_from_on_this_site(
    client: TestClient,
) -> None:
    own = str(client.make_url("/search?q=rail"))
    response = await client.get("/nowhere", headers={"Referer": own})
    assert '<a href="/search?q=rail">Back to the page you came from</a>' in await response.text()
    elsewhere = await client.get("/nowhere", headers={"Referer": "https://evil.example/x"})
    assert "Back to the page you came from" not in await elsewhere.text()


async def test_a_script_asking_for_json_gets_json(client: TestClient) -> None:
    response = await client.get("/nowhere", headers={"Accept": "application/json"})
    assert response.status == 404
    assert (await response.json())["status"] == 404


async def test_a_fault_of_the_blog_is_a_500_page_that_tells_nothing_internal(
    aiohttp_client, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail")

    app = init_app(settings)
    app.router.add_get("/broken-for-test", broken)  # a fault no real route has
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR, logger="blog"):
        response = await client.get("/broken-for-test")
    page = await response.text()
    assert response.status == 500
    assert SITE_HEADER in page and "Something went wrong" in page
    assert "secret internal detail" not in page and "RuntimeError" not in page
    assert any(record.exc_info for record in caplog.records)


# --- the proxy's page -------------------------------------------------------------------


def custom_properties(css: str) -> list[dict[str, str]]:
    """The `--name: value` pairs of each :root block, light first, then dark."""
    blocks = re.findall(r":root\s*\{([^}]*)\}", css)
    return [dict(re.findall(r"--([a-z-]+)\s*:\s*(#[0-9a-fA-F]{6})", block)) for block in blocks]


def test_the_proxy_page_uses_the_sites_colours() -> None:
    site, page = custom_properties(STYLE.read_text()), custom_properties(PROXY_PAGE.read_text())
    assert len(site) == len(page) == 2  # a light and a dark scheme
    for site_scheme, page_scheme in zip(site, page, strict=True):
        assert page_scheme and page_scheme.items() <= site_scheme.items()


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and value.startswith(("http", "//")):
                self.external.append(value)


def test_the_proxy_page_is_small_complete_and_needs_nothing_else() -> None:
    template = Template(PROXY_PAGE.read_text(encoding="utf-8"))
    assert set(template.get_identifiers()) == {"status", "title", "explanation", "site_title"}
    filled = template.substitute(
        status="502", title="The blog is not answering", explanation="x" * 300, site_title="Blog"
    )
    assert len(filled.encode()) < 4096
    checker = _Checker()
    checker.feed(filled)
    assert {"meta", "style", "header", "main", "h1"} <= set(checker.tags)
    assert "script" not in checker.tags and checker.external == []
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in filled


def test_the_documented_csp_names_the_proxy_pages_style() -> None:
    css = re.search(r"<style>(.*?)</style>", PROXY_PAGE.read_text(), re.S)
    assert css is not None
    digest = base64.b64encode(hashlib.sha256(css.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in DOCS.read_text()

"""Login and content attacks through the proxy: throttling, cookies, CSRF, XSS, traversal.

Throttling state lives in the blog's memory and counts per client address too (30
attempts in 15 minutes, throttle.py), so the throttling test spends 5 failures of
this host's allowance, on an account of its own.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from html.parser import HTMLParser
from http.cookies import SimpleCookie

import aiohttp
import docker
import pytest
from blog.throttle import ADDRESS_LIMIT, PAIR_LIMIT, WINDOW

from .conftest import Kit, service_container
from .images import PROXY_IMAGE
from .stack_probes import get_request, record, send_raw
from .test_blog_through_proxy import csrf_token, log_in


def session(kit: Kit) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=kit.ssl_context()))


def add_author(kit: Kit, name: str, password: str) -> None:
    kit.compose(
        "exec", "-T", "blog", "blogctl", "user", "add", name, "--password-stdin",
        stdin=password + "\n",
    )  # fmt: skip


async def attempt(
    https: aiohttp.ClientSession, kit: Kit, user: str, password: str
) -> aiohttp.ClientResponse:
    token = await csrf_token(https, kit.url("/login"))
    form = {"username": user, "password": password, "csrf_token": token}
    async with https.post(kit.url("/login"), data=form, allow_redirects=False) as response:
        await response.read()
        return response


async def test_wrong_passwords_get_throttled_with_429_and_retry_after(stack: Kit) -> None:
    user, password = f"throttled{uuid.uuid4().hex[:6]}", f"a long test password {uuid.uuid4()}"
    await asyncio.to_thread(add_author, stack, user, password)
    async with session(stack) as known:
        # A browser that logged in before: it keeps a budget of its own (devices.py).
        assert (await attempt(known, stack, user, password)).status == 303
        statuses = []
        async with session(stack) as https:
            for _ in range(PAIR_LIMIT + 1):
                response = await attempt(https, stack, user, "wrong password 123")
                statuses.append(response.status)
            assert statuses == [401] * PAIR_LIMIT + [429], statuses
            assert WINDOW - 60 <= int(response.headers["Retry-After"]) <= WINDOW + 1
            assert (await attempt(https, stack, user, password)).status == 429  # held
        # Control: the owner's known browser still gets in with the right password.
        assert (await attempt(known, stack, user, password)).status == 303
    record("bad inputs tried", "password guessing (429)")


# Runs in a container on the kit's public network, so the proxy sees a client address
# of its own: one wrong-password login per user name given, then reports the statuses
# and the address it spoke from.
GUESSER = """
import http.client, json, re, socket, ssl, sys
proxy, users = sys.argv[1], sys.argv[2:]
ctx = ssl.create_default_context(cafile="/ca.pem")
def connection():
    sock = socket.create_connection((proxy, 8443), timeout=10)
    conn = http.client.HTTPConnection("localhost", 8443)
    conn.sock = ctx.wrap_socket(sock, server_hostname="localhost")
    return conn
statuses = []
for user in users:
    conn = connection()
    address = conn.sock.getsockname()[0]
    conn.request("GET", "/login")
    page = conn.getresponse()
    cookie = page.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
    body = f"username={user}&password=wrong+password+123&csrf_token={token}"
    spoof = f"192.0.2.{len(statuses) + 1}"  # a new claimed address each time (TEST-NET-1)
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded",
               "X-Forwarded-For": spoof, "X-Real-IP": spoof, "Forwarded": f"for={spoof}"}
    conn.request("POST", "/login", body=body, headers=headers)
    answer = conn.getresponse()
    answer.read()
    statuses.append(answer.status)
    conn.close()
print(json.dumps({"statuses": statuses, "address": address}))
"""


def guess_from_public_network(
    kit: Kit, client: docker.DockerClient, users: list[str]
) -> dict[str, object]:
    network = f"{kit.project}_public"
    proxy = service_container(client, kit, "proxy")
    proxy.reload()
    address = proxy.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
    output = client.containers.run(
        PROXY_IMAGE,
        ["python3", "-c", GUESSER, address, *users],
        network=network,
        remove=True,
        user="10001",
        volumes={str(kit.ca): {"bind": "/ca.pem", "mode": "ro"}},
    )
    return dict(json.loads(output))


async def test_address_blocked_after_its_budget_despite_spoofed_forwarding_headers(
    stack: Kit, owner: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    """Per-address throttling sees each client's own address through the proxy.

    ADDRESS_LIMIT failures from one address block it (429), although each guess claims
    another address in X-Forwarded-For, X-Real-IP and Forwarded (the proxy replaces
    them); a client elsewhere, here the host, still logs in, so one attacker can neither
    dodge the limit nor lock the owner out through the proxy.
    The guesses spread over fresh account names so no account's budget is what acts.
    """
    names = [f"nobody{n}{uuid.uuid4().hex[:4]}" for n in range(ADDRESS_LIMIT + 1)]
    result = await asyncio.to_thread(guess_from_public_network, stack, docker_client, names)
    statuses = result["statuses"]
    assert isinstance(statuses, list)
    print(f"guesses from {result['address']}: {statuses}")
    assert statuses[:ADDRESS_LIMIT] == [401] * ADDRESS_LIMIT, statuses
    assert statuses[ADDRESS_LIMIT] == 429, statuses
    async with session(stack) as https:
        await log_in(https, stack, *owner)  # asserts the 303
    record("bad inputs tried", "password guessing from one address (429)")


def cookie_attributes(header: str) -> dict[str, str]:
    cookie = SimpleCookie()
    cookie.load(header)
    (morsel,) = cookie.values()
    flags = {k: str(v) for k, v in morsel.items() if v}
    flags["name"] = morsel.key
    return flags


async def test_csrf_and_session_cookies_carry_host_prefix_flags(
    stack: Kit, owner: tuple[str, str]
) -> None:
    async with session(stack) as https:
        async with https.get(stack.url("/login")) as page:
            csrf_cookie = cookie_attributes(page.headers["Set-Cookie"])
            token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
        assert token
        form = {"username": owner[0], "password": owner[1], "csrf_token": token.group(1)}
        async with https.post(stack.url("/login"), data=form, allow_redirects=False) as done:
            assert done.status == 303
            session_cookie = next(
                cookie_attributes(h)
                for h in done.headers.getall("Set-Cookie")
                if h.startswith("__Host-blog_session=")
            )
    for cookie in (csrf_cookie, session_cookie):
        # __Host- cookies are only kept by browsers with Secure, Path=/ and no Domain.
        assert cookie["name"].startswith("__Host-")
        assert cookie["secure"] and cookie["path"] == "/" and "domain" not in cookie, cookie
    assert session_cookie["httponly"] and session_cookie["samesite"] == "Lax", session_cookie


@pytest.mark.parametrize(
    "token", [None, "", "forged-token-0123456789"], ids=["absent", "empty", "forged"]
)
async def test_post_without_valid_csrf_token_is_refused_and_writes_nothing(
    stack: Kit, owner: tuple[str, str], token: str | None
) -> None:
    title = f"Forged {uuid.uuid4().hex[:8]}"
    form = {"title": title, "kind": "post", "body_md": "x", "action": "publish"}
    if token is not None:
        form["csrf_token"] = token
    async with session(stack) as https:
        await log_in(https, stack, *owner)
        async with https.post(
            stack.url("/dashboard/posts/new"), data=form, allow_redirects=False
        ) as response:
            assert response.status == 403
        async with https.get(stack.url("/dashboard")) as dashboard:
            assert title not in await dashboard.text()
        # Control: the same form with the session's token is accepted.
        form["csrf_token"] = await csrf_token(https, stack.url("/dashboard/posts/new"))
        async with https.post(
            stack.url("/dashboard/posts/new"), data=form, allow_redirects=False
        ) as response:
            assert response.status == 303
    record("bad inputs tried", f"CSRF token {token!r}")


async def test_login_form_without_csrf_token_is_refused(stack: Kit, owner: tuple[str, str]) -> None:
    async with session(stack) as https:
        await csrf_token(https, stack.url("/login"))  # has the cookie, not the form field
        form = {"username": owner[0], "password": owner[1]}
        async with https.post(stack.url("/login"), data=form, allow_redirects=False) as response:
            assert response.status == 403
            assert "__Host-blog_session" not in response.headers.get("Set-Cookie", "")


XSS_CORPUS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)><circle/></svg>",
    '<a href="javascript:alert(1)">a</a>',
    "[b](javascript:alert(1))",
    "[c](JaVaScRiPt:alert(1))",
    "[d](jav&#x09;ascript:alert(1))",
    "![e](javascript:alert(1))",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">f</a>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<object data="data:text/html,<script>alert(1)</script>"></object>',
    '<embed src="javascript:alert(1)">',
    '<math><mi xlink:href="javascript:alert(1)">g</mi></math>',
    '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">h</button></form>',
    '<base href="javascript:/">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<div style="background:url(javascript:alert(1))">i</div>',
    "<details open ontoggle=alert(1)>j</details>",
    "<style>@import 'https://evil.invalid/x.css';</style>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '"><script>alert(1)</script>',
    "<scr<script>ipt>alert(1)</script>",
    '<a href="&#106;avascript:alert(1)">k</a>',
]
DANGEROUS_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "base",
    "meta",
    "style",
    "form",
    "frame",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster"}
SAFE_SCHEMES = {"http", "https", "mailto"}
# WHATWG URL parsing: tabs and newlines are dropped, a scheme is a letter then letters,
# digits, "+", "-", "."; anything else before ":" makes the URL relative (inert).
SCHEME = re.compile(r"^\s*([a-z][a-z0-9+.-]*):")


class ActiveContent(HTMLParser):
    """Collects what could run in a browser: tags, handlers, URLs with unsafe schemes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DANGEROUS_TAGS and not (tag == "form" and ("action", "/logout") in attrs):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            scheme = SCHEME.match(re.sub(r"[\t\n\r]", "", value or "").lower())
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}>")
            elif name in URL_ATTRIBUTES and scheme and scheme.group(1) not in SAFE_SCHEMES:
                self.found.append(f"<{tag} {name}={value}>")


def active_content(html: str, start: str, end: str) -> list[str]:
    parser = ActiveContent()
    parser.feed(html[html.index(start) : html.index(end)])
    return parser.found


async def test_xss_corpus_in_a_post_is_rendered_inert(stack: Kit, owner: tuple[str, str]) -> None:
    first, last = f"xss-start-{uuid.uuid4().hex[:8]}", f"xss-end-{uuid.uuid4().hex[:8]}"
    body = "\n\n".join([first, *XSS_CORPUS, last])
    async with session(stack) as https:
        await log_in(https, stack, *owner)
        token = await csrf_token(https, stack.url("/dashboard/posts/new"))
        form = {"title": f"<script>alert(1)</script> {first}", "kind": "post", "body_md": body,
                "action": "publish", "csrf_token": token}  # fmt: skip
        async with https.post(stack.url("/dashboard/posts/new"), data=form) as response:
            assert response.status == 200
        async with https.get(stack.url("/")) as front:  # its excerpt, then the whole post
            excerpt = await front.text()
            link = re.search(f'href="(/posts/[a-z0-9-]*{first})"', excerpt)
            assert link is not None and active_content(excerpt, first, "</article>") == []
        async with https.get(stack.url(link.group(1))) as post:
            page = await post.text()
            csp = post.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "object-src 'none'" in csp
    assert "<script>alert(1)</script>" not in page  # the title is escaped too
    body = page[page.index("<main>") :]  # the head names the title too, in <meta> tags
    assert active_content(body, first, last) == []
    for _ in XSS_CORPUS:
        record("bad inputs tried", "XSS payload")


def test_xss_checker_control_finds_active_content() -> None:
    """Proves the inertness check can fail: the raw corpus is full of active content."""
    html = "\n".join(["start", *XSS_CORPUS, "end"])
    assert len(active_content(html, "start", "end")) >= len(XSS_CORPUS) - 4


TRAVERSALS = [
    "/media/../../../../etc/passwd",
    "/media/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/media/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/media/..%2fblog.sqlite3",
    "/media/%2e%2e/blog.sqlite3",
    "/media/%2e%2e%2fblog.sqlite3",
    "/media/%252e%252e%252fblog.sqlite3",
    "/media/....//....//etc/passwd",
    "/media/..%5cblog.sqlite3",
    "/media/%c0%ae%c0%ae/blog.sqlite3",
    "/static/../../../../etc/passwd",
    "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/%2e%2e/app.py",
    "/static/..%2fapp.py",
    "/static/..%2f..%2f..%2f..%2f..%2fdata%2fblog.sqlite3",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_in_media_and_static_gets_400_or_404(
    stack: Kit, docker_client: docker.DockerClient, path: str
) -> None:
    # The proxy refuses what climbs above the root or hides a separator (%2F, %5C) with
    # 400 and normalizes the rest; the blog answers what is left with 404.
    answer = send_raw(stack, get_request(path))
    assert answer.status in (400, 404), (path, answer)
    record("bad inputs tried", "traversal")


def test_traversal_control_static_file_is_served(stack: Kit) -> None:
    assert send_raw(stack, get_request("/static/style.css")).status == 200

"""Pound files served by the proxy, and their ``import-pound`` translations served the
same way: each case is a request, the answer expected and the backend that must get it
(after Pound's own test suite). Real TLS, real backends on loopback.
"""

from __future__ import annotations

import base64
import collections
import json
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from pound_testkit import (
    SYNTAXES,
    combined_pem,
    headers_of,
    named_backends,
    served_config,
    serving,
)
from proxy_testkit import LocalCA, RunningProxy, closed_port_url, issue
from tlsproxy.backend_health import HealthBoard
from tlsproxy.balancer import Balancer
from tlsproxy.config import load_config
from tlsproxy.pound import load_pound

# The recipe the kit comes from (Pound 1.x), as it was written but for the certificate
# path and the backend's address and port, which the test fills in.
RECIPE = """ListenHTTPS *,443 /etc/pound/mycert.pem

UrlGroup ".*"
BackEnd 192.168.1.253,4334,1
EndGroup
"""

# A typical Pound 4 file, in the style of pound.8's examples: @NAME@ is filled in.
TYPICAL = """\
User "nobody"
Group "nogroup"
Alive 30
TimeOut 15
LogLevel 4

ACL "local"
    "127.0.0.0/8"
    "::1"
End

ACL "office"
    "10.0.0.0/8"
End

ListenHTTP
    Address 127.0.0.1
    Port 8080
    Service
        Host -re ".+"
        URL ".*"
        Redirect 301 "https://$0(1):8443$0"
    End
End

ListenHTTPS
    Address 127.0.0.1
    Port 8443
    Cert "@CERT@"
    xHTTP 1
    MaxURI 200
    MaxRequest 1000
    ClientCert 1 9
    VerifyList "@CA@"
    HeadRemove "X-Forwarded-Proto"
    AddHeader "X-Forwarded-Proto: https"
End

Service "legacy"
    URL "^/old/([^/]+)/(.*)"
    Redirect "https://example.org/new/$2/$1"
End

Service "moved"
    Path -beg "/moved"
    Redirect 308 "https://example.org"
End

Service "home"
    Path "^/home$"
    Redirect 303 "https://example.org/"
End

Service "gone"
    Path -beg "/gone/"
    Error 410 "@GONE@"
End

Service "versioned"
    URL "^/v[0-9]+/.*[?&]format=json"
    Backend
        Address 127.0.0.1
        Port @versioned@
    End
End

Service "write"
    Host "api.example.org"
    Method "POST"
    Backend
        Address 127.0.0.1
        Port @write@
    End
End

Service "read"
    Host -icase "API.example.org"
    Backend
        Address 127.0.0.1
        Port @read@
    End
End

Service "debug"
    Match OR
        Header "X-Debug" "^1$"
        QueryParam "debug" "^(1|yes)$"
    End
    Backend
        Address 127.0.0.1
        Port @debug@
    End
End

Service "search"
    Query -contain "q="
    Backend
        Address 127.0.0.1
        Port @search@
    End
End

Service "static"
    Path -re "\\\\.(css|js)$"
    HeadDeny "^Cookie:"
    Backend
        Address 127.0.0.1
        Port @static@
    End
End

Service "office"
    ACL "office"
    Backend
        Address 127.0.0.1
        Port @office@
    End
End

Service "admin"
    Path -beg "/admin/"
    ACL "local"
    BasicAuth "@HTPASSWD@"
    Backend
        Address 127.0.0.1
        Port @admin@
    End
End

Service "humans"
    Path -beg "/humans/"
    Not Header -icase "User-Agent:.*bot"
    Backend
        Address 127.0.0.1
        Port @humans@
    End
End

Service "blog"
    Host "blog.example.org"
    Backend
        Address 127.0.0.1
        Port @main@
    End
End
"""
BACKENDS = (
    "versioned",
    "write",
    "read",
    "debug",
    "search",
    "static",
    "office",
    "admin",
    "humans",
    "main",
)
GONE_PAGE = b"<html><body>That page is gone.</body></html>\n"
LISTEN = """\
ListenHTTP
    Address 127.0.0.1
    Port 8080
End
"""


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass(frozen=True)
class Case:
    """A request and what must come of it; ``backend`` None: the proxy answers."""

    method: str
    target: str
    status: int
    backend: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    answer_fields: dict[str, str] = field(default_factory=dict)  # in the response
    backend_fields: dict[str, str | None] = field(default_factory=dict)  # None: absent
    data: bytes | None = None  # the request body
    page: bytes | None = None  # the answer's body
    listener: int = 1  # 0: the HTTP listener, 1: the HTTPS one
    client_cert: bool = False


BLOG = {"Host": "blog.example.org"}
CASES = [
    # routing by host, method, header, query, path, client address
    Case("GET", "/", 200, "main", BLOG),
    Case("GET", "/v2/items?format=json", 200, "versioned", BLOG),
    Case("GET", "/v2/items?format=xml", 200, "main", BLOG),
    Case("GET", "/x/v2/items?format=json", 200, "main", BLOG),
    Case("GET", "/", 200, "read", {"Host": "api.example.org"}),
    Case("GET", "/", 200, "read", {"Host": "API.EXAMPLE.ORG:8443"}),
    Case("POST", "/", 200, "write", {"Host": "api.example.org"}),
    Case("GET", "/x", 200, "debug", {**BLOG, "X-Debug": "1"}),
    Case("GET", "/x", 200, "main", {**BLOG, "X-Debug": "10"}),
    Case("GET", "/x?debug=yes", 200, "debug", BLOG),
    Case("GET", "/x?debug=no", 200, "main", BLOG),
    Case("GET", "/find?q=pound", 200, "search", BLOG),
    Case("GET", "/site.css", 200, "static", BLOG),
    Case("GET", "/site.css", 200, "main", {**BLOG, "Cookie": "a=1"}),
    Case("GET", "/humans/", 200, "humans", {**BLOG, "User-Agent": "Firefox"}),
    Case("GET", "/humans/", 200, "main", {**BLOG, "User-Agent": "GoodBot/1.0"}),
    # no service for that host: 503, as Pound answers
    Case("GET", "/", 503, None, {"Host": "other.example.org"}),
    # redirects and error pages
    Case("GET", "/old/a/b/c", 302, None, BLOG, {"Location": "https://example.org/new/b/c/a"}),
    # (Pound's rule: a URL without a path gets the request's, a path of "/" is dropped)
    Case("GET", "/moved/x?y=1", 308, None, BLOG, {"Location": "https://example.org/moved/x?y=1"}),
    Case("GET", "/home", 303, None, BLOG, {"Location": "https://example.org"}),
    Case("GET", "/gone/x", 410, None, BLOG, {"Content-Type": "text/html"}, page=GONE_PAGE),
    Case(
        "GET",
        "/page?x=1",
        301,
        None,
        {"Host": "blog.example.org:8080"},
        {"Location": "https://blog.example.org:8443/page?x=1"},
        listener=0,
    ),
    # Basic authentication on a service, with the client address in its ACL
    Case(
        "GET",
        "/admin/",
        401,
        None,
        BLOG,
        {"WWW-Authenticate": 'Basic realm="tlsproxy", charset="UTF-8"'},
    ),
    Case("GET", "/admin/", 401, None, {**BLOG, "Authorization": basic("alice", "wrong")}),
    Case(
        "GET",
        "/admin/",
        200,
        "admin",
        {**BLOG, "Authorization": basic("alice", "alice-secret")},
        backend_fields={"x-forwarded-user": "alice", "authorization": None},
    ),
    # xHTTP 1: PUT and DELETE pass, WebDAV does not (501); MaxURI, MaxRequest
    Case("PUT", "/doc", 200, "main", BLOG),
    Case("PROPFIND", "/doc", 501, None, BLOG),
    Case("GET", "/" + "a" * 300, 414, None, BLOG),
    Case("POST", "/form", 413, None, BLOG, data=b"x" * 2000),
    # the X-SSL-* fields and the forwarded ones; a client's own are dropped
    Case(
        "GET",
        "/",
        200,
        "main",
        {**BLOG, "X-SSL-Subject": "CN=forged", "X-Forwarded-Proto": "http"},
        backend_fields={"x-ssl-subject": None, "x-forwarded-proto": "https"},
    ),
    Case(
        "GET",
        "/",
        200,
        "main",
        BLOG,
        backend_fields={"x-ssl-subject": "CN = alice", "x-ssl-issuer": "CN = tlsproxy test CA"},
        client_cert=True,
    ),
]
CIPHER = re.compile(r"^TLSv1\.[23]/[A-Z0-9_-]+$")


def typical_file(folder: Path, ca: LocalCA, ports: dict[str, int]) -> Path:
    gone = folder / "gone.html"
    gone.write_bytes(GONE_PAGE)
    secret = bcrypt.hashpw(b"alice-secret", bcrypt.gensalt(4)).decode()
    htpasswd = folder / "htpasswd"
    htpasswd.write_text(f"alice:{secret}\n")
    text = TYPICAL
    fills = {
        "CERT": str(combined_pem(ca, folder)),
        "CA": str(ca.path),
        "GONE": str(gone),
        "HTPASSWD": str(htpasswd),
        **{name: str(port) for name, port in ports.items()},
    }
    for name, value in fills.items():
        text = text.replace(f"@{name}@", value)
    path = folder / "pound.cfg"
    path.write_text(text)
    return path


async def ask(
    session: aiohttp.ClientSession, proxy: RunningProxy, case: Case
) -> tuple[int, dict[str, str], bytes]:
    scheme = "https" if case.listener == 1 else "http"
    url = f"{scheme}://127.0.0.1:{proxy.proxy.ports[case.listener]}{case.target}"
    async with session.request(
        case.method, url, headers=case.headers, data=case.data, allow_redirects=False
    ) as response:
        return response.status, dict(response.headers), await response.read()


def mismatches(case: Case, status: int, fields: dict[str, str], body: bytes) -> list[str]:
    found = []
    if status != case.status:
        found.append(f"status {status}, not {case.status}")
    if fields.get("X-Backend") != case.backend:
        found.append(f"backend {fields.get('X-Backend')}, not {case.backend}")
    for name, value in case.answer_fields.items():
        if fields.get(name) != value:
            found.append(f"{name}: {fields.get(name)!r}, not {value!r}")
    if case.page is not None and body != case.page:
        found.append(f"body {body[:80]!r}")
    return found


def backend_mismatches(case: Case, payload: dict[str, Any]) -> list[str]:
    got = headers_of(payload)
    found = []
    for name, value in case.backend_fields.items():
        if got.get(name) != value:
            found.append(f"backend field {name}: {got.get(name)!r}, not {value!r}")
    if case.listener == 1 and not CIPHER.match(got.get("x-ssl-cipher", "")):
        found.append(f"X-SSL-Cipher {got.get('x-ssl-cipher')!r}")
    return found


@pytest.mark.parametrize("syntax", SYNTAXES)
async def test_a_typical_pound_4_file_routes_every_case(
    syntax: str, ca: LocalCA, tmp_path: Path
) -> None:
    alice = issue(ca, tmp_path, "alice", ["alice"], client=True)
    plain = ssl.create_default_context(cafile=str(ca.path))
    with_cert = ssl.create_default_context(cafile=str(ca.path))
    with_cert.load_cert_chain(*alice)
    failures = []
    async with named_backends(BACKENDS) as ports:
        path = typical_file(tmp_path, ca, ports)
        async with (
            serving(path, syntax) as proxy,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=plain)) as anonymous,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=with_cert)) as known,
        ):
            for case in CASES:
                session = known if case.client_cert else anonymous
                status, fields, body = await ask(session, proxy, case)
                found = mismatches(case, status, fields, body)
                if case.backend is not None and not found:
                    found += backend_mismatches(case, json.loads(body))
                if found:
                    failures.append(f"{case.method} {case.target} {case.headers}: {found}")
    assert not failures, "\n".join(failures)


async def test_the_recipes_pound_1_file_serves_its_backend(ca: LocalCA, tmp_path: Path) -> None:
    async with named_backends(["blog"]) as ports:
        text = RECIPE.replace("/etc/pound/mycert.pem", str(combined_pem(ca, tmp_path)))
        text = text.replace("192.168.1.253,4334", f"127.0.0.1,{ports['blog']}")
        path = tmp_path / "pound.cfg"
        path.write_text(text)
        context = ssl.create_default_context(cafile=str(ca.path))
        for syntax in SYNTAXES:
            async with (
                serving(path, syntax) as proxy,
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session,
            ):
                url = f"https://127.0.0.1:{proxy.https_port}"
                async with session.get(url + "/Posts/1", headers=BLOG) as response:
                    assert response.status == 200
                    assert response.headers["X-Backend"] == "blog"
                    payload = await response.json()
                assert payload["path"] == "/Posts/1"
                assert headers_of(payload)["x-forwarded-proto"] == "https"
                assert "x-ssl-cipher" not in headers_of(payload)  # a Pound 1.x listener
                # Pound 1.x's methods without ExtendedHTTP: GET, POST, HEAD
                async with session.post(url + "/form", headers=BLOG, data=b"x") as response:
                    assert response.status == 200
                async with session.delete(url + "/doc", headers=BLOG) as response:
                    assert response.status == 501


# -- balancing, emergency, sessions -------------------------------------------------

BALANCED = (
    LISTEN
    + """\
Service
    @BALANCER@
    Backend
        Address a.internal
        Port 80
        Priority 1
    End
    Backend
        Address b.internal
        Port 80
        Priority 3
    End
    Emergency
        Address spare.internal
        Port 80
    End
End
"""
)


def balancer_of(tmp_path: Path, policy: str) -> Balancer:
    text = BALANCED.replace("@BALANCER@", f"Balancer {policy}")
    config = load_pound(str(tmp_path / "pound.cfg"), text)
    return Balancer(config.routes[0], HealthBoard(config.routes))


@pytest.mark.parametrize(
    ("policy", "shares"),
    [
        ("random", {"a.internal": 0.25, "b.internal": 0.75}),  # priority / sum
        ("iwrr", {"a.internal": 2 / 6, "b.internal": 4 / 6}),  # (priority + 1) / (N + sum)
    ],
)
def test_priorities_share_the_traffic_as_in_pound(
    tmp_path: Path, policy: str, shares: dict[str, float]
) -> None:
    balancer = balancer_of(tmp_path, policy)
    picks = collections.Counter(balancer.candidates()[0].backend.host for _ in range(8000))
    assert set(picks) == set(shares)  # the emergency backend never, while others are up
    for host, share in shares.items():
        # 8000 draws: one standard deviation is at most 0.6 %, so 3 % is over 5 sigma.
        assert abs(picks[host] / 8000 - share) < 0.03, picks


def test_the_emergency_backend_serves_only_when_every_other_is_down(tmp_path: Path) -> None:
    balancer = balancer_of(tmp_path, "random")
    board = HealthBoard([balancer.route])
    balancer = Balancer(balancer.route, board)
    states = {s.backend.host: s for s in balancer.states}
    board.failed(states["a.internal"], 60, OSError("down"))
    assert {balancer.candidates()[0].backend.host for _ in range(50)} == {"b.internal"}
    board.failed(states["b.internal"], 60, OSError("down"))
    assert balancer.candidates()[0].backend.host == "spare.internal"


EMERGENCY = """\
ListenHTTP
    Address 127.0.0.1
    Port 8080
    xHTTP 0
End
Service
    Backend
        Address 127.0.0.1
        Port @main@
    End
    Emergency
        Address 127.0.0.1
        Port @spare@
    End
End
"""


@pytest.mark.parametrize("main_up", [True, False])
async def test_emergency_fallback_through_the_proxy(tmp_path: Path, main_up: bool) -> None:
    async with named_backends(["main", "spare"]) as ports:
        main_port = ports["main"] if main_up else int(closed_port_url().rsplit(":", 1)[1])
        text = EMERGENCY.replace("@main@", str(main_port)).replace("@spare@", str(ports["spare"]))
        path = tmp_path / "pound.cfg"
        path.write_text(text)
        async with serving(path, "pound") as proxy, aiohttp.ClientSession() as session:
            seen = collections.Counter()
            for _ in range(10):
                url = f"http://127.0.0.1:{proxy.proxy.ports[0]}/"
                async with session.get(url, headers=BLOG) as response:
                    assert response.status == 200
                    seen[response.headers["X-Backend"]] += 1
    assert seen == {"main" if main_up else "spare": 10}


SESSION = (
    LISTEN
    + """\
Service
    Backend
        Address 127.0.0.1
        Port @a@
    End
    Backend
        Address 127.0.0.1
        Port @b@
    End
    Session
        Type @TYPE@
        @ID@
        TTL 300
    End
End
"""
)


@dataclass(frozen=True)
class SessionCase:
    type: str
    id: str | None
    request: Any  # key -> (target, headers)
    learned: bool = False  # the key comes from the first answer (/login)
    keyed: bool = True  # requests can carry other keys (not IP)


SESSIONS = [
    SessionCase("IP", None, lambda k: ("/", {}), keyed=False),
    SessionCase("URL", "sessid", lambda k: (f"/page?a=1&sessid={k}", {})),
    SessionCase("PARM", None, lambda k: (f"/cart;jsessionid={k}", {})),
    SessionCase("BASIC", None, lambda k: ("/", {"Authorization": basic(k, "pw")})),
    SessionCase("COOKIE", "JSESSIONID", lambda k: ("/", {"Cookie": f"JSESSIONID={k}"}), True),
    SessionCase("HEADER", "X-Session", lambda k: ("/", {"X-Session": k}), True),
]


@pytest.mark.parametrize("case", SESSIONS, ids=lambda c: c.type)
async def test_every_session_type_keeps_a_client_on_its_backend(
    case: SessionCase, tmp_path: Path
) -> None:
    async with named_backends(["a", "b"]) as ports:
        text = SESSION.replace("@a@", str(ports["a"])).replace("@b@", str(ports["b"]))
        text = text.replace("@TYPE@", case.type)
        text = text.replace("@ID@", f'ID "{case.id}"' if case.id else "")
        path = tmp_path / "pound.cfg"
        path.write_text(text)
        async with serving(path, "pound") as proxy, aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{proxy.proxy.ports[0]}"

            async def backend_for(target: str, headers: dict[str, str]) -> str:
                async with session.get(base + target, headers=BLOG | headers) as response:
                    assert response.status == 200
                    return response.headers["X-Backend"]

            if case.learned:  # the backend that answers /login hands out the key
                first = await backend_for("/login", {})
                key = f"{first}-token"
            else:
                key = "k0"
                first = await backend_for(*case.request(key))
            pinned = {await backend_for(*case.request(key)) for _ in range(12)}
            assert pinned == {first}
            if case.keyed:  # other keys go to both backends (all on one: p = 2**-29)
                spread = {await backend_for(*case.request(f"k{n}")) for n in range(1, 31)}
                assert spread == {"a", "b"}


# -- HTTPS backends ----------------------------------------------------------------


@pytest.fixture
async def tls_backend(ca: LocalCA, tmp_path: Path) -> AsyncIterator[int]:
    from aiohttp import web
    from pound_testkit import named_app

    chain, key = issue(ca, tmp_path, "backend", ["localhost"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, key)
    runner = web.AppRunner(named_app("secure"), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    yield runner.addresses[0][1]
    await runner.cleanup()


HTTPS_BACKEND = (
    LISTEN
    + """\
Service
    Backend
        Address 127.0.0.1
        Port @PORT@
        HTTPS
    End
End
"""
)


@pytest.mark.parametrize("trusted", [True, False])
async def test_https_backends_are_verified(
    tls_backend: int, ca: LocalCA, tmp_path: Path, trusted: bool
) -> None:
    path = tmp_path / "pound.cfg"
    path.write_text(HTTPS_BACKEND.replace("@PORT@", str(tls_backend)))
    config = served_config(path)
    if trusted:  # the TOML's tls_ca (Pound has no way to name a CA: the system's are used)
        import dataclasses

        route = config.routes[0]
        backend = dataclasses.replace(route.backends[0], tls_ca=ca.path)
        route = dataclasses.replace(route, backends=(backend,))
        config = dataclasses.replace(config, routes=(route,))
    async with RunningProxy(config) as proxy, aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{proxy.proxy.ports[0]}/"
        async with session.get(url, headers=BLOG) as response:
            assert response.status == (200 if trusted else 502)
            if trusted:
                assert response.headers["X-Backend"] == "secure"


async def test_sighup_reads_the_pound_file_again(tmp_path: Path) -> None:
    port = closed_port_url().rsplit(":", 1)[1]  # the file's own port: a reload keeps it
    single = (
        f"ListenHTTP\n    Address 127.0.0.1\n    Port {port}\nEnd\n"
        "Service\n    Backend\n        Address 127.0.0.1\n        Port @PORT@\n    End\nEnd\n"
    )
    async with named_backends(["before", "after"]) as ports:
        path = tmp_path / "pound.cfg"
        path.write_text(single.replace("@PORT@", str(ports["before"])))
        async with (
            RunningProxy(load_config(path)) as proxy,
            aiohttp.ClientSession() as session,
        ):
            path.write_text(single.replace("@PORT@", str(ports["after"])))
            assert await proxy.proxy.reload_from(str(path))
            async with session.get(f"http://127.0.0.1:{port}/", headers=BLOG) as response:
                assert response.headers["X-Backend"] == "after"

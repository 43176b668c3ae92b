"""The case table: one row per case, grouped by what it tries (see cases.py).

Ids are ``group-what``; run one with ``pytest tests/differential -k <id>``.
``ours=Expect(...)`` holds what our proxy must do (the decisions of issue 14);
everything else is compared with nginx, and every difference is in
differences.toml with its reason.
"""

from __future__ import annotations

from .backend import Answer
from .cases import (
    HOST,
    SPOOFED_ADDRESS,
    Case,
    Expect,
    case,
    chunked,
    chunked_post,
    raw_answer,
    reply,
    request,
    smuggled_request,
    switching,
    websocket_upgrade,
)
from .client import Pause
from .websocket import CLOSE, TEXT, client_frame

BAD_REQUEST = Expect(statuses=(400,), forwarded=0)
FORWARDED = Expect(forwarded=1)
RELAYED = Expect(relayed=True)
CLIENT_ADDRESS_FIELDS = (
    "X-Real-IP",
    "True-Client-IP",
    "X-Client-IP",
    "CF-Connecting-IP",
    "Fastly-Client-IP",
    "X-Cluster-Client-IP",
    "Client-IP",
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Forwarded-Port",
)
H2C = ("Upgrade: h2c", "Connection: Upgrade, HTTP2-Settings", "HTTP2-Settings: AAMAAABkAARAAAAA")
WS_FRAMES = (client_frame(TEXT, b"hello"), client_frame(CLOSE, b"\x03\xe8"))
HELLO = chunked(b"hello")
STRAY_ZERO_CHUNK = b"0\r\n\r\n"


def refused(case_id: str, *send: bytes) -> Case:
    """Bytes our proxy must answer with 400 and never forward."""
    return case(case_id, *send, ours=BAD_REQUEST)


def normalized(case_id: str, target: str, forwarded_as: str) -> Case:
    """A target our proxy must normalize (RFC 3986 6.2.2, 5.2.4, merged slashes)."""
    expect = Expect(statuses=(200,), forwarded=1, targets=(forwarded_as.encode(),))
    return case(case_id, request("GET", target), ours=expect)


def refused_target(case_id: str, target: str | bytes) -> Case:
    raw = target if isinstance(target, bytes) else target.encode()
    return refused(case_id, b"GET " + raw + b" HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\n\r\n")


def restricted(case_id: str, target: str) -> Case:
    """A spelling of the restricted route's path: it must meet the route's rule (403)."""
    return case(case_id, request("GET", target), ours=Expect(statuses=(403,), forwarded=0))


def host(case_id: str, *lines: str | bytes, ours: Expect = BAD_REQUEST) -> Case:
    """GET /h with exactly these Host lines (RFC 9112 3.2, RFC 3986 3.2.2)."""
    fields = (line if isinstance(line, bytes) else line.encode("latin-1") for line in lines)
    return case(
        case_id, b"GET /h HTTP/1.1\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n", ours=ours
    )


def client_address(field_name: str) -> Case:
    """A client's own claim of its address: no backend may see it."""
    send = request("GET", "/ip", f"{field_name}: {SPOOFED_ADDRESS}")
    return case(f"client-address-{field_name.lower()}", send, ours=Expect(statuses=(200,)))


def answer(case_id: str, *answers: Answer, send: bytes | None = None, **expect: object) -> Case:
    """The backend answers a GET (or ``send``) with ``answers``; ``expect`` for ours."""
    return case(case_id, send or request("GET", "/r"), answers=answers, ours=Expect(**expect))  # type: ignore[arg-type]


METHODS: tuple[Case, ...] = (
    case("method-get", request("GET", "/m")),
    case("method-head", request("HEAD", "/m")),
    case("method-post", request("POST", "/m", body=b"hello")),
    case("method-post-empty", request("POST", "/m", "Content-Length: 0")),
    case("method-post-no-length", request("POST", "/m")),
    case("method-put", request("PUT", "/m", body=b"put body")),
    case("method-patch", request("PATCH", "/m", body=b"patch")),
    case("method-delete", request("DELETE", "/m")),
    case("method-options", request("OPTIONS", "/m")),
    case("method-trace", request("TRACE", "/m"), ours=Expect(statuses=(405,), forwarded=0)),
    case("method-propfind", request("PROPFIND", "/m", "Depth: 1")),
    case("method-mkcol", request("MKCOL", "/m")),
    case("method-search", request("SEARCH", "/m", body=b"query")),
    case("method-custom", request("FROBNICATE", "/m")),
    refused("method-lower-case", request("get", "/m")),
    case("method-long", request("A" * 40, "/m")),
)

HEADERS: tuple[Case, ...] = (
    case("header-repeated-field", request("GET", "/h", "X-A: 1", "X-A: 2")),
    case("header-repeated-cookie", request("GET", "/h", "Cookie: a=1", "Cookie: b=2")),
    case("header-empty-value", request("GET", "/h", "X-Empty:")),
    case("header-whitespace-around-value", request("GET", "/h", "X-Pad: \t value \t")),
    case("header-no-space-after-colon", request("GET", "/h", "X-Tight:value")),
    case("header-underscore-name", request("GET", "/h", "X_Custom: under")),
    case("header-bad-name-character", request("GET", "/h", "X(a): b")),
    refused("header-space-before-colon", request("GET", "/h", "X-Sp : v")),
    case("header-no-colon", request("GET", "/h", "X-NoColon")),
    case("header-empty-name", request("GET", "/h", ": v")),
    refused("header-nul-in-value", request("GET", "/h", b"X-Nul: a\x00b")),
    refused("header-control-in-value", request("GET", "/h", b"X-Ctl: a\x01b")),
    refused("header-del-in-value", request("GET", "/h", b"X-Del: a\x7fb")),
    case(
        "header-latin1-value",
        request("GET", "/h", b"X-Latin: caf\xe9"),
        ours=Expect(unchanged=("x-latin",)),
    ),
    case("header-utf8-value", request("GET", "/h", "X-Utf8: caf\u00e9".encode())),
    case("header-connection-listed", request("GET", "/h", "Connection: X-Listed", "X-Listed: 1")),
    case("header-connection-close", request("GET", "/h", "Connection: close")),
    case(
        "header-keep-alive", request("GET", "/h", "Connection: keep-alive", "Keep-Alive: timeout=5")
    ),
    case("header-te-trailers", request("GET", "/h", "TE: trailers")),
    case("header-proxy-connection", request("GET", "/h", "Proxy-Connection: keep-alive")),
    case("header-proxy-authorization", request("GET", "/h", "Proxy-Authorization: Basic dTpw")),
    case("header-upgrade-without-connection", request("GET", "/h", "Upgrade: websocket")),
    case(
        "header-x-forwarded-user",
        request("GET", "/h", "X-Forwarded-User: admin"),
        ours=Expect(absent=("x-forwarded-user",)),
    ),
    case("header-field-8000-bytes", request("GET", "/h", "X-Big: " + "a" * 8000)),
    case(
        "header-field-too-long",
        request("GET", "/h", "X-Big: " + "a" * 9000),
        ours=Expect(statuses=(431,), forwarded=0),
    ),
    case("header-99-fields", request("GET", "/h", *(f"X-F{i}: v" for i in range(98)))),
    case(
        "header-too-many-fields",
        request("GET", "/h", *(f"X-F{i}: v" for i in range(120))),
        ours=Expect(statuses=(431,), forwarded=0),
    ),
    case(
        "header-block-too-large",
        request("GET", "/h", *(f"X-F{i}: {'b' * 4000}" for i in range(60))),
        ours=Expect(statuses=(431,), forwarded=0),
    ),
)

FRAMING: tuple[Case, ...] = (
    case("framing-content-length-zero-get", request("GET", "/f", "Content-Length: 0")),
    case("framing-chunked", chunked_post(chunked(b"hello", b" world"))),
    case("framing-chunked-one-byte-chunks", chunked_post(chunked(*(bytes([c]) for c in b"bytes")))),
    case("framing-chunked-large-chunk", chunked_post(chunked(b"z" * 70000))),
    case("framing-chunked-upper-hex", chunked_post(b"A\r\n0123456789\r\n0\r\n\r\n")),
    case("framing-chunked-leading-zeros", chunked_post(b"0005\r\nhello\r\n0\r\n\r\n")),
    case("framing-chunked-extension", chunked_post(b"5;name=value\r\nhello\r\n0;last\r\n\r\n")),
    case("framing-chunked-extension-quoted", chunked_post(b'5;n="a b"\r\nhello\r\n0\r\n\r\n')),
    case("framing-chunked-extension-bws", chunked_post(b"5 ;n=v\r\nhello\r\n0\r\n\r\n")),
    case("framing-chunked-trailers", chunked_post(chunked(b"hello", trailers=["X-Trailer: t"]))),
    case(
        "framing-chunked-trailer-content-length",
        chunked_post(chunked(b"hello", trailers=["Content-Length: 50"])),
    ),
    refused("framing-chunked-size-0x", chunked_post(b"0x5\r\nhello\r\n0\r\n\r\n")),
    refused("framing-chunked-size-negative", chunked_post(b"-5\r\nhello\r\n0\r\n\r\n")),
    refused(
        "framing-chunked-size-overflow", chunked_post(b"10000000000000005\r\nhello\r\n0\r\n\r\n")
    ),
    refused("framing-chunked-size-space-inside", chunked_post(b"5 5\r\nhello\r\n0\r\n\r\n")),
    refused("framing-chunked-data-too-long", chunked_post(b"3\r\nhello\r\n0\r\n\r\n")),
    refused("framing-chunked-bare-lf", chunked_post(b"5\nhello\n0\n\n")),
    case("framing-chunked-no-last-chunk", chunked_post(b"5\r\nhello\r\n"), control=False),
    refused(
        "framing-content-length-and-chunked",
        request("POST", "/f", "Content-Length: 5", "Transfer-Encoding: chunked", body=HELLO),
    ),
    refused("framing-chunked-and-content-length", chunked_post(HELLO, "Content-Length: 15")),
    refused(
        "framing-content-length-twice-same",
        request("POST", "/f", "Content-Length: 5", "Content-Length: 5", body=b"hello"),
    ),
    refused(
        "framing-content-length-twice-different",
        request("POST", "/f", "Content-Length: 5", "Content-Length: 6", body=b"hello!"),
    ),
    refused(
        "framing-content-length-list", request("POST", "/f", "Content-Length: 5, 5", body=b"hello")
    ),
    refused(
        "framing-content-length-plus", request("POST", "/f", "Content-Length: +5", body=b"hello")
    ),
    refused(
        "framing-content-length-negative",
        request("POST", "/f", "Content-Length: -5", body=b"hello"),
    ),
    case(
        "framing-content-length-leading-zeros",
        request("POST", "/f", "Content-Length: 005", body=b"hello"),
    ),
    refused(
        "framing-content-length-hex", request("POST", "/f", "Content-Length: 0x5", body=b"hello")
    ),
    case(
        "framing-content-length-huge",
        request("POST", "/f", "Content-Length: 99999999999999999999999", body=b"hello"),
        ours=Expect(forwarded=0),
    ),
    case(
        "framing-content-length-over-limit",
        request("POST", "/f", f"Content-Length: {2 << 20}", body=b"hello"),
        ours=Expect(statuses=(413,), forwarded=0),
        control=False,
    ),
    case(
        "framing-chunked-over-limit",
        chunked_post(chunked(*([b"L" * 60000] * 20))),
        ours=Expect(statuses=(413,)),
        control=False,
    ),
    case(
        "framing-content-length-short-body",
        request("POST", "/f", "Content-Length: 10", body=b"hello"),
        ours=Expect(forwarded=0),
        control=False,
    ),
    refused("framing-chunked-twice", chunked_post(HELLO, "Transfer-Encoding: chunked")),
    case(
        "framing-chunked-listed-twice",
        request("POST", "/f", "Transfer-Encoding: chunked, chunked", body=HELLO),
    ),
    case(
        "framing-chunked-upper-case",
        request("POST", "/f", "Transfer-Encoding: CHUNKED", body=HELLO),
    ),
    case(
        "framing-te-gzip-chunked",
        request("POST", "/f", "Transfer-Encoding: gzip, chunked", body=HELLO),
        ours=Expect(statuses=(501,), forwarded=0),
    ),
    case(
        "framing-te-identity", request("POST", "/f", "Transfer-Encoding: identity", body=b"hello")
    ),
    case("framing-te-xchunked", request("POST", "/f", "Transfer-Encoding: xchunked", body=HELLO)),
    refused("framing-te-http-1-0", chunked_post(HELLO, version="HTTP/1.0")),
    case(
        "framing-te-tab-before-value",
        request("POST", "/f", "Transfer-Encoding:\tchunked", body=HELLO),
    ),
    case(
        "framing-te-space-after-value",
        request("POST", "/f", "Transfer-Encoding: chunked ", body=HELLO),
    ),
    case(
        "framing-content-length-space-after-value",
        request("POST", "/f", "Content-Length: 5 ", body=b"hello"),
    ),
    refused(
        "framing-te-vertical-tab",
        request("POST", "/f", "Transfer-Encoding: \x0bchunked", body=HELLO),
    ),
    refused(
        "framing-te-obs-fold", request("POST", "/f", "Transfer-Encoding:", " chunked", body=HELLO)
    ),
    refused("framing-obs-fold", request("GET", "/f", "X-Folded: a", " b")),
    refused("framing-bare-lf", b"GET /f HTTP/1.1\nHost: example.test\n\n"),
    refused("framing-bare-lf-in-field", b"GET /f HTTP/1.1\r\nHost: example.test\nX-A: 1\r\n\r\n"),
    refused("framing-bare-cr", b"GET /f HTTP/1.1\rHost: example.test\r\n\r\n"),
    case("framing-leading-empty-line", b"\r\nGET /f HTTP/1.1\r\nHost: example.test\r\n\r\n"),
    case("framing-request-line-extra-spaces", b"GET  /f  HTTP/1.1\r\nHost: example.test\r\n\r\n"),
    refused("framing-request-line-tab", b"GET\t/f HTTP/1.1\r\nHost: example.test\r\n\r\n"),
    case("framing-version-1-0", request("GET", "/f", version="HTTP/1.0")),
    case(
        "framing-version-1-0-keep-alive",
        request("GET", "/f", "Connection: keep-alive", version="HTTP/1.0"),
    ),
    refused("framing-version-2-0", request("GET", "/f", version="HTTP/2.0")),
    case("framing-version-1-2", request("GET", "/f", version="HTTP/1.2")),
    refused("framing-version-lower-case", request("GET", "/f", version="http/1.1")),
    case("framing-version-0-9", b"GET /f\r\n", ours=Expect(forwarded=0)),
    case(
        "framing-pipelined-two",
        request("GET", "/f1") + request("GET", "/f2"),
        methods=["GET", "GET"],
    ),
    case(
        "framing-pipelined-post-then-get",
        request("POST", "/f1", body=b"first") + request("GET", "/f2"),
        methods=["POST", "GET"],
    ),
    case(
        "framing-pipelined-head-then-get",
        request("HEAD", "/f1") + request("GET", "/f2"),
        methods=["HEAD", "GET"],
    ),
    case(
        "framing-head-split",
        b"GET /f HTT",
        Pause(),
        b"P/1.1\r\nHo",
        Pause(),
        b"st: example.test\r\n\r\n",
    ),
    case(
        "framing-body-split",
        request("POST", "/f", "Content-Length: 10"),
        Pause(),
        b"hello",
        Pause(),
        b"world",
    ),
    case(
        "framing-chunked-split",
        chunked_post(b""),
        Pause(),
        b"5\r\nhel",
        Pause(),
        b"lo\r\n0\r\n\r\n",
    ),
    case(
        "framing-expect-continue",
        request("POST", "/f", "Expect: 100-continue", "Content-Length: 5"),
        Pause(),
        b"hello",
    ),
    case(
        "framing-expect-continue-upper",
        request("POST", "/f", "Expect: 100-CONTINUE", body=b"hello"),
    ),
    case(
        "framing-expect-other",
        request("POST", "/f", "Expect: something", body=b"hello"),
        ours=Expect(statuses=(417,), forwarded=0),
    ),
    case("framing-expect-on-get", request("GET", "/f", "Expect: 100-continue")),
)

BODIES: tuple[Case, ...] = (
    case("body-get-content-length", request("GET", "/b", body=b"get body")),
    case(
        "body-get-chunked",
        request("GET", "/b", "Transfer-Encoding: chunked", body=chunked(b"get body")),
    ),
    case("body-get-smuggled-request", request("GET", "/b", body=smuggled_request())),
    case("body-head-content-length", request("HEAD", "/b", body=b"head body")),
    case("body-delete-content-length", request("DELETE", "/b", body=b"delete body")),
    case(
        "body-options-chunked",
        request("OPTIONS", "/b", "Transfer-Encoding: chunked", body=chunked(b"opts")),
    ),
    case(
        "body-get-early-answer",
        request("GET", "/b", body=smuggled_request()),
        answers=[reply("401 Unauthorized", "WWW-Authenticate: Basic", early=True)],
    ),
)

TARGETS: tuple[Case, ...] = (
    normalized("target-dot-segment", "/t/../u", "/u"),
    normalized("target-dot-segment-single", "/t/./u", "/t/u"),
    normalized("target-dot-segment-trailing", "/t/u/..", "/t/"),
    normalized("target-dot-segment-encoded", "/t/%2e%2e/u", "/u"),
    normalized("target-dot-segment-encoded-upper", "/t/%2E%2E/u", "/u"),
    normalized("target-dot-segment-encoded-mixed-case", "/t/%2e%2E/u", "/u"),
    normalized("target-dot-segment-half-encoded", "/t/.%2e/u", "/u"),
    normalized("target-dot-segment-single-encoded", "/t/%2e/u", "/t/u"),
    normalized("target-double-slash", "//t//u", "/t/u"),
    normalized("target-unreserved-encoded", "/%74/%7e%41", "/t/~A"),
    case(
        "target-reserved-encoded-kept",
        request("GET", "/t/%3F%23%25?q=%2e%2e"),
        ours=Expect(targets=(b"/t/%3F%23%25?q=%2e%2e",)),
    ),
    case(
        "target-query-not-normalized",
        request("GET", "/t?x=/../y//z"),
        ours=Expect(targets=(b"/t?x=/../y//z",)),
    ),
    case(
        "target-encoded-non-ascii",
        request("GET", "/caf%C3%A9"),
        ours=Expect(targets=(b"/caf%C3%A9",)),
    ),
    refused_target("target-dot-segment-above-root", "/../t"),
    refused_target("target-dot-segment-above-root-encoded", "/t/%2e%2e/%2E%2E/u"),
    refused_target("target-encoded-slash", "/t%2Fu"),
    refused_target("target-encoded-slash-lower", "/t%2fu"),
    refused_target("target-encoded-backslash", "/t%5Cu"),
    refused_target("target-backslash", "/t\\u"),
    refused_target("target-backslash-dot-segment", "/t\\..\\u"),
    refused_target("target-encoded-nul", "/t%00u"),
    refused_target("target-encoded-control", "/t%0d%0aX-Injected:%20yes"),
    refused_target("target-raw-non-ascii", "/caf\u00e9".encode()),
    refused_target("target-raw-control", b"/t\x01u"),
    refused_target("target-fragment", "/t#frag"),
    case(
        "target-absolute-form",
        request("GET", f"http://{HOST}/t"),
        ours=Expect(statuses=(200,), forwarded=1),
    ),
    case(
        "target-absolute-form-default-port",
        request("GET", f"http://{HOST}:80/t"),
        ours=Expect(statuses=(200,), forwarded=1),
    ),
    refused("target-absolute-form-other-host", request("GET", "http://other.test/t")),
    case("target-absolute-form-https", request("GET", f"https://{HOST}/t")),
    case(
        "target-absolute-form-no-path",
        request("GET", f"http://{HOST}"),
        ours=Expect(statuses=(200,), targets=(b"/",)),
    ),
    case("target-asterisk-options", request("OPTIONS", "*")),
    refused("target-asterisk-get", request("GET", "*")),
    refused("target-authority-form-get", request("GET", f"{HOST}:80")),
    case(
        "target-connect",
        request("CONNECT", f"{HOST}:443"),
        ours=Expect(statuses=(405,), forwarded=0),
    ),
    refused("target-no-leading-slash", request("GET", "t/u")),
    case("target-long-8000", request("GET", "/" + "t" * 8000)),
    case(
        "target-too-long",
        request("GET", "/" + "t" * 9000),
        ours=Expect(statuses=(414,), forwarded=0),
    ),
    restricted("target-restricted", "/admin/"),
    restricted("target-restricted-dot-segment", "/x/../admin/"),
    restricted("target-restricted-encoded-letter", "/%61dmin/"),
    restricted("target-restricted-encoded-dot-segment", "/x/%2e%2e/admin/"),
    restricted("target-restricted-double-slash", "//admin/"),
    restricted("target-restricted-single-dot", "/./admin/"),
    restricted("target-restricted-absolute-form", f"http://{HOST}/x/../admin/"),
    refused_target("target-restricted-backslash", "/x\\..\\admin/"),
    case("target-restricted-other-case", request("GET", "/ADMIN/"), ours=FORWARDED),
)

HOSTS: tuple[Case, ...] = (
    host("host-name", f"Host: {HOST}", ours=FORWARDED),
    host("host-name-port", f"Host: {HOST}:8080", ours=FORWARDED),
    host("host-upper-case", "Host: EXAMPLE.Test", ours=FORWARDED),
    host("host-trailing-dot", "Host: example.test.", ours=FORWARDED),
    host("host-underscore", "Host: my_host.test", ours=FORWARDED),
    host("host-ipv4", "Host: 192.0.2.1", ours=FORWARDED),
    host("host-ipv4-port", "Host: 192.0.2.1:80", ours=FORWARDED),
    host("host-ipv6", "Host: [2001:db8::1]", ours=FORWARDED),
    host("host-ipv6-port", "Host: [2001:db8::1]:8080", ours=FORWARDED),
    host("host-ipv6-unbracketed", "Host: 2001:db8::1"),
    host("host-ipv6-unclosed", "Host: [2001:db8::1"),
    host("host-ipv6-invalid", "Host: [not:an:address]"),
    host("host-missing"),
    # Without Host the backend learns only its own name, and prints it into links.
    case("host-missing-http-1-0", b"GET /h HTTP/1.0\r\n\r\n", ours=BAD_REQUEST),
    host("host-empty", "Host:"),
    host("host-duplicate-same", f"Host: {HOST}", f"Host: {HOST}"),
    host("host-duplicate-different", f"Host: {HOST}", "Host: other.test"),
    host("host-userinfo", f"Host: user@{HOST}"),
    host("host-userinfo-password", f"Host: user:pass@{HOST}"),
    host("host-space-inside", "Host: example test"),
    host("host-quote", 'Host: exa"mple.test'),
    host("host-angle-brackets", "Host: <script>.test"),
    host("host-semicolon", "Host: example.test;proto=https"),
    host("host-comma", "Host: example.test, other.test"),
    host("host-slash", "Host: example.test/x"),
    host("host-backslash", "Host: example.test\\x"),
    host("host-percent-encoded", "Host: %65xample.test"),
    host("host-non-ascii", "Host: caf\u00e9.test".encode()),
    host("host-port-letters", "Host: example.test:abc"),
    host("host-port-empty", "Host: example.test:", ours=Expect()),
    host("host-two-ports", "Host: example.test:80:80"),
    host("host-port-too-large", "Host: example.test:99999", ours=Expect()),
    host("host-dot-dot", "Host: ..", ours=Expect()),
)

UPGRADES: tuple[Case, ...] = (
    case(
        "upgrade-websocket",
        websocket_upgrade(),
        answers=[switching()],
        frames=WS_FRAMES,
        control=False,
    ),
    case(
        "upgrade-websocket-upper-case-token",
        websocket_upgrade().replace(b"Upgrade: websocket", b"Upgrade: WebSocket"),
        answers=[switching()],
        frames=WS_FRAMES,
        control=False,
    ),
    case(
        "upgrade-websocket-connection-list",
        websocket_upgrade().replace(b"Connection: Upgrade", b"Connection: keep-alive, Upgrade"),
        answers=[switching()],
        frames=WS_FRAMES,
        control=False,
    ),
    case(
        "upgrade-websocket-refused",
        websocket_upgrade(),
        answers=[reply("403 Forbidden", body=b"no")],
        ours=RELAYED,
    ),
    case(
        "upgrade-websocket-refused-401",
        websocket_upgrade(),
        answers=[reply("401 Unauthorized", 'WWW-Authenticate: Basic realm="ws"')],
        ours=RELAYED,
    ),
    case(
        "upgrade-websocket-not-switching",
        websocket_upgrade(),
        answers=[reply(body=b"plain")],
        ours=Expect(statuses=(200,), relayed=True),
    ),
    case(
        "upgrade-websocket-refused-pipelined",
        websocket_upgrade() + request("GET", "/after"),
        methods=["GET", "GET"],
        answers=[reply("403 Forbidden", body=b"no")],
        ours=Expect(statuses=(403, 200), relayed=True),
    ),
    case(
        "upgrade-websocket-with-body",
        websocket_upgrade("/ws", body=b"x" * 20),
        answers=[reply("403 Forbidden", early=True)],
        ours=BAD_REQUEST,
    ),
    case(
        "upgrade-websocket-with-smuggled-body",
        websocket_upgrade("/ws", body=smuggled_request()),
        answers=[reply("403 Forbidden", early=True)],
        ours=BAD_REQUEST,
    ),
    case(
        "upgrade-websocket-with-body-accepted",
        websocket_upgrade("/ws", body=b"x" * 20),
        answers=[switching(early=True)],
        ours=BAD_REQUEST,
        control=False,
    ),
    case(
        "upgrade-websocket-with-chunked-body",
        websocket_upgrade("/ws", "Transfer-Encoding: chunked", body=HELLO),
        answers=[reply("403 Forbidden", early=True)],
        ours=BAD_REQUEST,
    ),
    case(
        "upgrade-websocket-with-empty-body",
        websocket_upgrade("/ws", "Content-Length: 0"),
        answers=[switching()],
        frames=WS_FRAMES,
        control=False,
    ),
    case(
        "upgrade-websocket-post",
        websocket_upgrade().replace(b"GET ", b"POST ", 1),
        answers=[switching(only_if_asked=True)],
        control=False,
    ),
    case(
        "upgrade-websocket-http-1-0",
        websocket_upgrade().replace(b"HTTP/1.1", b"HTTP/1.0", 1),
        answers=[switching(only_if_asked=True)],
        ours=Expect(statuses=(200,), absent=("upgrade",)),
        control=False,
    ),
    case(
        "upgrade-websocket-bad-accept",
        websocket_upgrade(),
        answers=[Answer(switching().data.replace(b"{accept}", b"d3Jvbmc="), switch=True)],
        control=False,
    ),
    case(
        "upgrade-websocket-unsolicited",
        request("GET", "/ws"),
        answers=[switching()],
        ours=Expect(statuses=(502,)),
        control=False,
    ),
    case(
        "upgrade-h2c",
        request("GET", "/h2c", *H2C),
        answers=[
            Answer(
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
                switch=True,
                when_upgrade=b"h2c",
            )
        ],
        ours=Expect(statuses=(200,), forwarded=1, absent=("upgrade", "http2-settings")),
        control=False,
    ),
    refused("upgrade-h2c-with-body", request("POST", "/h2c", *H2C, body=b"hello")),
    case(
        "upgrade-h2c-then-more",
        request("GET", "/h2c", *H2C) + request("GET", "/after"),
        methods=["GET", "GET"],
        ours=Expect(statuses=(200, 200), forwarded=2, absent=("upgrade",)),
    ),
    case(
        "upgrade-unknown-protocol",
        request("GET", "/up", "Upgrade: foo/1", "Connection: Upgrade"),
        ours=Expect(statuses=(200,), absent=("upgrade",)),
    ),
    case(
        "upgrade-unknown-then-more",
        request("GET", "/up", "Upgrade: foo/1", "Connection: Upgrade") + request("GET", "/after"),
        methods=["GET", "GET"],
        ours=Expect(statuses=(200, 200), forwarded=2, absent=("upgrade",)),
    ),
)

OK = reply(body=b"ok").data
ANSWERS: tuple[Case, ...] = (
    answer("answer-100-then-200", Answer(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)),
    answer("answer-102-then-200", Answer(b"HTTP/1.1 102 Processing\r\n\r\n" + OK)),
    answer(
        "answer-103-then-200",
        Answer(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" + OK),
        interim=(103,),
        statuses=(200,),
    ),
    answer("answer-204", reply("204 No Content", length=False, content_type=None)),
    answer(
        "answer-204-with-length-body",
        reply("204 No Content", "Content-Length: 5", then=b"hello"),
        statuses=(204,),
    ),
    answer(
        "answer-204-with-chunked-body",
        reply("204 No Content", "Transfer-Encoding: chunked", then=STRAY_ZERO_CHUNK),
        statuses=(204,),
    ),
    answer(
        "answer-204-to-post-chunked-body",
        reply("204 No Content", "Transfer-Encoding: chunked", then=STRAY_ZERO_CHUNK),
        send=request("POST", "/r", body=b"p"),
        statuses=(204,),
    ),
    answer(
        "answer-204-to-delete-chunked-body",
        reply("204 No Content", "Transfer-Encoding: chunked", then=STRAY_ZERO_CHUNK),
        send=request("DELETE", "/r"),
        statuses=(204,),
    ),
    answer(
        "answer-304",
        reply("304 Not Modified", 'ETag: "v1"', length=False),
        send=request("GET", "/r", 'If-None-Match: "v1"'),
    ),
    answer(
        "answer-304-with-body",
        reply("304 Not Modified", 'ETag: "v1"', "Content-Length: 5", then=b"hello"),
        send=request("GET", "/r", 'If-None-Match: "v1"'),
        statuses=(304,),
    ),
    answer(
        "answer-304-with-smuggled-answer",
        reply("304 Not Modified", "Transfer-Encoding: chunked", then=reply(body=b"attacker").data),
        send=request("GET", "/r", 'If-None-Match: "v1"'),
        statuses=(304,),
    ),
    answer("answer-head", reply(length=False), send=request("HEAD", "/r")),
    answer(
        "answer-head-with-body",
        reply("200 OK", "Content-Length: 5", then=b"hello"),
        send=request("HEAD", "/r"),
        statuses=(200,),
    ),
    answer(
        "answer-head-with-chunked-body",
        reply("200 OK", "Transfer-Encoding: chunked", then=b"5\r\nhello\r\n0\r\n\r\n"),
        send=request("HEAD", "/r"),
        statuses=(200,),
    ),
    answer(
        "answer-two-content-lengths",
        reply("200 OK", "Content-Length: 2", "Content-Length: 5", body=b"hello"),
    ),
    answer(
        "answer-two-content-lengths-same",
        reply("200 OK", "Content-Length: 5", "Content-Length: 5", body=b"hello"),
    ),
    answer("answer-content-length-list", reply("200 OK", "Content-Length: 5, 5", body=b"hello")),
    answer(
        "answer-content-length-and-chunked",
        Answer(
            reply("200 OK", "Content-Length: 3", "Transfer-Encoding: chunked", body=HELLO).data,
            poisons=True,
        ),
    ),
    answer("answer-content-length-negative", reply("200 OK", "Content-Length: -1", body=b"hello")),
    answer(
        "answer-body-longer-than-length",
        reply("200 OK", "Content-Length: 2", body=b"he", then=b"llo"),
        statuses=(200,),
        relayed=True,
    ),
    answer(
        "answer-body-shorter-than-length",
        reply("200 OK", "Content-Length: 10", body=b"hello", close=True),
    ),
    answer(
        "answer-without-content-type",
        reply(body=b"what am I?", content_type=None),
        answer_absent=("content-type",),
    ),
    answer("answer-close-delimited", reply(body=b"until close", length=False, close=True)),
    answer(
        "answer-close-delimited-http-1-0",
        raw_answer(b"HTTP/1.0 200 OK", body=b"old style", close=True),
    ),
    answer(
        "answer-chunked", reply("200 OK", "Transfer-Encoding: chunked", body=chunked(b"hel", b"lo"))
    ),
    answer(
        "answer-chunked-trailers",
        reply(
            "200 OK",
            "Transfer-Encoding: chunked",
            "Trailer: X-Sum",
            body=chunked(b"hello", trailers=["X-Sum: 5"]),
        ),
    ),
    answer(
        "answer-chunked-bad-size",
        Answer(
            reply("200 OK", "Transfer-Encoding: chunked", body=b"zz\r\nhello\r\n0\r\n\r\n").data,
            poisons=True,
        ),
    ),
    answer(
        "answer-transfer-encoding-gzip-only",
        reply("200 OK", "Transfer-Encoding: gzip", body=b"not really gzip", close=True),
    ),
    answer(
        "answer-connection-close-kept-open",
        Answer(reply("200 OK", "Connection: close", body=b"bye").data, poisons=True),
    ),
    answer(
        "answer-status-four-digits",
        Answer(b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", poisons=True),
    ),
    answer(
        "answer-status-letters",
        Answer(b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n", poisons=True),
    ),
    answer(
        "answer-status-no-reason", raw_answer(b"HTTP/1.1 200", b"Content-Length: 2", body=b"ok")
    ),
    answer("answer-status-600", raw_answer(b"HTTP/1.1 600 Odd", b"Content-Length: 2", body=b"ok")),
    answer("answer-version-2-0", raw_answer(b"HTTP/2.0 200 OK", b"Content-Length: 2", body=b"ok")),
    answer("answer-http-0-9", Answer(b"just a body, no head", close=True)),
    answer("answer-garbage-then-close", Answer(b"\x00\x01\x02garbage\r\n\r\n", close=True)),
    answer(
        "answer-bare-lf",
        raw_answer(b"HTTP/1.1 200 OK", b"Content-Length: 2", body=b"ok", eol=b"\n"),
    ),
    answer(
        "answer-obs-fold",
        raw_answer(b"HTTP/1.1 200 OK", b"X-Folded: a", b" b", b"Content-Length: 2", body=b"ok"),
    ),
    answer(
        "answer-nul-in-field",
        raw_answer(
            b"HTTP/1.1 200 OK", b"X-Nul: a\x00b", b"Content-Length: 2", body=b"ok", poisons=True
        ),
    ),
    answer(
        "answer-space-before-colon",
        raw_answer(b"HTTP/1.1 200 OK", b"Content-Length : 2", body=b"ok", poisons=True),
    ),
    answer("answer-huge-field", reply("200 OK", "X-Huge: " + "h" * 16000, body=b"ok")),
    answer("answer-many-fields", reply("200 OK", *(f"X-F{i}: v" for i in range(150)), body=b"ok")),
    answer(
        "answer-hop-by-hop-fields",
        reply(
            "200 OK",
            "Connection: X-Hop",
            "X-Hop: 1",
            "Keep-Alive: timeout=5",
            "Proxy-Connection: keep-alive",
            body=b"ok",
        ),
    ),
    answer(
        "answer-early-to-post",
        reply("401 Unauthorized", body=b"who?", early=True),
        send=request("POST", "/r", body=b"b" * 100000),
    ),
    answer(
        "answer-early-to-post-then-close",
        reply("413 Content Too Large", body=b"big", early=True, close=True),
        send=request("POST", "/r", body=b"b" * 100000),
    ),
    answer(
        "answer-early-to-chunked-post",
        reply("401 Unauthorized", early=True),
        send=chunked_post(chunked(b"c" * 50000, b"d" * 50000)),
    ),
    case(
        "answer-unsolicited-101",
        request("GET", "/r"),
        answers=[
            Answer(
                b"HTTP/1.1 101 Switching Protocols\r\n"
                b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                switch=True,
            )
        ],
        ours=Expect(statuses=(502,)),
        control=False,
    ),
    answer(
        "answer-location-and-cookies",
        reply("302 Found", "Location: /next", "Set-Cookie: a=1; Path=/", "Set-Cookie: b=2; Path=/"),
    ),
    answer("answer-5xx", reply("503 Service Unavailable", "Retry-After: 5", body=b"later")),
    answer("answer-closed-before-answer", Answer(b"", close=True)),
    answer(
        "answer-after-read-timeout", Answer(reply(body=b"late").data, delay=3.0), statuses=(504,)
    ),
)

CLIENT_ADDRESSES: tuple[Case, ...] = (
    *(client_address(name) for name in CLIENT_ADDRESS_FIELDS),
    case(
        "client-address-forwarded",
        request("GET", "/ip", f"Forwarded: for={SPOOFED_ADDRESS};proto=https"),
        ours=Expect(statuses=(200,)),
    ),
    case(
        "client-address-x-forwarded-for-twice",
        request(
            "GET",
            "/ip",
            f"X-Forwarded-For: {SPOOFED_ADDRESS}",
            f"X-Forwarded-For: {SPOOFED_ADDRESS}",
        ),
    ),
    case("client-address-underscore", request("GET", "/ip", f"X_Forwarded_For: {SPOOFED_ADDRESS}")),
    case(
        "client-address-x-real-ip-mixed-case",
        request("GET", "/ip", f"x-REAL-ip: {SPOOFED_ADDRESS}"),
    ),
    case(
        "client-address-x-originating-ip",
        request("GET", "/ip", f"X-Originating-IP: {SPOOFED_ADDRESS}"),
    ),
)

TLS: tuple[Case, ...] = (
    case("tls-get", request("GET", "/s", host="localhost"), listener="https"),
    case(
        "tls-post-chunked",
        chunked_post(chunked(b"secret")).replace(HOST.encode(), b"localhost"),
        listener="https",
    ),
    case("tls-host-differs-from-sni", request("GET", "/s", host="other.test"), listener="https"),
    case(
        "tls-websocket",
        websocket_upgrade().replace(HOST.encode(), b"localhost"),
        answers=[switching()],
        frames=WS_FRAMES,
        listener="https",
        control=False,
    ),
    case(
        "tls-plain-http-to-tls-port",
        request("GET", "/s"),
        listener="https-plain",
        ours=Expect(statuses=(400,), forwarded=0),
    ),
)

CASES: tuple[Case, ...] = (
    METHODS
    + HEADERS
    + FRAMING
    + BODIES
    + TARGETS
    + HOSTS
    + UPGRADES
    + ANSWERS
    + CLIENT_ADDRESSES
    + TLS
)

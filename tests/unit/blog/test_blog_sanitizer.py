"""Rendered Markdown can never run script: an XSS corpus through renderer and sanitizer."""

from __future__ import annotations

import re
import sqlite3
from html.parser import HTMLParser

import pytest
from aiohttp.test_utils import TestClient
from blog import posts
from blog.markup import render_markdown

XSS_CORPUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<img src=x onerror=alert(1)//",
    '<svg onload="alert(1)">',
    "<svg><script>alert(1)</script></svg>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="&#106;avascript:alert(1)">click</a>',
    '<a href="java\tscript:alert(1)">tab</a>',
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "![x](javascript:alert(1))",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">d</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<object data="evil.swf"></object>',
    '<embed src="evil.swf">',
    '<form action="https://evil.example"><input name=x></form>',
    '<body onload="alert(1)">',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<p style="x:expression(alert(1))">x</p>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style>",
    "<style>@import 'https://evil.example/x.css';</style>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="https://evil.example/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<details open ontoggle=alert(1)>",
    '<input autofocus onfocus="alert(1)">',
    '<video><source onerror="alert(1)"></video>',
    "<!--<img src=x onerror=alert(1)>-->",
    '<a href="#" onclick="alert(1)">x</a>',
    '<img src="x" srcset="javascript:alert(1)">',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<textarea><img src=x onerror=alert(1)></textarea>",
    '"><script>alert(1)</script>',
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<a href="vbscript:msgbox(1)">x</a>',
]
SCRIPTABLE_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "form",
    "style",
    "meta",
    "base",
    "link",
    "svg",
    "math",
    "input",
    "textarea",
    "details",
    "video",
    "source",
    "body",
    "noscript",
}
URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "xlink:href"}


class _Elements(HTMLParser):
    """Collects every element and attribute a browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def dangers(html: str) -> list[str]:
    parser = _Elements()
    parser.feed(html)
    problems = []
    for tag, attrs in parser.found:
        if tag in SCRIPTABLE_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs:
            url = re.sub(r"[\s\x00-\x1f]", "", (value or "")).lower()
            if name.startswith("on") or name == "style":
                problems.append(f"{tag} {name}=")
            if name in URL_ATTRIBUTES and url.startswith(("javascript:", "vbscript:", "data:")):
                problems.append(f"{tag} {name}={value}")
    return problems


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_corpus_is_neutralised(payload: str) -> None:
    html = render_markdown(payload)
    assert dangers(html) == [], html


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("**bold** and _em_", "<strong>bold</strong> and <em>em</em>"),
        ("[site](https://example.org)", 'href="https://example.org"'),
        ("[mail](mailto:a@example.org)", 'href="mailto:a@example.org"'),
        ("![cat](/media/abc.png)", 'src="/media/abc.png"'),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "<td>1</td>"),
        ("```\ncode <b>\n```", "code &lt;b&gt;"),
        ("~~gone~~", "<s>gone</s>"),
    ],
)
def test_ordinary_markdown_survives(source: str, expected: str) -> None:
    assert expected in render_markdown(source)


def test_oracle_catches_script() -> None:
    # The checker must be able to fail, or the corpus test proves nothing.
    assert dangers('<img src=x onerror="a()">') == ["img onerror="]
    assert dangers('<a href=" JAVAscript:x">') != []
    assert dangers("<script>x</script>") == ["<script>"]


def test_links_get_rel_noopener() -> None:
    assert 'rel="noopener noreferrer nofollow"' in render_markdown("[x](https://example.org)")


async def test_page_serves_only_sanitized_html(client: TestClient, db: sqlite3.Connection) -> None:
    body = "\n\n".join(XSS_CORPUS)
    post = posts.create_post(db, title="<script>t()</script>", body_md=body, status="published")
    html = await (await client.get(f"/posts/{post.slug}")).text()
    article = html[html.index("<article") : html.index("</article>")]
    assert dangers(article) == []
    assert "&lt;script&gt;t()&lt;/script&gt;" in article  # the title is escaped, not dropped

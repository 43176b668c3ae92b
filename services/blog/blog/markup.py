"""Markdown to safe HTML: markdown-it-py renders, nh3 (ammonia) sanitizes, within bounds.

The sanitizer is the security boundary, not the renderer: raw HTML in Markdown is
allowed through the renderer and then cleaned by an allow-list, so no post can run
script in a reader's browser whatever its source says.

Bounds, checked before each library runs on the text: a source over MAX_SOURCE_BYTES
(413) and HTML nested deeper than MAX_DEPTH (400) are refused with a message that
says so. Both libraries cost time that grows with nesting (the sanitizer's tree
builder looks through the open elements at every tag: 100,000 nested blockquotes took
30 s). The web server runs this module in worker processes with a time limit on top
(rendering.py); blogctl runs it in its own process.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt

from .refusal import Refusal

MAX_SOURCE_BYTES = 256 * 1024  # UTF-8 bytes of Markdown: about 40,000 words
MAX_DEPTH = 32  # elements open inside each other, Markdown and raw HTML alike

# markdown-it silently drops what lies deeper than maxNesting; set above MAX_DEPTH, any
# drop leaves HTML deeper than MAX_DEPTH, which nesting_depth() then refuses.
_renderer = MarkdownIt(
    "commonmark", {"html": True, "linkify": False, "maxNesting": MAX_DEPTH + 2}
).enable(["table", "strikethrough"])


class MarkupError(Refusal):
    """The text was refused before or while rendering; the message says how to fix it.

    `status` is the HTTP status for a web request: 413 (too large) or 400.
    """


class SourceTooLarge(MarkupError):
    status = 413


class NestedTooDeep(MarkupError):
    pass


def check_size(source: str) -> None:
    """Raise SourceTooLarge when the UTF-8 form of `source` exceeds MAX_SOURCE_BYTES."""
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise SourceTooLarge(
            f"The text is {size // 1024} KiB; the limit is {MAX_SOURCE_BYTES // 1024} KiB."
            " Split it into several posts."
        )


# Elements with no content, and those a following sibling closes implicitly (the
# HTML Standard's "optional end tags"), so ordinary hand-written HTML is not over-counted.
VOID_ELEMENTS = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()
)
CLOSED_BY = {
    "p": frozenset(
        "address article aside blockquote details div dl fieldset figcaption figure footer"
        " form h1 h2 h3 h4 h5 h6 header hr main menu nav ol p pre section table ul".split()
    ),
    "li": frozenset({"li"}),
    "dt": frozenset({"dt", "dd"}),
    "dd": frozenset({"dt", "dd"}),
    "tr": frozenset({"tr"}),
    "td": frozenset({"td", "th", "tr"}),
    "th": frozenset({"td", "th", "tr"}),
    "option": frozenset({"option"}),
}


class _TooDeep(Exception):
    pass


class _DepthGauge(HTMLParser):
    """Tracks the open elements as a browser would, closely enough to bound the depth."""

    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=False)
        self.limit = limit
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in VOID_ELEMENTS:
            return
        if self.open and tag in CLOSED_BY.get(self.open[-1], ()):
            self.open.pop()
        self.open.append(tag)
        if len(self.open) > self.limit:
            raise _TooDeep

    # `<b/>` opens b in HTML: the slash means nothing on a non-void element.
    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]


def exceeds_depth(html: str, limit: int = MAX_DEPTH) -> bool:
    """Whether `html` opens more than `limit` elements inside each other (linear time)."""
    gauge = _DepthGauge(limit)
    try:
        gauge.feed(html)
        gauge.close()
    except _TooDeep:
        return True
    return False


ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "code": {"class"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def sanitize(html: str) -> str:
    """Keep only allow-listed tags, attributes and URL schemes."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


# The excerpt marker (discovery.py): a line of its own, outside code. The text before it
# and the text after are rendered apart and joined by MORE, which the blog writes itself
# (the sanitizer removes every comment an author wrote).
MORE = "<!--more-->"
_MORE_LINE = re.compile(r"^ {0,3}<!--\s*more\s*-->[ \t]*$", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)


def render_markdown(source: str) -> str:
    """Markdown source to sanitized HTML, ready to be marked safe in templates; the first
    excerpt marker line outside a code fence becomes MORE.

    Raises SourceTooLarge or NestedTooDeep (MarkupError) for text over the bounds.
    """
    check_size(source)
    found = _MORE_LINE.search(source)
    if found and len(_FENCE.findall(source, 0, found.start())) % 2 == 0:
        head, tail = source[: found.start()], source[found.end() :]
        return f"{_render(head).rstrip()}\n{MORE}\n{_render(tail)}"
    return _render(source)


def _render(source: str) -> str:
    html = _renderer.render(source)
    if exceeds_depth(html):
        raise NestedTooDeep(
            f"The text nests more than {MAX_DEPTH} levels deep (quotes, lists or HTML"
            " elements inside each other). Flatten it."
        )
    return sanitize(html)


def plain_text(html: str) -> str:
    """Visible text of sanitized HTML, for summaries and search snippets."""
    text = nh3.clean(html, tags=set())
    return re.sub(r"\s+", " ", text).strip()


def one_line(text: str) -> str:
    """`text` without control characters (Unicode Cc: no page, feed or XML can show
    them), whitespace runs made one space, stripped: a title as pages show it."""
    visible = "".join(c if unicodedata.category(c) != "Cc" or c.isspace() else "" for c in text)
    return " ".join(visible.split())


def slugify(text: str, fallback: str = "post") -> str:
    """ASCII, lowercase, hyphen-separated; never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].strip("-") or fallback

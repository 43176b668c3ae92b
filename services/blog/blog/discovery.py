"""What helps a reader find their way: excerpts with "Read more", the month archive, and
search snippets with the matched words highlighted.

Excerpts: an author ends the excerpt with a line `<!--more-->` (WordPress's marker);
markup.render_markdown keeps that one marker in the stored HTML (MORE). Without it the
excerpt is the text up to the end of its first paragraph.
"""

from __future__ import annotations

import calendar
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, tzinfo

from markupsafe import Markup, escape

from . import posts, timefmt
from .markup import MORE

_FIRST_PARAGRAPH_END = re.compile(r"</p>")


@dataclass(frozen=True, slots=True)
class Excerpt:
    html: str
    cut: bool  # whether there is more than the excerpt (a "Read more" link)


def excerpt(body_html: str) -> Excerpt:
    """The excerpt of sanitized HTML: before the author's marker, else through the first
    paragraph (whole elements only: the cut never splits one)."""
    head, marker, _ = body_html.partition(MORE)
    if marker:
        return Excerpt(head.rstrip(), True)
    found = _FIRST_PARAGRAPH_END.search(body_html)
    if found is None:
        return Excerpt(body_html, False)
    head = body_html[: found.end()]
    return Excerpt(head, bool(body_html[found.end() :].strip()))


_HIT = re.compile(re.escape(posts.HIT_START) + "(.*?)" + re.escape(posts.HIT_END), re.DOTALL)


def highlight(snippet: str) -> Markup:
    """A search snippet as safe HTML: everything escaped, then each matched word in <mark>.
    Markers left unpaired (the text itself held such a control character) are dropped."""
    escaped = str(escape(snippet))
    marked = _HIT.sub(lambda found: f"<mark>{found.group(1)}</mark>", escaped)
    return Markup(marked.replace(posts.HIT_START, "").replace(posts.HIT_END, ""))  # noqa: S704


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int
    count: int

    @property
    def name(self) -> str:
        return f"{calendar.month_name[self.month]} {self.year}"

    @property
    def path(self) -> str:
        return f"/archive/{self.year}/{self.month:02d}"


MAX_DATES = 100_000  # publication dates read for the month list (only the integers)


def months(conn: sqlite3.Connection, now: int, zone: tzinfo) -> list[Month]:
    """Months (in the site's zone) with visible posts, newest first, with their counts.

    Grouped in Python: a month's edges move with the zone's daylight saving time, which
    SQLite cannot compute."""
    where = f"{posts.VISIBLE_SQL} AND posts.kind = 'post'"
    rows = conn.execute(
        f"SELECT published_at FROM posts WHERE {where} LIMIT ?",  # noqa: S608
        (now, MAX_DATES),
    )
    counts = Counter(
        (moment.year, moment.month) for moment in (timefmt.moment(row[0], zone) for row in rows)
    )
    return [Month(y, m, n) for (y, m), n in sorted(counts.items(), reverse=True)]


def month_bounds(year: int, month: int, zone: tzinfo) -> tuple[int, int]:
    """[start, end) of a calendar month in the zone, in Unix seconds; ValueError for a
    month that does not exist."""
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return int(start.timestamp()), int(end.timestamp())

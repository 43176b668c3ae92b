"""Unix seconds to the date formats pages and feeds need, in the site's time zone.

The database keeps Unix seconds (UTC); only showing and reading a date uses a zone
(the site setting, an IANA name read through zoneinfo). Feeds write the zone's exact
offset (RFC 3339 `+01:00`, RFC 822 `+0100`), so a reader converts back to the same
instant; HTTP dates stay in GMT, as RFC 9110 5.6.7 requires.

Publication times are bounded to EARLIEST..LATEST (1970 to 9998, UTC): every zone's
offset (at most 14 hours) keeps such an instant inside Python's years 1..9999, so a
later change of the site's zone cannot make a stored date unshowable. Every way in
(the editor, the imports) checks `in_range`; formatting clamps a stored value outside
it (a database written before the bound) instead of raising.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime, tzinfo
from email.utils import format_datetime


@functools.cache
def zone_names() -> frozenset[str]:
    """Every IANA zone name this machine (or the tzdata package) knows."""
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


EARLIEST = 0  # 1970-01-01T00:00:00Z
LATEST = 253370764799  # 9998-12-31T23:59:59Z
RANGE_TEXT = "between 1 January 1970 and 31 December 9998"


class OutOfRangeError(ValueError):
    """A valid date and time the blog does not accept for publication (see in_range)."""


def in_range(seconds: int) -> bool:
    """Whether a publication time (Unix seconds) is one the blog stores: EARLIEST..LATEST."""
    return EARLIEST <= seconds <= LATEST


def moment(seconds: int, zone: tzinfo = UTC) -> datetime:
    """Unix seconds as an aware datetime in the zone; never raises: a value outside
    EARLIEST..LATEST (stored before the bound existed) is shown as the nearest bound."""
    return datetime.fromtimestamp(min(max(seconds, EARLIEST), LATEST), tz=zone)


def iso8601(seconds: int | None, zone: tzinfo = UTC) -> str:
    """RFC 3339 with the zone's offset at that instant (Z for UTC), as Atom, sitemaps and
    <time datetime> want."""
    return "" if seconds is None else moment(seconds, zone).isoformat().replace("+00:00", "Z")


def rfc822(seconds: int, zone: tzinfo | None = None) -> str:
    """RFC 822/1123 date: GMT when no zone is given (HTTP Last-Modified), else with the
    zone's numeric offset (RSS pubDate)."""
    if zone is None:
        return format_datetime(moment(seconds), usegmt=True)
    return format_datetime(moment(seconds, zone))


def zone_label(zone: tzinfo) -> str:
    """The zone's name as people read it: the IANA key (Europe/Paris), or UTC."""
    return getattr(zone, "key", None) or str(zone)


def human(seconds: int | None, zone: tzinfo = UTC) -> str:
    """The date in the zone: 15 January 2027."""
    return "" if seconds is None else moment(seconds, zone).strftime("%d %B %Y")


def human_time(seconds: int | None, zone: tzinfo = UTC) -> str:
    """Date and minute in the zone, zone named: 30 November 2026, 14:02 Europe/Paris."""
    if seconds is None:
        return ""
    return moment(seconds, zone).strftime("%d %B %Y, %H:%M ") + zone_label(zone)


def local_input(seconds: int | None, zone: tzinfo = UTC) -> str:
    """Value for <input type=datetime-local>, wall-clock time in the zone."""
    return "" if seconds is None else moment(seconds, zone).strftime("%Y-%m-%dT%H:%M")


def parse_local_input(text: str, zone: tzinfo = UTC) -> int | None:
    """Parse a datetime-local value as wall-clock time in `zone`; None when empty.

    A time the clocks skip (spring forward) or pass twice (fall back) is read as
    Python's fold=0 reads it (PEP 495): the earlier of the two, or the offset in force
    before the change. Raises ValueError for text that is no date and time, and its
    subclass OutOfRangeError for one outside EARLIEST..LATEST.
    """
    text = text.strip()
    if not text:
        return None
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        seconds = int(parsed.timestamp())
    except (OverflowError, OSError):
        raise OutOfRangeError(text) from None
    if not in_range(seconds):
        raise OutOfRangeError(text)
    return seconds

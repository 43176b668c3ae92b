"""Unix seconds to the date formats pages and feeds need (always UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime


def _dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def iso8601(seconds: int | None) -> str:
    """RFC 3339, as Atom and <time datetime> want."""
    return "" if seconds is None else _dt(seconds).isoformat().replace("+00:00", "Z")


def rfc822(seconds: int) -> str:
    """RFC 822/1123 date, as RSS and HTTP Last-Modified want."""
    return format_datetime(_dt(seconds), usegmt=True)


def human(seconds: int | None) -> str:
    return "" if seconds is None else _dt(seconds).strftime("%d %B %Y")


def human_time(seconds: int | None) -> str:
    """Date and minute, for "saved at" notes: 30 November 2026, 14:02 UTC."""
    return "" if seconds is None else _dt(seconds).strftime("%d %B %Y, %H:%M UTC")


def local_input(seconds: int | None) -> str:
    """Value for <input type=datetime-local>, in UTC."""
    return "" if seconds is None else _dt(seconds).strftime("%Y-%m-%dT%H:%M")


def parse_local_input(text: str) -> int | None:
    """Parse a datetime-local value (taken as UTC); None when empty."""
    text = text.strip()
    if not text:
        return None
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())

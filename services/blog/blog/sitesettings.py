"""Site settings an admin changes from the browser: title, description, time zone,
language, posts per page, the default sharing image and the favicon.

They are stored in the database (table site_settings, one row per key an admin has
saved). The environment (config.Settings: BLOG_TITLE, BLOG_DESCRIPTION, BLOG_TIMEZONE,
BLOG_LANGUAGE, BLOG_POSTS_PER_PAGE) only gives the initial defaults: a key that was
never saved takes its value from there.

Saving writes the database, so every public validator moves (conditional.py: ETags
follow SQLite's data_version), and records `settings_changed_at` in site_state, which
feeds and the sitemap count in their Last-Modified.
"""

from __future__ import annotations

import sqlite3
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, fields

from aiohttp import web

from . import keys
from .config import LANGUAGE_PATTERN, Settings
from .db import transaction
from .markup import one_line
from .media import NAME_PATTERN
from .posts import mark_shown_change
from .timefmt import zone_names

MAX_TITLE = 100
MAX_DESCRIPTION = 300


class SettingsError(ValueError):
    """A value the settings page cannot take; the message names the field and the fix."""


def check_zone(name: str) -> str:
    """`name` when it is an IANA time zone (Europe/Paris, UTC); SettingsError otherwise."""
    if name not in zone_names():
        raise SettingsError(
            f"time zone {name!r} is unknown; use an IANA name such as Europe/Paris,"
            " America/New_York or UTC"
        )
    return name


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """The settings in force. `share_image` and `favicon` are names of images in the
    media library ("" for the packaged defaults)."""

    title: str
    description: str
    timezone: str
    language: str
    posts_per_page: int
    share_image: str = ""
    favicon: str = ""

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def defaults(settings: Settings) -> SiteSettings:
    """The initial values, from the environment."""
    return SiteSettings(
        title=settings.title,
        description=settings.description,
        timezone=settings.timezone,
        language=settings.language,
        posts_per_page=settings.posts_per_page,
    )


def load(conn: sqlite3.Connection, settings: Settings) -> SiteSettings:
    """The settings in force: what was saved, over the environment's defaults. A stored
    value that no longer validates (a zone this machine lost) falls back to the defaults;
    an image deleted from the library falls back to the packaged one."""
    current = defaults(settings)
    stored = dict(conn.execute("SELECT key, value FROM site_settings").fetchall())
    for key in ("share_image", "favicon"):
        if stored.get(key) and not _media_exists(conn, stored[key]):
            stored[key] = ""
    try:
        return checked({**as_form(current), **stored}, conn)
    except SettingsError:
        return current


def as_form(site: SiteSettings) -> dict[str, str]:
    """The settings as the form's text fields."""
    return {f.name: str(getattr(site, f.name)) for f in fields(SiteSettings)}


def _media_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM media WHERE name = ?", (name,)).fetchone() is not None


def checked(values: Mapping[str, str], conn: sqlite3.Connection) -> SiteSettings:
    """The form's values as SiteSettings; SettingsError naming the first bad field."""
    title = one_line(values.get("title", ""))
    if not 1 <= len(title) <= MAX_TITLE:
        raise SettingsError(f"The title must be 1 to {MAX_TITLE} characters.")
    description = one_line(values.get("description", ""))
    if len(description) > MAX_DESCRIPTION:
        raise SettingsError(f"The description must be at most {MAX_DESCRIPTION} characters.")
    language = values.get("language", "").strip()
    if not LANGUAGE_PATTERN.match(language):
        raise SettingsError("The language must be a language tag such as en, fr or en-GB.")
    raw_count = values.get("posts_per_page", "").strip()
    if not (raw_count.isascii() and raw_count.isdigit() and 1 <= int(raw_count) <= 100):
        raise SettingsError("Posts per page must be a whole number from 1 to 100.")
    images = {}
    for key, label in (("share_image", "sharing image"), ("favicon", "favicon")):
        name = values.get(key, "").strip()
        if name and not (NAME_PATTERN.match(name) and _media_exists(conn, name)):
            raise SettingsError(f"The {label} must be an image from the Images page, or none.")
        images[key] = name
    return SiteSettings(
        title=title,
        description=description,
        timezone=check_zone(values.get("timezone", "").strip()),
        language=language,
        posts_per_page=int(raw_count),
        **images,
    )


def save(conn: sqlite3.Connection, site: SiteSettings, now: int) -> None:
    """Store every setting and when they changed (feeds' Last-Modified counts it)."""
    with transaction(conn):
        for key, value in as_form(site).items():
            conn.execute(
                "INSERT OR REPLACE INTO site_settings (key, value) VALUES (?, ?)", (key, value)
            )
        mark_shown_change(conn, now)


SITE = web.RequestKey("site", SiteSettings)


def site_of(request: web.Request) -> SiteSettings:
    """The site settings in force for this request (read once per request)."""
    site = request.get(SITE)
    if site is None:
        settings = request.app[keys.SETTINGS]
        try:
            site = load(request.app[keys.DB], settings)
        except (sqlite3.Error, KeyError):  # an error page while the database is down
            site = defaults(settings)
        request[SITE] = site
    return site

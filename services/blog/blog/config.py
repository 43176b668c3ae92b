"""Typed configuration read once from the environment and validated at start.

Every setting lives in `Settings`; `load_settings()` is the only place that reads
`os.environ`, and every error names the variable and the fix.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from .timefmt import zone_names

# A Host header value (name or bracketed IPv6, optional port); X-Forwarded-Host and
# BLOG_PUBLIC_URL must match it. Here, not in forwarded.py, so that importing the
# settings (blogctl healthcheck, every 5 s) does not import aiohttp.
HOST_PATTERN = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


# A language tag as <html lang> takes it (BCP 47's common shapes: en, en-GB, zh-Hant-TW).
LANGUAGE_PATTERN = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")

# Absolute links without BLOG_PUBLIC_URL: right for this machine only; a warning says so.
FALLBACK_ORIGIN = "https://localhost"

AccessMode = Literal["password", "open"]
ACCESS_MODES: tuple[AccessMode, ...] = ("password", "open")
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"", "0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting is invalid; the message names the variable and how to fix it."""


@dataclass(frozen=True, slots=True)
class Settings:
    bind: str = "127.0.0.1"
    port: int = 4334
    data_dir: Path = Path("data")
    access_mode: AccessMode = "password"
    trust_local: bool = False
    # IPs, CIDRs or host names; names are resolved at run time (see forwarded.py).
    trusted_proxies: tuple[str, ...] = ()
    # Initial defaults of the site settings (sitesettings.py); the settings page overrides.
    title: str = "Weblog"
    posts_per_page: int = 10
    description: str = ""
    timezone: str = "UTC"
    language: str = "en"
    session_idle_seconds: int = 60 * 60
    session_absolute_seconds: int = 12 * 60 * 60
    max_upload_bytes: int = 5 * 1024 * 1024
    # "https://host[:port]" as browsers reach the blog, or "" when not configured.
    public_url: str = ""
    # Where the proxy publishes the blog (BLOG_PUBLISHED_ON), for open mode's warning.
    published_on: tuple[str, ...] = ()

    @property
    def link_origin(self) -> str:
        """The origin of every absolute link the blog writes (feeds): the configured
        public URL, never the request's Host; FALLBACK_ORIGIN when none is configured."""
        return self.public_url or FALLBACK_ORIGIN

    @property
    def db_path(self) -> Path:
        return self.data_dir / "blog.sqlite3"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def templates_dir(self) -> Path:
        return self.data_dir / "templates"


def _bool(env: Mapping[str, str], key: str) -> bool:
    raw = env.get(key, "").strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ConfigError(f"{key}={raw!r} is not a boolean; use 1/true/yes/on or 0/false/no/off")


def _int(env: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise ConfigError(f"{key}={value} is out of range; use {low}..{high}")
    return value


# Durations are written one way across the kit: a whole number and a unit (90d, 12h, 30s).
DURATION = re.compile(r"^([0-9]{1,9})\s*([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(env: Mapping[str, str], key: str, low: int, high: int) -> int | None:
    """Seconds for a duration setting such as `30s`, `90m`, `12h` or `7d`; None when unset."""
    raw = env.get(key, "").strip().lower()
    if not raw:
        return None
    found = DURATION.match(raw)
    if found is None:
        raise ConfigError(
            f"{key}={raw!r} is not a duration; write a whole number and a unit (s, m, h or d),"
            " such as 30s, 90m or 12h"
        )
    seconds = int(found.group(1)) * UNIT_SECONDS[found.group(2)]
    if not low <= seconds <= high:
        raise ConfigError(f"{key}={raw} is out of range; use {low}s to {high // 86400}d")
    return seconds


def _session_lifetimes(env: Mapping[str, str]) -> tuple[int, int]:
    """(idle, absolute) session lifetimes in seconds: BLOG_SESSION_IDLE and BLOG_SESSION_MAX,
    or the older whole-number BLOG_SESSION_IDLE_MINUTES and BLOG_SESSION_MAX_HOURS."""
    idle = _duration(env, "BLOG_SESSION_IDLE", 10, 7 * 86400)
    if idle is None:
        idle = _int(env, "BLOG_SESSION_IDLE_MINUTES", 60, 1, 7 * 24 * 60) * 60
    absolute = _duration(env, "BLOG_SESSION_MAX", 10, 30 * 86400)
    if absolute is None:
        absolute = _int(env, "BLOG_SESSION_MAX_HOURS", 12, 1, 30 * 24) * 3600
    if idle > absolute:
        raise ConfigError(
            f"BLOG_SESSION_IDLE ({idle} s) is longer than BLOG_SESSION_MAX ({absolute} s);"
            " a session would end at its maximum first: shorten the idle time"
        )
    return idle, absolute


def _access_mode(env: Mapping[str, str]) -> AccessMode:
    raw = env.get("BLOG_ACCESS_MODE", "password").strip().lower() or "password"
    for mode in ACCESS_MODES:
        if raw == mode:
            return mode
    raise ConfigError(
        f"BLOG_ACCESS_MODE={raw!r} is not supported; use 'password' (default) or 'open'"
    )


def _published_on(env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(a.strip() for a in env.get("BLOG_PUBLISHED_ON", "").split(",") if a.strip())


def _open_reach(env: Mapping[str, str], mode: AccessMode, bind: str) -> None:
    """Refuse open mode where other machines can reach it, unless that is said explicitly.

    The addresses are BLOG_PUBLISHED_ON (compose passes the proxy's PUBLISH_ADDRESS and
    PUBLISH_ADDRESS_V6), else the blog's own BLOG_BIND. Raises ConfigError naming the fix.
    """
    if mode != "open" or _bool(env, "BLOG_OPEN_ON_NETWORK"):
        return
    published = _published_on(env)
    reachable = [a for a in published or (bind,) if not _is_loopback(a)]
    if reachable:
        where = "PUBLISH_ADDRESS / PUBLISH_ADDRESS_V6" if published else "BLOG_BIND"
        raise ConfigError(
            f"BLOG_ACCESS_MODE=open (no login, every visitor is an admin) while the blog is "
            f"reachable on {', '.join(reachable)} ({where}): anyone on the network could "
            "rewrite or delete it. Set PUBLISH_ADDRESS=127.0.0.1 and PUBLISH_ADDRESS_V6=[::1] "
            "(BLOG_BIND=127.0.0.1 without the kit), or use the default BLOG_ACCESS_MODE=password."
            " On a network where every device and program is trusted, say so with "
            "BLOG_OPEN_ON_NETWORK=yes."
        )


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return address.lower() == "localhost"


def _trusted_proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    entries = tuple(p.strip() for p in env.get("BLOG_TRUSTED_PROXIES", "").split(",") if p.strip())
    for entry in entries:
        if "/" in entry:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ConfigError(
                    f"BLOG_TRUSTED_PROXIES entry {entry!r} is not a valid CIDR network"
                ) from None
        elif any(c in entry for c in " \t@:") and not _is_ip(entry):
            raise ConfigError(
                f"BLOG_TRUSTED_PROXIES entry {entry!r} is neither an IP, a CIDR nor a host name"
            )
    return entries


def _public_url(env: Mapping[str, str]) -> str:
    """The origin the first-admin setup link is logged with: https, nothing after the host."""
    raw = env.get("BLOG_PUBLIC_URL", "").strip()
    if not raw:
        return ""
    fix = "use the address browsers open, such as https://blog.example or https://host:8443"
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"BLOG_PUBLIC_URL={raw!r} is not a valid URL; {fix}") from None
    if parts.scheme.lower() != "https":
        raise ConfigError(f"BLOG_PUBLIC_URL={raw!r} must start with https://; {fix}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise ConfigError(f"BLOG_PUBLIC_URL={raw!r} must not have a path, query or fragment; {fix}")
    if parts.username is not None or not HOST_PATTERN.match(parts.netloc):
        raise ConfigError(f"BLOG_PUBLIC_URL={raw!r} needs a plain host name or address; {fix}")
    return f"https://{parts.netloc}"


def _timezone(env: Mapping[str, str]) -> str:
    """BLOG_TIMEZONE: an IANA zone name (zoneinfo), UTC when unset."""
    raw = env.get("BLOG_TIMEZONE", "").strip() or "UTC"
    if raw not in zone_names():
        raise ConfigError(
            f"BLOG_TIMEZONE={raw!r} is not a known time zone; use an IANA name such as"
            " Europe/Paris or America/New_York, or UTC"
        )
    return raw


def _language(env: Mapping[str, str]) -> str:
    raw = env.get("BLOG_LANGUAGE", "").strip() or "en"
    if not LANGUAGE_PATTERN.match(raw):
        raise ConfigError(f"BLOG_LANGUAGE={raw!r} is not a language tag; use one such as en or fr")
    return raw


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from environment variables (os.environ by default)."""
    env = os.environ if env is None else env
    session_idle, session_absolute = _session_lifetimes(env)
    bind = env.get("BLOG_BIND", "127.0.0.1").strip() or "127.0.0.1"
    access_mode = _access_mode(env)
    _open_reach(env, access_mode, bind)
    return Settings(
        bind=bind,
        port=_int(env, "BLOG_PORT", 4334, 0, 65535),
        data_dir=Path(env.get("BLOG_DATA_DIR", "data").strip() or "data"),
        access_mode=access_mode,
        trust_local=_bool(env, "BLOG_TRUST_LOCAL"),
        trusted_proxies=_trusted_proxies(env),
        title=env.get("BLOG_TITLE", "").strip() or "Weblog",
        posts_per_page=_int(env, "BLOG_POSTS_PER_PAGE", 10, 1, 100),
        description=" ".join(env.get("BLOG_DESCRIPTION", "").split())[:300],
        timezone=_timezone(env),
        language=_language(env),
        session_idle_seconds=session_idle,
        session_absolute_seconds=session_absolute,
        max_upload_bytes=_int(env, "BLOG_MAX_UPLOAD_MB", 5, 1, 100) * 1024 * 1024,
        public_url=_public_url(env),
        published_on=_published_on(env),
    )

"""Where a redirect may send a browser: one check, used by every redirect the blog makes.

A target is resolved the way a browser resolves a `Location` (the WHATWG URL
Standard, through ada-url, the parser Node.js uses): tabs and newlines vanish,
backslashes are slashes, `/./`, `..` and percent-encoded dots are resolved. Only a
target whose origin is the blog's own is accepted, and what is sent is ada's
serialization of its path, query and fragment: ASCII with every control, space and
non-ASCII character percent-encoded, so it is also always a valid header value.
"""

from __future__ import annotations

from ada_url import URL

# A placeholder origin (RFC 2606 reserves .invalid): only "same origin" matters, and a
# target naming this origin explicitly is sent as the path it names, harmlessly.
BASE = "https://blog.invalid"
MAX_LENGTH = 2048
DEFAULT_AFTER_LOGIN = "/dashboard"


def local_target(value: object) -> str | None:
    """The same-origin `/path?query#fragment` a browser would go to for `value`, or None.

    None for anything that is not a string, is longer than MAX_LENGTH, does not parse,
    leaves the origin, or whose path starts with `//` (as a Location it would name a
    host: `/.//evil.example` resolves to the path `//evil.example`).
    """
    if not isinstance(value, str) or len(value) > MAX_LENGTH:
        return None
    try:
        url = URL(value, BASE)
    except ValueError:
        return None
    if url.origin != BASE or url.pathname.startswith("//"):
        return None
    return url.pathname + url.search + url.hash


def after_login(value: object) -> str:
    """The `next` of a login form if it is a local target, else /dashboard (also when empty)."""
    return (local_target(value) if value else None) or DEFAULT_AFTER_LOGIN

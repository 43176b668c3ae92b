"""Security headers on every response, including errors and static files.

Runs as an on_response_prepare signal so that nothing, not even an exception page,
leaves without them. A handler's own stricter header (media files) is kept.
"""

from __future__ import annotations

from aiohttp import web

from .sessions import COOKIE_NAME as SESSION_COOKIE

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
COMMON_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
AUTHORING_PREFIXES = ("/dashboard", "/login", "/logout", "/setup/", "/password-link/")
# The setup link's path is a secret: no Referer may carry it to the stylesheet or beyond.
NO_REFERRER_PREFIX = ("/setup/", "/password-link/")  # a secret in the URL


# Not aiohttp's default "Python/3.11 aiohttp/x.y.z": versions help only an attacker.
SERVER_NAME = "blog"


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER_NAME
    if request.path.startswith(NO_REFERRER_PREFIX):
        response.headers["Referrer-Policy"] = "no-referrer"
    for name, value in COMMON_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith(AUTHORING_PREFIXES) or request.cookies.get(SESSION_COOKIE):
        # Pages made for a logged-in author must never sit in a shared or browser cache.
        response.headers["Cache-Control"] = "no-store"

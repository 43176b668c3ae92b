"""GET /healthz: 200 when the database answers, 503 otherwise."""

from __future__ import annotations

from aiohttp import web

from .. import keys
from ..db import is_healthy


async def healthz(request: web.Request) -> web.Response:
    if is_healthy(request.app[keys.DB]):
        return web.json_response({"status": "ok"})
    return web.json_response({"status": "database unavailable"}, status=503)

"""The fixed-response backend: aiohttp's low-level server on uvloop, as in the issue.

Run with the project's ``.venv`` (it has aiohttp and uvloop):
``python -m blogkit_bench.backend PORT``. Paths:

- ``/small``: a 1 KiB body; ``/mib``: a 1 MiB body (both prepared once at start);
- ``/upload``: reads the whole request body, answers with its length.
"""

from __future__ import annotations

import asyncio
import sys

import uvloop
from aiohttp import web

SMALL = b"s" * 1024
MIB = b"m" * (1024 * 1024)
BODIES = {"/small": SMALL, "/mib": MIB}


async def answer(request: web.BaseRequest) -> web.StreamResponse:
    body = BODIES.get(request.path)
    if body is not None:
        return web.Response(body=body, content_type="application/octet-stream")
    if request.path == "/upload":
        received = 0
        while chunk := await request.content.readany():
            received += len(chunk)
        return web.Response(text=f"{received}\n")
    return web.Response(status=404, text="not found\n")


async def serve(port: int) -> None:
    server = web.Server(answer, access_log=None)
    loop = asyncio.get_running_loop()
    await loop.create_server(server, "127.0.0.1", port, backlog=1024)
    print(f"backend: listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))

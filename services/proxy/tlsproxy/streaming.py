"""Bodies in motion: the client's request body as a size-limited stream toward the
backend, and the backend's response relayed chunk by chunk (bounded memory,
server-sent events flushed as they arrive)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web


class BodyTooLarge(Exception):
    """A chunked request body went over ``limits.max_body_bytes`` while streaming."""


class LimitedBody:
    """Async iterator over the client's body that enforces the size limit and the
    stall time-out (a client that stops sending must not hold a backend forever)."""

    def __init__(self, request: web.BaseRequest, limit: int, stall_timeout: float) -> None:
        self._content = request.content
        self._limit = limit
        self._stall_timeout = stall_timeout
        self.received = 0
        self.too_large = False
        self.stalled = False

    def __aiter__(self) -> LimitedBody:
        return self

    async def __anext__(self) -> bytes:
        try:
            async with asyncio.timeout(self._stall_timeout):
                chunk = await self._content.readany()
        except TimeoutError:
            self.stalled = True
            raise
        if not chunk:
            raise StopAsyncIteration
        self.received += len(chunk)
        if self._limit and self.received > self._limit:
            self.too_large = True
            raise BodyTooLarge
        return chunk


class RelayedResponse(web.StreamResponse):
    """A streamed backend response that counts the body bytes it relayed (access log)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.relayed_bytes = 0


def body_size(response: web.StreamResponse) -> int:
    """Body bytes for the access log."""
    if isinstance(response, RelayedResponse):
        return response.relayed_bytes
    # The proxy's own small answers are not sent yet; their length is known.
    return response.content_length or 0


def client_gone(request: web.BaseRequest) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()

"""Slow clients: 200 TLS connections dripping their headers do not starve a normal client.

The latency of the normal client meanwhile is reported (printed and in the session
summary), never asserted: this machine is shared and no timing is promised.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import aiohttp

from .conftest import Kit
from .stack_probes import record

SLOW_CLIENTS = 200
NORMAL_SECONDS = 8.0  # the normal client's time among the slow ones; all within
# header_timeout (30 s), so the slow clients stay connected throughout


async def drip(kit: Kit, stop: asyncio.Event, still_open: list[bool]) -> None:
    """One slow client: a TLS connection sending its request one byte a second."""
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", kit.https_port, ssl=kit.ssl_context(), server_hostname="localhost"
        )
    except OSError:
        still_open.append(False)
        return
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 200
    try:
        for byte in request:
            if stop.is_set():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(1)
        still_open.append(not reader.at_eof())
    except (ConnectionError, OSError):
        still_open.append(False)
    finally:
        writer.close()


async def test_200_slow_header_clients_do_not_stop_a_normal_client(stack: Kit) -> None:
    stop = asyncio.Event()
    still_open: list[bool] = []
    slow = [asyncio.create_task(drip(stack, stop, still_open)) for _ in range(SLOW_CLIENTS)]
    await asyncio.sleep(2)  # let the handshakes finish and the drip begin
    latencies: list[float] = []
    statuses: list[int] = []
    connector = aiohttp.TCPConnector(ssl=stack.ssl_context(), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as normal:
        deadline = time.monotonic() + NORMAL_SECONDS
        while time.monotonic() < deadline:
            started = time.perf_counter()
            async with normal.get(stack.url("/")) as response:  # a new TLS connection each
                await response.read()
                statuses.append(response.status)
            latencies.append(time.perf_counter() - started)
    stop.set()
    await asyncio.gather(*slow)
    assert statuses and set(statuses) == {200}, statuses
    assert len(still_open) == SLOW_CLIENTS and all(still_open), "slow clients were cut early"
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
    summary = (
        f"{len(latencies)} requests during {SLOW_CLIENTS} slow clients: "
        f"median {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )
    print(summary)
    record("slow clients (normal client latency)", summary)

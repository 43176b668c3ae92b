"""Several worker processes on the same ports (``server.workers``), one per core.

Each worker is a whole proxy (its own event loop, backend pool and limits) on its
own listening sockets bound with ``SO_REUSEPORT``: the kernel spreads new
connections over them, so no lock or shared accept queue sits on the hot path. The
parent only binds the ports first (so port 0 resolves to one port for all), forks
the workers, forwards SIGHUP (reload), SIGTERM and SIGINT to them, and waits. A
worker that dies stops the rest: the container's restart policy starts afresh.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import sys
from collections.abc import Callable

from .config import Config
from .server import bind_socket

FORWARDED_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)


def bind_reuse_port(address: str, port: int) -> socket.socket:
    """A bound (not listening) socket that holds the port for the workers' sockets."""
    return bind_socket(address, port, reuse_port=True, listen=False)


def run_workers(config: Config, serve_one: Callable[[Config], int]) -> int:
    """Fork ``config.server.workers`` processes running ``serve_one``; wait for them."""
    try:
        holders = [bind_reuse_port(lst.address, lst.port) for lst in config.listeners]
    except OSError as exc:
        print(f"tlsproxy: cannot listen: {exc}", file=sys.stderr)
        return 1
    bound = tuple(
        dataclasses.replace(lst, port=int(sock.getsockname()[1]))
        for lst, sock in zip(config.listeners, holders, strict=True)
    )
    config = dataclasses.replace(config, listeners=bound)
    workers: list[int] = []
    for _ in range(config.server.workers):
        pid = os.fork()
        if pid == 0:  # the worker: serve, never return into the parent's code
            code = 1
            try:
                for sock in holders:
                    sock.close()
                code = serve_one(config)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        workers.append(pid)
    print(f"tlsproxy: {len(workers)} workers started", file=sys.stderr, flush=True)
    try:
        return _supervise(workers)
    finally:
        for sock in holders:
            sock.close()


def _supervise(workers: list[int]) -> int:
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = stopping or signum != signal.SIGHUP
        for pid in workers:
            _signal(pid, signum)

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    code = 0
    while workers:
        pid, status = os.wait()  # retried after a forwarded signal (PEP 475)
        if pid not in workers:
            continue
        workers.remove(pid)
        exit_code = os.waitstatus_to_exitcode(status)
        if not stopping:
            print(
                f"tlsproxy: worker {pid} exited ({exit_code}); stopping the others",
                file=sys.stderr,
                flush=True,
            )
            stopping = True
            code = exit_code if exit_code > 0 else 1
            for other in workers:
                _signal(other, signal.SIGTERM)
        elif exit_code != 0:
            code = code or (exit_code if exit_code > 0 else 1)
    return code


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass  # already gone; its exit is collected by the wait loop

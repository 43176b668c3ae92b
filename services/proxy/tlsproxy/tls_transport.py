"""The HTTPS listener's transport: TLS read and written by OpenSSL straight from and to
the socket (``ssl.SSLSocket`` driven by the event loop's readiness callbacks).

asyncio's TLS goes through memory BIOs: every byte is copied into OpenSSL and out of
it again beside the socket's own copy, and the proxy's own benchmark put half of the
CPU per MiB there. Here ``SSL_read`` and ``SSL_write`` use the socket itself, as nginx
does. Owning the accept also lets the listener look at a connection's first byte
before TLS starts: a client that speaks plain HTTP to the HTTPS port gets a readable
400 saying so (as nginx does) instead of a handshake failure.

``TLSTransport`` offers what ``asyncio.Transport`` offers the protocols here (write,
writelines, close, abort, pause/resume reading, write-buffer limits and flow-control
callbacks, ``get_extra_info``: peername, sockname, socket, ssl_object).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

from .connection_limits import ConnectionGate, client_key
from .errors import PLAIN_HTTP_ON_TLS_PORT, raw_error

READ_SIZE = 16 * 1024  # per recv: OpenSSL hands out at most one record (16 KiB) a call
READS_PER_TURN = 16  # records read before the loop gets a turn (fairness)
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024
ACCEPTS_PER_TURN = 64
ACCEPT_PAUSE = 0.1  # seconds without accepting when the process is out of descriptors
_OUT_OF_RESOURCES = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))
_TLS_HANDSHAKE_RECORD = 0x16  # RFC 8446 5.1: ContentType handshake


class TLSTransport(asyncio.Transport):
    """One TLS connection; see the module docstring. Created by ``TLSListener``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: ssl.SSLSocket,
        protocol: asyncio.Protocol,
        handshake_timeout: float,
        release: Callable[[], None],
    ) -> None:
        super().__init__()
        self._release = release  # gives the connection's place back, once, at teardown
        # -- per connection
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._extra: dict[str, Any] = {}
        with contextlib.suppress(OSError):  # a peer already gone has no name
            self._extra = {"peername": sock.getpeername(), "sockname": sock.getsockname()}
        self._open = False  # the handshake is done
        self._closing = False
        self._closed = False
        # -- reading
        self._reading = False  # a reader callback is registered
        self._paused = False  # the protocol asked us to stop reading
        self._read_wants_write = False  # OpenSSL needs the socket writable to read on
        # -- writing
        self._pending: deque[bytes] = deque()  # not yet taken by OpenSSL; [0] is retried
        self._pending_size = 0
        self._writing = False  # a writer callback is registered
        self._protocol_paused = False
        self._high = HIGH_WATER
        self._low = LOW_WATER
        self._handshake_timer: asyncio.TimerHandle | None = loop.call_later(
            handshake_timeout, self.abort
        )
        self._handshake()

    # -- the handshake ---------------------------------------------------------------
    def _handshake(self) -> None:
        try:
            self._sock.do_handshake()
        except ssl.SSLWantReadError:
            self._wait_during_handshake(read=True)
            return
        except ssl.SSLWantWriteError:
            self._wait_during_handshake(read=False)
            return
        except (OSError, ValueError):  # ssl.SSLError is an OSError: a failed handshake
            self.abort()
            return
        self._stop_reading()
        if self._writing:
            self._loop.remove_writer(self._fd)
            self._writing = False
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
        self._open = True
        self._extra["ssl_object"] = self._sock
        self._protocol.connection_made(self)
        if not self._closing and not self._paused:
            self._start_reading()
            self._read_ready()  # OpenSSL may already hold the first request

    def _wait_during_handshake(self, read: bool) -> None:
        """Be called back when the socket is readable (or writable) to go on."""
        loop, fd = self._loop, self._fd
        if read:
            if self._writing:
                loop.remove_writer(fd)
                self._writing = False
            loop.add_reader(fd, self._handshake)
            self._reading = True
        else:
            if self._reading:
                loop.remove_reader(fd)
                self._reading = False
            loop.add_writer(fd, self._handshake)
            self._writing = True

    # -- reading ---------------------------------------------------------------------
    def _start_reading(self) -> None:
        if not self._reading and not self._closed:
            self._loop.add_reader(self._fd, self._read_ready)
            self._reading = True

    def _stop_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def _read_ready(self) -> None:
        sock = self._sock
        protocol = self._protocol
        for _ in range(READS_PER_TURN):
            if self._paused or self._closing:
                return
            try:
                data = sock.recv(READ_SIZE)
            except ssl.SSLWantReadError:
                return
            except ssl.SSLWantWriteError:
                self._read_wants_write = True
                self._ensure_writer()
                return
            except ssl.SSLZeroReturnError:  # close_notify: the client has finished
                data = b""
            except (OSError, ValueError) as exc:
                self._fatal(exc)
                return
            if not data:
                self._stop_reading()
                if not protocol.eof_received():
                    self.close()
                return
            protocol.data_received(data)
            if len(data) < READ_SIZE and not sock.pending():
                # Likely all there was (a request): the socket's readiness calls again
                # for more, which spares the exception of a read that finds nothing.
                return
        if sock.pending():  # more decrypted bytes are held: go on after others had a turn
            self._loop.call_soon(self._read_ready)

    def pause_reading(self) -> None:
        self._paused = True
        self._stop_reading()

    def resume_reading(self) -> None:
        if not self._paused or self._closing:
            return
        self._paused = False
        if self._open:
            self._start_reading()
            if self._sock.pending():
                self._loop.call_soon(self._read_ready)

    def is_reading(self) -> bool:
        return self._open and not self._paused and not self._closing

    # -- writing ---------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        if not self._pending:
            try:
                sent = self._sock.send(data)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass  # OpenSSL keeps what it took: retry with the very same bytes
            except (OSError, ValueError) as exc:
                self._fatal(exc)
                return
            else:
                if sent >= len(data):
                    return
                data = data[sent:]  # a partial write: the rest is a new write
        self._pending.append(bytes(data))
        self._pending_size += len(data)
        self._ensure_writer()
        self._check_high_water()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def _ensure_writer(self) -> None:
        if not self._writing and not self._closed:
            self._loop.add_writer(self._fd, self._write_ready)
            self._writing = True

    def _write_ready(self) -> None:
        if self._read_wants_write:
            self._read_wants_write = False
            self._read_ready()
        if self._closed:
            return
        pending = self._pending
        while pending and not self._closed:
            data = pending[0]
            try:
                sent = self._sock.send(data)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                break
            except (OSError, ValueError) as exc:
                self._fatal(exc)
                return
            if sent < len(data):
                pending[0] = data[sent:]
                self._pending_size -= sent
                continue
            pending.popleft()
            self._pending_size -= len(data)
            if len(pending) > 1:  # the retried write is done: the rest may go as one
                joined = b"".join(pending)
                pending.clear()
                pending.append(joined)
        if not pending:
            if self._writing:
                self._loop.remove_writer(self._fd)
                self._writing = False
            if self._closing:
                self._finish()
        if self._protocol_paused and self._pending_size <= self._low:
            self._protocol_paused = False
            self._protocol.resume_writing()

    def _check_high_water(self) -> None:
        if not self._protocol_paused and self._pending_size > self._high:
            self._protocol_paused = True
            self._protocol.pause_writing()

    def get_write_buffer_size(self) -> int:
        return self._pending_size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high = HIGH_WATER if high is None else high
        self._low = self._high // 4 if low is None else low

    def can_write_eof(self) -> bool:
        return False  # TLS has no half-close

    def write_eof(self) -> None:
        raise NotImplementedError("TLS connections cannot be half-closed")

    # -- closing ---------------------------------------------------------------------
    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Close once what was written is sent (a TLS close_notify ends it)."""
        if self._closing:
            return
        self._closing = True
        self._stop_reading()
        if not self._pending:
            self._finish()

    def abort(self) -> None:
        """Close now: unsent bytes are dropped (the peer sees a cut-off stream)."""
        self._closing = True
        self._pending.clear()
        self._pending_size = 0
        self._teardown(None, notify=True)

    def _finish(self) -> None:
        if self._open:
            with contextlib.suppress(OSError, ValueError):
                self._sock.unwrap()  # sends our close_notify; the peer's is not awaited
        self._teardown(None, notify=True)

    def _fatal(self, exc: BaseException) -> None:
        self._closing = True
        self._pending.clear()
        self._pending_size = 0
        self._teardown(exc, notify=True)

    def _teardown(self, exc: BaseException | None, notify: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self._release()
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
        self._stop_reading()
        if self._writing:
            self._loop.remove_writer(self._fd)
            self._writing = False
        with contextlib.suppress(OSError):
            self._sock.close()
        if notify and self._open:
            self._loop.call_soon(self._protocol.connection_lost, exc)

    # -- the rest of asyncio.Transport -------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self._sock
        return self._extra.get(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]


class TLSListener:
    """Accepts on ``sock`` and hands each connection to a protocol from ``factory``:
    over TLS (``TLSTransport``) when it starts with a TLS record, else it answers a
    plain-HTTP 400 and closes. ``close`` stops accepting (``asyncio.Server``-like).

    Connections are counted in ``gate`` from the moment they are accepted, handshake
    included: a client over its share, or a full proxy, has the new connection closed
    at once, before any TLS work (a handshake left hanging would otherwise hold memory
    and a descriptor for ``handshake_timeout`` seconds, uncounted).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        context: ssl.SSLContext,
        factory: Callable[[], asyncio.Protocol],
        handshake_timeout: float,
        gate: ConnectionGate,
    ) -> None:
        self.loop = loop
        self.handshake_timeout = handshake_timeout
        self.gate = gate
        self._sock = sock
        self._context = context
        self._factory = factory
        self._closed = loop.create_future()
        self._paused = False
        self.sockets = [sock]
        loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(ACCEPTS_PER_TURN):
            try:
                conn, address = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    self._pause_accepting(exc)
                return  # ECONNABORTED and the like: the next readiness tries again
            key = client_key(str(address[0]))
            if self.gate.admit(key) is not None:
                conn.close()  # over its share (or the proxy is full): no TLS work at all
                continue
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _FirstByte(self, conn, key)

    def _pause_accepting(self, exc: OSError) -> None:
        """Out of descriptors: stop for a moment instead of spinning on the error."""
        if self._paused or self._closed.done():
            return
        self._paused = True
        self.loop.remove_reader(self._sock.fileno())
        print(f"tlsproxy: cannot accept ({exc.strerror}); pausing accepts", file=sys.stderr)
        self.loop.call_later(ACCEPT_PAUSE, self._resume_accepting)

    def _resume_accepting(self) -> None:
        self._paused = False
        if not self._closed.done():
            self.loop.add_reader(self._sock.fileno(), self._accept)

    def start_tls(self, conn: socket.socket, key: str) -> None:
        try:
            sock = self._context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        except (OSError, ValueError):
            conn.close()
            self.gate.release(key)
            return
        TLSTransport(
            self.loop,
            sock,
            self._factory(),
            self.handshake_timeout,
            lambda: self.gate.release(key),
        )

    def close(self) -> None:
        if self._closed.done():
            return
        if not self._paused:
            self.loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._closed.set_result(None)

    async def wait_closed(self) -> None:
        await self._closed


class _FirstByte:
    """Waits for a new connection's first byte, without taking it: a TLS record starts
    TLS, anything else is plain HTTP sent to the HTTPS port."""

    __slots__ = ("conn", "key", "listener", "timer")

    def __init__(self, listener: TLSListener, conn: socket.socket, key: str) -> None:
        self.listener = listener
        self.conn = conn
        self.key = key
        loop = listener.loop
        loop.add_reader(conn.fileno(), self.readable)
        self.timer = loop.call_later(listener.handshake_timeout, self.give_up)

    def readable(self) -> None:
        conn = self.conn
        try:
            first = conn.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            first = b""
        self._stop()
        if first and first[0] == _TLS_HANDSHAKE_RECORD:
            self.listener.start_tls(conn, self.key)
            return
        if first:
            _answer_plain_http(conn)
        else:
            conn.close()
        self.listener.gate.release(self.key)

    def give_up(self) -> None:
        self._stop()
        self.conn.close()
        self.listener.gate.release(self.key)

    def _stop(self) -> None:
        self.timer.cancel()
        self.listener.loop.remove_reader(self.conn.fileno())


def _answer_plain_http(conn: socket.socket) -> None:
    """Plain HTTP on the HTTPS port: read what came, say how to fix it, close."""
    with contextlib.suppress(OSError):
        while conn.recv(64 * 1024):
            pass
    with contextlib.suppress(OSError):
        conn.send(raw_error(400, PLAIN_HTTP_ON_TLS_PORT))
        conn.shutdown(socket.SHUT_WR)
    conn.close()

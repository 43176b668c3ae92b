"""The few RFC 6455 frames the suite sends and reads after a WebSocket handshake.

A proxy may re-frame messages (ours relays message by message, with its own masking
keys), so tunnels are compared as decoded ``(opcode, payload)`` frames, not bytes.
"""

from __future__ import annotations

import struct

TEXT = 0x1
CLOSE = 0x8
_FIN = 0x80
_MASKED = 0x80
CLIENT_MASK = b"\x37\xfa\x21\x3d"  # any key will do (RFC 6455 5.3); a fixed one reads well


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A final frame from a client: masked, as RFC 6455 section 5.1 requires."""
    return _header(opcode, len(payload), masked=True) + CLIENT_MASK + _mask(payload, CLIENT_MASK)


def server_frame(opcode: int, payload: bytes) -> bytes:
    """A final frame from a server: unmasked."""
    return _header(opcode, len(payload), masked=False) + payload


def _header(opcode: int, length: int, *, masked: bool) -> bytes:
    mask_bit = _MASKED if masked else 0
    if length < 126:
        return bytes((_FIN | opcode, mask_bit | length))
    if length < 1 << 16:
        return bytes((_FIN | opcode, mask_bit | 126)) + struct.pack("!H", length)
    return bytes((_FIN | opcode, mask_bit | 127)) + struct.pack("!Q", length)


def _mask(payload: bytes, key: bytes) -> bytes:
    return bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))


def read_frames(buffer: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """Whole frames at the start of ``buffer`` as ``(opcode, unmasked payload)``, and
    the bytes they used; a partial frame at the end is left for later."""
    frames: list[tuple[int, bytes]] = []
    offset = 0
    while len(buffer) - offset >= 2:
        first, second = buffer[offset], buffer[offset + 1]
        length = second & 0x7F
        at = offset + 2
        if length == 126:
            if len(buffer) < at + 2:
                break
            (length,) = struct.unpack("!H", buffer[at : at + 2])
            at += 2
        elif length == 127:
            if len(buffer) < at + 8:
                break
            (length,) = struct.unpack("!Q", buffer[at : at + 8])
            at += 8
        key = b""
        if second & _MASKED:
            key = buffer[at : at + 4]
            at += 4
        if len(buffer) < at + length or len(key) not in (0, 4):
            break
        payload = buffer[at : at + length]
        frames.append((first & 0x0F, _mask(payload, key) if key else payload))
        offset = at + length
    return frames, offset

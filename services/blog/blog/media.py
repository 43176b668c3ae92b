"""Image uploads: type from content, generated names, durable writes.

The type comes from the file's first bytes, never from its name or the client's
Content-Type. Only raster images are accepted (SVG can carry script). Files get
random names, so nothing the uploader chose reaches the file system or a URL.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .db import transaction
from .posts import now_seconds

# extension -> content type
TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
NAME_PATTERN = re.compile(r"^[0-9a-f]{32}\.(png|jpg|gif|webp)$")


class MediaError(ValueError):
    """The upload was refused; the message says why."""


@dataclass(frozen=True, slots=True)
class MediaFile:
    name: str
    content_type: str
    size: int
    original_name: str
    created_at: int

    @property
    def url(self) -> str:
        return f"/media/{self.name}"


def sniff_extension(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _write_durably(path: Path, data: bytes) -> None:
    """Write to a temporary file, fsync, rename, fsync the directory."""
    temporary = path.with_suffix(path.suffix + ".part")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def check_upload(data: bytes, max_bytes: int) -> str:
    """The extension for an acceptable upload; raises MediaError saying why not."""
    if not data:
        raise MediaError("the file is empty")
    if len(data) > max_bytes:
        raise MediaError(f"the file is larger than {max_bytes // (1024 * 1024)} MiB")
    extension = sniff_extension(data[:16])
    if extension is None:
        raise MediaError("only PNG, JPEG, GIF and WebP images are accepted")
    return extension


def write_file(media_dir: Path, data: bytes, extension: str, name: str | None = None) -> str:
    """Write the file durably under a new random name (or `name`); returns the name.

    Blocking (fsync): the server calls it in a thread.
    """
    name = name or f"{secrets.token_hex(16)}.{extension}"
    media_dir.mkdir(parents=True, exist_ok=True)
    _write_durably(media_dir / name, data)
    return name


def record_media(
    conn: sqlite3.Connection,
    name: str,
    size: int,
    original_name: str,
    uploaded_by: int | None,
) -> MediaFile:
    """The database row of a written file (after write_file: no row without its file)."""
    content_type = TYPES[name.rsplit(".", 1)[1]]
    now = now_seconds()
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO media"
            " (name, content_type, size, original_name, uploaded_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, content_type, size, original_name[:200], uploaded_by, now),
        )
    return MediaFile(name, content_type, size, original_name[:200], now)


def store_upload(
    conn: sqlite3.Connection,
    media_dir: Path,
    data: bytes,
    original_name: str,
    uploaded_by: int | None,
    max_bytes: int,
) -> MediaFile:
    """Check, write and record an upload in one blocking call (blogctl, tests)."""
    name = write_file(media_dir, data, check_upload(data, max_bytes))
    return record_media(conn, name, len(data), original_name, uploaded_by)


def save_media(
    conn: sqlite3.Connection,
    media_dir: Path,
    data: bytes,
    extension: str,
    original_name: str,
    uploaded_by: int | None,
    name: str | None = None,
) -> MediaFile:
    name = write_file(media_dir, data, extension, name)
    return record_media(conn, name, len(data), original_name, uploaded_by)


MEDIA_LISTED = 200


def list_media(
    conn: sqlite3.Connection, uploaded_by: int | None = None, limit: int | None = MEDIA_LISTED
) -> list[MediaFile]:
    """Uploads, newest first: everyone's (uploaded_by None: admins, export) or one
    user's (an author sees only their own); at most `limit` (None: all)."""
    where, params = ("1", []) if uploaded_by is None else ("uploaded_by = ?", [uploaded_by])
    rows = conn.execute(
        f"SELECT name, content_type, size, original_name, created_at FROM media WHERE {where}"  # noqa: S608
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        (*params, -1 if limit is None else limit),
    )
    return [MediaFile(*row) for row in rows]

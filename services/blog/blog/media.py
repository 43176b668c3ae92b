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
from .refusal import Refusal

# extension -> content type
TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
NAME_PATTERN = re.compile(r"^[0-9a-f]{32}\.(png|jpg|gif|webp)$")


class MediaError(Refusal):
    """The upload was refused; the message says why."""


class UploadTooLarge(MediaError):
    status = 413


@dataclass(frozen=True, slots=True)
class MediaFile:
    name: str
    content_type: str
    size: int
    original_name: str
    created_at: int
    width: int | None
    height: int | None
    alt: str
    uploaded_by: int | None

    @property
    def url(self) -> str:
        return f"/media/{self.name}"

    @property
    def markdown(self) -> str:
        """What the author pastes into a text: the image with its description."""
        alt = re.sub(r"[\[\]\\\n\r]", " ", self.alt).strip()
        return f"![{alt}]({self.url})"


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


def too_large(max_bytes: int) -> UploadTooLarge:
    return UploadTooLarge(
        f"the image is larger than {max_bytes // (1024 * 1024)} MiB, the largest this blog"
        " accepts; make it smaller and upload it again"
    )


def check_upload(data: bytes, max_bytes: int) -> str:
    """The extension for an acceptable upload; raises MediaError saying why not."""
    if not data:
        raise MediaError("the file is empty")
    if len(data) > max_bytes:
        raise too_large(max_bytes)
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


@dataclass(frozen=True, slots=True)
class Described:
    """What is recorded with a file besides its bytes: who, what it shows, its size."""

    original_name: str = ""
    uploaded_by: int | None = None
    alt: str = ""
    width: int | None = None
    height: int | None = None


MAX_ALT = 500


def record_media(
    conn: sqlite3.Connection, name: str, size: int, about: Described = Described()
) -> MediaFile:
    """The database row of a written file (after write_file: no row without its file)."""
    content_type = TYPES[name.rsplit(".", 1)[1]]
    now = now_seconds()
    original, alt = about.original_name[:200], about.alt.strip()[:MAX_ALT]
    row = (name, content_type, size, original, about.uploaded_by, now)
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO media (name, content_type, size, original_name, uploaded_by,"
            " created_at, width, height, alt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*row, about.width, about.height, alt),
        )
    return MediaFile(
        name, content_type, size, original, now, about.width, about.height, alt, about.uploaded_by
    )


def save_media(
    conn: sqlite3.Connection,
    media_dir: Path,
    data: bytes,
    extension: str,
    about: Described = Described(),
    name: str | None = None,
) -> MediaFile:
    """Write the file durably and record it, in one blocking call (blogctl import, tests)."""
    name = write_file(media_dir, data, extension, name)
    return record_media(conn, name, len(data), about)


MEDIA_LISTED = 200
_COLUMNS = "name, content_type, size, original_name, created_at, width, height, alt, uploaded_by"


def list_media(
    conn: sqlite3.Connection, uploaded_by: int | None = None, limit: int | None = MEDIA_LISTED
) -> list[MediaFile]:
    """Uploads, newest first: everyone's (uploaded_by None: admins, export) or one
    user's (an author sees only their own); at most `limit` (None: all)."""
    where, params = ("1", []) if uploaded_by is None else ("uploaded_by = ?", [uploaded_by])
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM media WHERE {where}"  # noqa: S608 - fixed strings
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        (*params, -1 if limit is None else limit),
    )
    return [MediaFile(*row) for row in rows]


def get_media(conn: sqlite3.Connection, name: str) -> MediaFile | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM media WHERE name = ?", (name,)).fetchone()  # noqa: S608
    return MediaFile(*row) if row else None


def forget_media(conn: sqlite3.Connection, name: str) -> None:
    """Delete the upload's row (then its file goes). A page that still shows it shows a
    broken image; the confirmation says which entries use it."""
    with transaction(conn):
        conn.execute("DELETE FROM media WHERE name = ?", (name,))


def entries_using(conn: sqlite3.Connection, name: str, limit: int = 20) -> list[tuple[int, str]]:
    """(id, title) of entries whose text names the upload: the confirmation lists them."""
    rows = conn.execute(
        "SELECT id, title FROM posts WHERE instr(body_md, ?) > 0 ORDER BY id LIMIT ?",
        (f"/media/{name}", limit),
    )
    return [(row[0], row[1]) for row in rows]


IMG_TAG = re.compile(r"<img\b[^>]*>")
_SRC = re.compile(r'\ssrc="/media/([0-9a-f]{32}\.(?:png|jpg|gif|webp))"')


def with_image_sizes(conn: sqlite3.Connection, html: str) -> str:
    """Sanitized HTML with width and height written into each <img> of an upload whose
    size is known (the page does not jump while images load). Linear in the HTML: the
    sanitizer writes every attribute quoted, with `>` escaped inside values."""
    names = {m.group(1) for tag in IMG_TAG.findall(html) if (m := _SRC.search(tag))}
    if not names:
        return html
    marks = ",".join("?" * len(names))
    sizes = {
        row[0]: (row[1], row[2])
        for row in conn.execute(
            f"SELECT name, width, height FROM media WHERE name IN ({marks})"  # noqa: S608
            " AND width IS NOT NULL",
            sorted(names),
        )
    }

    def sized(match: re.Match[str]) -> str:
        tag = match.group(0)
        found = _SRC.search(tag)
        if found is None or found.group(1) not in sizes or " width=" in tag or " height=" in tag:
            return tag
        width, height = sizes[found.group(1)]
        return tag[:4] + f' width="{width}" height="{height}"' + tag[4:]

    return IMG_TAG.sub(sized, html)

"""Portable export and import, and consistent backups of the live database.

Export format: a zip with `posts/SLUG.md` and `stories/SLUG.md` (front matter
between `---` lines, then the Markdown source), `media/NAME` for images, and
`manifest.json`. Front matter values are JSON, which is also valid YAML, so other
tools (Hugo, Jekyll, Nikola) can read the files.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import imaging, media, posts, timefmt
from .markup import MarkupError
from .timefmt import iso8601

FORMAT = "blog-export/1"
FOLDERS = {"post": "posts", "story": "stories"}


class ArchiveError(ValueError):
    """The archive cannot be read; the message names the member and the problem."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    entries: int
    media: int


def _author_names(conn: sqlite3.Connection) -> dict[int, str]:
    return {row[0]: row[1] for row in conn.execute("SELECT id, name FROM users")}


def front_matter(conn: sqlite3.Connection, post: posts.Post, authors: dict[int, str]) -> str:
    category = posts.category_of(conn, post)
    fields: dict[str, object] = {
        "title": post.title,
        "slug": post.slug,
        "kind": post.kind,
        "status": post.status,
        "published_at": iso8601(post.published_at) or None,
        "created_at": iso8601(post.created_at),
        "updated_at": iso8601(post.updated_at),
        "author": authors.get(post.author_id) if post.author_id else None,
        "category": category.name if category else None,
        "tags": [t.name for t in posts.tags_of(conn, post.id)],
        "trashed_at": iso8601(post.deleted_at) or None,
    }
    lines = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in fields.items()]
    return "---\n" + "\n".join(lines) + "\n---\n"


def export_archive(conn: sqlite3.Connection, media_dir: Path, target: Path) -> int:
    """Write the zip; returns the number of entries written."""
    authors = _author_names(conn)
    count = 0
    temporary = target.with_suffix(target.suffix + ".part")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for post in posts.all_posts(conn):
            text = front_matter(conn, post, authors) + post.body_md
            archive.writestr(f"{FOLDERS[post.kind]}/{post.slug}.md", text)
            count += 1
        archive.writestr("manifest.json", json.dumps({"format": FORMAT, "entries": count}))
        for item in media.list_media(conn, limit=None):
            path = media_dir / item.name
            if path.is_file():
                archive.write(path, f"media/{item.name}")
    temporary.replace(target)
    return count


def parse_document(text: str, member: str) -> tuple[dict[str, object], str]:
    if not text.startswith("---\n"):
        raise ArchiveError(f"{member}: no front matter (the file must start with '---')")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise ArchiveError(f"{member}: front matter is not closed by a '---' line")
    fields: dict[str, object] = {}
    for number, line in enumerate(text[4:end].splitlines(), start=2):
        if not line.strip():
            continue
        key, sep, raw = line.partition(":")
        if not sep:
            raise ArchiveError(f"{member}:{number}: expected 'key: value'")
        try:
            fields[key.strip()] = json.loads(raw.strip())
        except (json.JSONDecodeError, RecursionError):
            fields[key.strip()] = raw.strip()  # a bare YAML scalar written by hand
    return fields, text[end + 5 :]


def _timestamp(value: object) -> int | None:
    """An RFC 3339 front-matter date as Unix seconds; ValueError for one that is not a
    date, or not one the blog accepts (timefmt.in_range)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        seconds = int(datetime.fromisoformat(value).timestamp())
    except OverflowError:
        seconds = timefmt.LATEST + 1
    if not timefmt.in_range(seconds):
        raise ValueError(f"date {value!r} is not {timefmt.RANGE_TEXT}; correct it in the file")
    return seconds


def _import_entry(
    conn: sqlite3.Connection, fields: dict[str, object], body: str, kind: str
) -> None:
    title = posts.clean_title(str(fields.get("title") or fields.get("slug") or ""))
    title = title[: posts.MAX_TITLE] or "Untitled"
    slug = str(fields.get("slug") or title)
    existing = posts.get_by_slug(conn, slug)
    author = fields.get("author")
    row = conn.execute("SELECT id FROM users WHERE name = ?", (author,)).fetchone()
    tags = fields.get("tags")
    draft = posts.Draft(
        title=title,
        body_md=body,
        kind=str(fields.get("kind") or kind),
        status="published" if fields.get("status") == "published" else "draft",
        published_at=_timestamp(fields.get("published_at")),
        slug=slug,
        category=str(fields.get("category") or ""),
        tags=[str(t) for t in tags] if isinstance(tags, list) else [],
    )
    saved = posts.save_post(
        conn,
        draft,
        author_id=row[0] if row else None,
        post_id=existing.id if existing else None,
        now=_timestamp(fields.get("updated_at")),
        created_at=_timestamp(fields.get("created_at")),
    )
    trashed_at = _timestamp(fields.get("trashed_at"))
    if trashed_at is not None:  # it waits out its 30 days from when it went to the trash
        posts.move_to_trash(conn, saved.id, None, now=trashed_at)


def import_archive(conn: sqlite3.Connection, media_dir: Path, source: Path) -> ImportReport:
    """Read an export back; an entry whose slug exists is replaced, others are added."""
    entries = images = 0
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            folder, _, name = info.filename.partition("/")
            if folder in ("posts", "stories") and name.endswith(".md") and "/" not in name:
                text = archive.read(info).decode("utf-8")
                fields, body = parse_document(text, info.filename)
                try:
                    _import_entry(conn, fields, body, "story" if folder == "stories" else "post")
                except (MarkupError, ValueError) as exc:  # over a bound, or a bad date
                    raise ArchiveError(f"{info.filename}: {exc}") from None
                entries += 1
            elif folder == "media" and media.NAME_PATTERN.match(name):
                data = archive.read(info)
                extension = media.sniff_extension(data[:16])
                if extension is None or not name.endswith("." + extension):
                    raise ArchiveError(f"{info.filename}: content is not the image its name says")
                size = imaging.dimensions(data)
                about = media.Described(name, None, "", *size) if size else media.Described(name)
                media.save_media(conn, media_dir, data, extension, about, name=name)
                images += 1
    if entries:
        posts.mark_import(conn, posts.now_seconds())
    return ImportReport(entries, images)


def backup_database(source: Path, target: Path) -> None:
    """A consistent copy while the server runs (SQLite's online backup API)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(target.suffix + ".part")
    temporary.unlink(missing_ok=True)
    with sqlite3.connect(source) as live, sqlite3.connect(temporary) as copy:
        live.backup(copy)
        result = copy.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        temporary.unlink(missing_ok=True)
        raise ArchiveError(f"backup failed its integrity check: {result}")
    temporary.replace(target)

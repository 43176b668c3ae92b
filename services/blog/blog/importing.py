"""Moving a blog in: a WordPress export (WXR) or a Ghost JSON export into the blog.

What comes in: posts and pages (pages become stories), their title, URL name, text,
status and publication date, categories (WordPress) and tags, and authors: matched to an
existing user by user name, or created disabled (no password; an admin enables them and
gives a one-time password link). Images referenced by URL stay links: the blog has no
network to fetch them. Attachments, menus, comments and trashed items are left out.

An import never overwrites: an entry whose URL name is taken gets another (`-2`), and
each imported item is remembered by its source id (table `imported`), so importing the
same file again changes nothing. `plan` (the dry run) reads the file and says what
would happen without writing.

XML is parsed with defusedxml: a WXR file with a DTD, entities or external references
is refused (the billion-laughs and external-entity attacks), not expanded.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from . import posts, timefmt, users
from .db import transaction
from .markup import MarkupError, slugify
from .passwords import hash_password

# The whole export, its parsed tree and every entry's text are in memory at once (about
# six times the file for Ghost JSON): 16 MiB peaks near 140 MiB, which fits beside the
# running server in the blog container's 384 MiB (compose.yaml). Bigger sites split.
MAX_FILE_BYTES = 16 * 1024 * 1024
SPLIT_HINT = (
    "split the export (WordPress: Tools > Export one category or date range at a time;"
    " Ghost: export, then import in parts) and import the parts one after another"
)
WP_NS_PREFIX = "http://wordpress.org/export/"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
DC_NS = "http://purl.org/dc/elements/1.1/"
GHOST_URL = "__GHOST_URL__"  # what Ghost writes for its own address in exported HTML


class ImportFileError(ValueError):
    """The file cannot be imported; the message names the file, the problem and the fix."""


@dataclass(frozen=True, slots=True)
class Author:
    login: str  # the user name it is matched by (WordPress login, Ghost slug)
    display_name: str


@dataclass(frozen=True, slots=True)
class Item:
    """One entry as read from an export, before it is stored."""

    source: str  # "wxr:GUID" or "ghost:UUID": how a second import recognises it
    kind: str  # post or story
    title: str
    slug: str
    body: str  # HTML, which the blog's Markdown passes to its sanitizer
    status: str  # draft or published (a future date schedules it)
    published_at: int | None
    updated_at: int | None
    author: Author | None
    category: str = ""
    tags: tuple[str, ...] = ()


@dataclass
class Report:
    """What an import did (or, dry, would do): one line per entry and author."""

    lines: list[str] = field(default_factory=list)
    imported: int = 0
    skipped: int = 0
    failed: int = 0
    authors_created: int = 0


# --- reading -----------------------------------------------------------------------------


def read_items(path: Path, old_url: str = "") -> list[Item]:
    """The entries of a WXR (.xml) or Ghost (.json) export, by content, not by name.

    `old_url` replaces Ghost's __GHOST_URL__ placeholder, so images keep pointing at the
    old site. Raises ImportFileError for a file that is neither, too big, or unsafe XML.
    """
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImportFileError(f"{path}: over {MAX_FILE_BYTES // 2**20} MiB; {SPLIT_HINT}")
    return read_export(path.read_bytes(), path, old_url)


def read_export(data: bytes, path: Path | str, old_url: str = "") -> list[Item]:
    """read_items for bytes already read (standard input); `path` names them in errors."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(f"{path}: over {MAX_FILE_BYTES // 2**20} MiB; {SPLIT_HINT}")
    try:
        if data.lstrip()[:1] == b"{":
            return list(_ghost_items(path, data, old_url.rstrip("/")))
        return list(_wxr_items(path, data))
    except (AttributeError, TypeError, KeyError, ValueError) as exc:  # a value of a wrong type
        if isinstance(exc, ImportFileError):
            raise
        raise ImportFileError(
            f"{path}: an entry does not have the export's shape ({type(exc).__name__}: {exc});"
            " export it again, or see docs/blog.md for the shapes read"
        ) from None


def _wp(tag: str, ns: str) -> str:
    return f"{{{ns}}}{tag}"


def _wxr_items(path: Path | str, data: bytes) -> Iterator[Item]:
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ImportFileError(f"{path}: refused unsafe XML ({exc}); export it again") from None
    except SafeET.ParseError as exc:
        raise ImportFileError(f"{path}: not a WordPress export (XML error: {exc})") from None
    channel = root.find("channel")
    ns = _wp_namespace(root)
    if root.tag != "rss" or channel is None or ns is None:
        raise ImportFileError(
            f"{path}: not a WordPress export (WXR); in WordPress use Tools > Export"
        )
    authors = {
        _text(a, _wp("author_login", ns)): Author(
            _text(a, _wp("author_login", ns)), _text(a, _wp("author_display_name", ns))
        )
        for a in channel.iter(_wp("author", ns))
    }
    for item in channel.iter("item"):
        post_type = _text(item, _wp("post_type", ns))
        status = _text(item, _wp("status", ns))
        if post_type not in ("post", "page") or status in ("trash", "auto-draft", "inherit"):
            continue
        login = _text(item, f"{{{DC_NS}}}creator")
        terms = item.findall("category")
        published = _wxr_date(_text(item, _wp("post_date_gmt", ns)), _text(item, "pubDate"))
        yield Item(
            source="wxr:" + (_text(item, "guid") or _text(item, _wp("post_id", ns))),
            kind="story" if post_type == "page" else "post",
            title=_title(_text(item, "title")),
            slug=_text(item, _wp("post_name", ns)),
            body=_text(item, f"{{{CONTENT_NS}}}encoded"),
            status="published" if status in ("publish", "future") else "draft",
            published_at=published,
            updated_at=_wxr_date(_text(item, _wp("post_modified_gmt", ns)), ""),
            author=authors.get(login, Author(login, login)) if login else None,
            category=next((t.text or "" for t in terms if t.get("domain") == "category"), ""),
            tags=tuple(t.text or "" for t in terms if t.get("domain") == "post_tag"),
        )


def _wp_namespace(root: Element) -> str | None:
    """The wp: namespace this WXR version uses (1.0, 1.1 or 1.2)."""
    for element in root.iter():
        if element.tag.startswith("{" + WP_NS_PREFIX):
            return element.tag[1:].split("}")[0]
    return None


def _text(element: Element, tag: str) -> str:
    return (element.findtext(tag) or "").strip()


def _wxr_date(gmt: str, rfc822: str) -> int | None:
    """WordPress's post_date_gmt ("2020-01-31 10:00:00", UTC; zeros for a draft), else
    the RSS pubDate."""
    if gmt and not gmt.startswith("0000"):
        try:
            return int(datetime.fromisoformat(gmt).replace(tzinfo=UTC).timestamp())
        except (ValueError, OverflowError):
            pass
    try:
        return int(parsedate_to_datetime(rfc822).timestamp()) if rfc822 else None
    except (TypeError, ValueError, OverflowError):
        return None


def _ghost_items(path: Path | str, data: bytes, old_url: str) -> Iterator[Item]:
    try:
        document = json.loads(data)
        db = document["db"][0]["data"] if "db" in document else document["data"]
        rows = db["posts"]
    except (ValueError, KeyError, IndexError, TypeError, RecursionError):
        raise ImportFileError(
            f"{path}: not a Ghost export; in Ghost use Settings > Advanced > Import/Export"
        ) from None
    tags = {t.get("id"): str(t.get("name") or "") for t in db.get("tags", [])}
    people = {u.get("id"): u for u in db.get("users", [])}
    post_tags = _grouped(db.get("posts_tags", []), "tag_id")
    post_authors = _grouped(db.get("posts_authors", []), "author_id")
    for row in rows:
        if not isinstance(row, Mapping) or row.get("type", "post") not in ("post", "page"):
            continue
        author_ids = post_authors.get(row.get("id"), []) or [row.get("author_id")]
        person = people.get(author_ids[0])
        author = _ghost_author(person) if isinstance(person, Mapping) else None
        status = row.get("status")
        yield Item(
            source=f"ghost:{row.get('uuid') or row.get('id')}",
            kind="story" if row.get("type") == "page" else "post",
            title=_title(row.get("title")),
            slug=str(row.get("slug") or ""),
            body=str(row.get("html") or "").replace(GHOST_URL, old_url),
            status="published" if status in ("published", "scheduled") else "draft",
            published_at=_iso(row.get("published_at")),
            updated_at=_iso(row.get("updated_at")),
            author=author,
            tags=tuple(tags[t] for t in post_tags.get(row.get("id"), []) if t in tags),
        )


def _title(raw: object) -> str:
    """The editor's title rule (posts.clean_title) for an imported title: "Untitled"
    when nothing visible is left, cut at posts.MAX_TITLE."""
    title = posts.clean_title(raw if isinstance(raw, str) else "")[: posts.MAX_TITLE]
    return title or "Untitled"


def _ghost_author(person: Mapping[str, object]) -> Author | None:
    """A Ghost user as an Author; None when it has neither a slug nor a name (text)."""
    slug, name = (person.get(key) for key in ("slug", "name"))
    name = posts.clean_title(name) if isinstance(name, str) else ""
    login = slug.strip() if isinstance(slug, str) and slug.strip() else name
    return Author(login, name) if login else None


def _grouped(rows: Iterable[Mapping[str, object]], key: str) -> dict[object, list[object]]:
    """post_id -> the ids under `key`, in sort_order."""
    grouped: dict[object, list[tuple[int, object]]] = {}
    for row in rows:
        order = row.get("sort_order", 0)
        grouped.setdefault(row.get("post_id"), []).append(
            (order if isinstance(order, int) else 0, row.get(key))
        )
    return {
        post: [value for _, value in sorted(pairs, key=lambda p: p[0])]
        for post, pairs in grouped.items()
    }


def _iso(value: object) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    try:
        return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())
    except (OverflowError, OSError):
        return None


LATEST = timefmt.LATEST  # the latest publication time an import keeps (timefmt's bound)


def _in_range(item: Item, report: Report) -> Item:
    """The item with its dates if the blog accepts them (timefmt.in_range), else without
    them (as if the export had none: a published entry gets the time of the import), and
    a report line saying so."""
    dates = (item.published_at, item.updated_at)
    if all(seconds is None or timefmt.in_range(seconds) for seconds in dates):
        return item
    report.lines.append(f"date dropped (not {timefmt.RANGE_TEXT}): {item.title}")
    return replace(
        item,
        published_at=item.published_at if timefmt.in_range(item.published_at or 0) else None,
        updated_at=item.updated_at if timefmt.in_range(item.updated_at or 0) else None,
    )


# --- storing -----------------------------------------------------------------------------


def already_imported(conn: sqlite3.Connection, source: str) -> bool:
    return conn.execute("SELECT 1 FROM imported WHERE source = ?", (source,)).fetchone() is not None


def plan(conn: sqlite3.Connection, items: Iterable[Item]) -> Report:
    """The dry run: what import_items would do, writing nothing."""
    report, new_authors = Report(), set()
    for item in items:
        if already_imported(conn, item.source):
            report.skipped += 1
            report.lines.append(f"skip (imported before): {item.title}")
            continue
        item = _in_range(item, report)
        report.imported += 1
        when = datetime.fromtimestamp(item.published_at, UTC).date() if item.published_at else "-"
        report.lines.append(f"would import {item.kind} {item.status} {when}: {item.title}")
        author = item.author
        if author and author.login not in new_authors and _existing_user(conn, author) is None:
            new_authors.add(author.login)
            report.authors_created += 1
            name = _free_name(conn, _user_name(author))
            report.lines.append(f"would create disabled author {name}")
    return report


def import_items(conn: sqlite3.Connection, items: Iterable[Item]) -> Report:
    """Store every item not imported before; an entry whose text the blog refuses (over
    its size or nesting bounds) is reported and left out, the others still come in."""
    report, created = Report(), dict[str, int]()
    for item in items:
        if already_imported(conn, item.source):
            report.skipped += 1
            report.lines.append(f"skipped (imported before): {item.title}")
            continue
        item = _in_range(item, report)
        author_id = _author_id(conn, item.author, report, created) if item.author else None
        draft = posts.Draft(
            title=_title(item.title),
            body_md=item.body,
            kind=item.kind,
            status=item.status,
            published_at=item.published_at,
            slug=item.slug or item.title,
            category=item.category[:64],
            tags=[t[:64] for t in item.tags if t.strip()][:20],
        )
        try:
            saved = posts.save_post(
                conn, draft, author_id=author_id, now=item.updated_at or item.published_at,
                created_at=item.published_at,
            )  # fmt: skip
        except MarkupError as exc:
            report.failed += 1
            report.lines.append(f"NOT imported: {item.title}: {exc}")
            continue
        with transaction(conn):
            conn.execute(
                "INSERT INTO imported (source, post_id) VALUES (?, ?)", (item.source, saved.id)
            )
        report.imported += 1
        report.lines.append(f"imported {saved.kind} {saved.path}: {saved.title}")
    if report.imported:
        posts.mark_import(conn, posts.now_seconds())
    return report


def _user_name(author: Author) -> str:
    """A valid user name for an author: their login as it is, or made one."""
    login = author.login.strip()
    if users.NAME_PATTERN.match(login):
        return login
    return slugify(login or author.display_name, fallback="imported-author")[:64]


def _existing_user(conn: sqlite3.Connection, author: Author | None) -> users.User | None:
    """The user an author is: only the same login, letter case aside. A login the blog
    had to rewrite (full-width letters, `alice!`: slugified to `alice`) never attaches to an
    existing account: it would hand that account's name to the export's entries."""
    if author is None or not users.NAME_PATTERN.match(author.login.strip()):
        return None
    return users.find_user(conn, author.login.strip())


def _free_name(conn: sqlite3.Connection, name: str) -> str:
    """`name`, or `name-2`, `name-3`... the first no user has."""
    candidate, number = name, 1
    while users.find_user(conn, candidate) is not None:
        number += 1
        suffix = f"-{number}"
        candidate = name[: 64 - len(suffix)] + suffix
    return candidate


def _author_id(
    conn: sqlite3.Connection, author: Author, report: Report, created: dict[str, int]
) -> int:
    """The matching user's id, or a new disabled user's (with a password nobody knows);
    `created` maps the logins this import created users for to their ids."""
    existing = _existing_user(conn, author)
    if existing is not None:
        return existing.id
    if author.login in created:
        return created[author.login]
    name = _free_name(conn, _user_name(author))
    user = users.insert_user(conn, name, hash_password(secrets.token_urlsafe(32)), "author")
    users.set_disabled(conn, name, True)
    report.authors_created += 1
    report.lines.append(f"created disabled author {name}")
    try:
        users.set_profile(conn, user.id, author.display_name[: users.MAX_DISPLAY_NAME], "")
    except users.UserError as exc:  # another account's name: the author shows none
        report.lines.append(f"display name of {name} left empty: {exc}")
    created[author.login] = user.id
    return user.id


def summary(report: Report, dry_run: bool) -> str:
    """The last line blogctl prints."""
    verb = "would import" if dry_run else "imported"
    return (
        f"{verb} {report.imported} entries; {report.skipped} imported before (skipped);"
        f" {report.failed} refused; {report.authors_created} authors created disabled"
    )


def safe_name(text: str) -> str:
    """`text` without control characters, for printing what a file said."""
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)

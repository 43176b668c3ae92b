"""The editor's text kept on the server for its author: nothing typed is lost.

An autosave is the editor's fields as the author last had them, one per user and
editor (`post-ID` for an entry, `new-HEX` for one not yet saved). It is not a
revision: the entry is untouched until the author saves. Three things write one:
the editor's script while the session lives (every few seconds after a change), a
save that met an edit conflict (the author's version, beside the newer one), and a
login that carried a form the ended session could not take (views/account.py). A
save from that editor removes it. At most MAX_PER_USER are kept per user, none
longer than KEEP_DAYS.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from .db import transaction

# The editor form's text fields, as the author typed them (publish_at as datetime-local).
FIELDS = ("title", "body_md", "kind", "category", "tags", "slug", "publish_at")
EDITOR_KEY = re.compile(r"^(post-[0-9]{1,18}|new-[0-9a-f]{16})$")
MAX_PER_USER = 50
KEEP_DAYS = 30
MAX_FIELD_CHARACTERS = 1000  # every field but the body (markup.MAX_SOURCE_BYTES bounds that)

Values = dict[str, str]


@dataclass(frozen=True, slots=True)
class Autosave:
    editor_key: str
    post_id: int | None
    base_revision: int | None
    values: Values
    saved_at: int


def new_key() -> str:
    """The key of an editor for an entry not saved yet."""
    return f"new-{secrets.token_hex(8)}"


def key_for(post_id: int) -> str:
    return f"post-{post_id}"


def valid_key(value: str) -> bool:
    return bool(EDITOR_KEY.match(value))


def clean_values(source: Mapping[str, object]) -> Values:
    """The editor's fields from a form or JSON: text only, every field but the body cut to
    MAX_FIELD_CHARACTERS, missing ones empty."""
    values: Values = {}
    for name in FIELDS:
        value = source.get(name, "")
        text = value if isinstance(value, str) else ""
        values[name] = text if name == "body_md" else text[:MAX_FIELD_CHARACTERS]
    return values


FILLED_BY_BLOG = ("slug", "publish_at")  # empty means "as the blog chooses"


def same_values(kept: Values, stored: Values) -> bool:
    """Whether kept text is what is stored (line ends and the spaces around one-line fields
    aside: browsers send CRLF, the server strips; an empty URL name or publication time
    matches what the blog filled in). The editor's script has the same rule."""

    def same(name: str) -> bool:
        if name == "body_md":
            return kept[name].replace("\r\n", "\n") == stored[name].replace("\r\n", "\n")
        mine = kept[name].strip()
        return mine == stored[name].strip() or (name in FILLED_BY_BLOG and not mine)

    return all(same(name) for name in FIELDS)


def store(
    conn: sqlite3.Connection,
    user_id: int,
    key: str,
    values: Values,
    now: int,
    post_id: int | None = None,
    base_revision: int | None = None,
) -> None:
    """Keep (or replace) the author's text for this editor; the oldest beyond MAX_PER_USER go."""
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO autosaves"
            " (user_id, editor_key, post_id, base_revision, fields, saved_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, key, post_id, base_revision, json.dumps(values), now),
        )
        conn.execute(
            "DELETE FROM autosaves WHERE user_id = ? AND editor_key NOT IN (SELECT editor_key"
            " FROM autosaves WHERE user_id = ? ORDER BY saved_at DESC LIMIT ?)",
            (user_id, user_id, MAX_PER_USER),
        )


def load(conn: sqlite3.Connection, user_id: int, key: str) -> Autosave | None:
    row = conn.execute(
        "SELECT editor_key, post_id, base_revision, fields, saved_at FROM autosaves"
        " WHERE user_id = ? AND editor_key = ?",
        (user_id, key),
    ).fetchone()
    if row is None:
        return None
    return Autosave(row[0], row[1], row[2], clean_values(json.loads(row[3])), row[4])


def discard(conn: sqlite3.Connection, user_id: int, *keys: str) -> None:
    with transaction(conn):
        conn.executemany(
            "DELETE FROM autosaves WHERE user_id = ? AND editor_key = ?",
            [(user_id, key) for key in keys],
        )


@dataclass(frozen=True, slots=True)
class Unsaved:
    """An autosave of an entry never saved: what the dashboard lists."""

    editor_key: str
    title: str
    saved_at: int


def list_unsaved_new(conn: sqlite3.Connection, user_id: int) -> list[Unsaved]:
    """The author's autosaves of new entries, newest first (titles only, not the text)."""
    rows = conn.execute(
        "SELECT editor_key, json_extract(fields, '$.title'), saved_at FROM autosaves"
        " WHERE user_id = ? AND post_id IS NULL ORDER BY saved_at DESC",
        (user_id,),
    )
    return [Unsaved(row[0], row[1] or "", row[2]) for row in rows]


def purge_old(conn: sqlite3.Connection, now: int) -> int:
    with transaction(conn):
        cursor = conn.execute(
            "DELETE FROM autosaves WHERE saved_at < ?", (now - KEEP_DAYS * 86400,)
        )
    return cursor.rowcount

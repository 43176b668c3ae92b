"""The schema history. Append new migrations; never edit one that has shipped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "posts",
        (
            """CREATE TABLE posts (
                id INTEGER PRIMARY KEY,
                slug TEXT NOT NULL UNIQUE,
                title TEXT NOT NULL,
                body_md TEXT NOT NULL DEFAULT '',
                body_html TEXT NOT NULL DEFAULT '',
                status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
                published_at INTEGER,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )""",
            "CREATE INDEX posts_published ON posts (status, published_at)",
        ),
    ),
    Migration(
        2,
        "users and sessions",
        (
            """CREATE TABLE users (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                password_hash TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('admin', 'author')),
                disabled INTEGER NOT NULL DEFAULT 0,
                created_at INTEGER NOT NULL,
                password_changed_at INTEGER NOT NULL
            )""",
            # Only a SHA-256 of the session id is stored: a leaked database holds no live id.
            """CREATE TABLE sessions (
                id_hash TEXT PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                csrf_token TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                last_seen INTEGER NOT NULL
            )""",
            "CREATE INDEX sessions_user ON sessions (user_id)",
            # NULL author: written in open mode or by a trusted local client.
            "ALTER TABLE posts ADD COLUMN author_id INTEGER"
            " REFERENCES users (id) ON DELETE SET NULL",
        ),
    ),
    Migration(
        3,
        "stories, categories, tags, search, media",
        (
            "ALTER TABLE posts ADD COLUMN kind TEXT NOT NULL DEFAULT 'post'"
            " CHECK (kind IN ('post', 'story'))",
            """CREATE TABLE categories (
                id INTEGER PRIMARY KEY,
                slug TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL UNIQUE COLLATE NOCASE
            )""",
            "ALTER TABLE posts ADD COLUMN category_id INTEGER"
            " REFERENCES categories (id) ON DELETE SET NULL",
            """CREATE TABLE tags (
                id INTEGER PRIMARY KEY,
                slug TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL UNIQUE COLLATE NOCASE
            )""",
            """CREATE TABLE post_tags (
                post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
                tag_id INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
                PRIMARY KEY (post_id, tag_id)
            )""",
            "CREATE INDEX post_tags_tag ON post_tags (tag_id)",
            # Full-text index over the Markdown source, kept in step by triggers.
            "CREATE VIRTUAL TABLE posts_fts USING fts5("
            " title, body_md, content='posts', content_rowid='id', tokenize='unicode61')",
            """CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
                INSERT INTO posts_fts (rowid, title, body_md)
                VALUES (new.id, new.title, new.body_md);
            END""",
            """CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
                INSERT INTO posts_fts (posts_fts, rowid, title, body_md)
                VALUES ('delete', old.id, old.title, old.body_md);
            END""",
            """CREATE TRIGGER posts_fts_update AFTER UPDATE OF title, body_md ON posts BEGIN
                INSERT INTO posts_fts (posts_fts, rowid, title, body_md)
                VALUES ('delete', old.id, old.title, old.body_md);
                INSERT INTO posts_fts (rowid, title, body_md)
                VALUES (new.id, new.title, new.body_md);
            END""",
            "INSERT INTO posts_fts (posts_fts) VALUES ('rebuild')",
            """CREATE TABLE media (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                content_type TEXT NOT NULL,
                size INTEGER NOT NULL,
                original_name TEXT NOT NULL DEFAULT '',
                uploaded_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
                created_at INTEGER NOT NULL
            )""",
        ),
    ),
    Migration(
        4,
        "remember when entries left the public listings",
        (
            # A deleted or unpublished entry leaves no row to date the change by, so
            # feeds' Last-Modified would not move; these triggers record the moment.
            "CREATE TABLE site_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
            """CREATE TRIGGER posts_removed AFTER DELETE ON posts BEGIN
                INSERT OR REPLACE INTO site_state (key, value)
                VALUES ('entries_removed_at', CAST(strftime('%s', 'now') AS INTEGER));
            END""",
            """CREATE TRIGGER posts_withdrawn AFTER UPDATE OF status, published_at, kind,
                category_id ON posts BEGIN
                INSERT OR REPLACE INTO site_state (key, value)
                VALUES ('entries_removed_at', CAST(strftime('%s', 'now') AS INTEGER));
            END""",
        ),
    ),
    Migration(
        5,
        "the known-browser signing key (devices.py)",
        ("CREATE TABLE site_keys (name TEXT PRIMARY KEY, value BLOB NOT NULL)",),
    ),
    Migration(
        6,
        "indexes for the dashboard's and the image list's order",
        (
            "CREATE INDEX posts_updated ON posts (updated_at)",
            "CREATE INDEX posts_author_updated ON posts (author_id, updated_at)",
            "CREATE INDEX media_uploader ON media (uploaded_by, created_at)",
            "CREATE INDEX media_created ON media (created_at)",
        ),
    ),
)

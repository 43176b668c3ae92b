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
    Migration(
        7,
        "states, revisions, autosaves, image sizes",
        (
            # Each save increments it; a form carries the one it was based on (conflicts).
            "ALTER TABLE posts ADD COLUMN revision INTEGER NOT NULL DEFAULT 1",
            # In the trash since then (Unix seconds); NULL: not in the trash.
            "ALTER TABLE posts ADD COLUMN deleted_at INTEGER",
            "CREATE INDEX posts_trash ON posts (deleted_at) WHERE deleted_at IS NOT NULL",
            """CREATE TRIGGER posts_trashed AFTER UPDATE OF deleted_at ON posts BEGIN
                INSERT OR REPLACE INTO site_state (key, value)
                VALUES ('entries_removed_at', CAST(strftime('%s', 'now') AS INTEGER));
            END""",
            # What each save stored, as the editor shows it (category and tags by name).
            """CREATE TABLE post_revisions (
                post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
                revision INTEGER NOT NULL,
                title TEXT NOT NULL,
                body_md TEXT NOT NULL,
                kind TEXT NOT NULL,
                status TEXT NOT NULL,
                published_at INTEGER,
                slug TEXT NOT NULL,
                category TEXT NOT NULL DEFAULT '',
                tags TEXT NOT NULL DEFAULT '',
                saved_at INTEGER NOT NULL,
                saved_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
                PRIMARY KEY (post_id, revision)
            )""",
            """INSERT INTO post_revisions (post_id, revision, title, body_md, kind, status,
                published_at, slug, category, tags, saved_at, saved_by)
            SELECT p.id, 1, p.title, p.body_md, p.kind, p.status, p.published_at, p.slug,
                COALESCE((SELECT name FROM categories WHERE id = p.category_id), ''),
                COALESCE((SELECT group_concat(name, ', ') FROM (SELECT t.name FROM post_tags pt
                    JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = p.id ORDER BY t.name)), ''),
                p.updated_at, p.author_id
            FROM posts p""",
            # The editor's text kept for its author while the session lives (autosave.py).
            """CREATE TABLE autosaves (
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                editor_key TEXT NOT NULL,
                post_id INTEGER REFERENCES posts (id) ON DELETE CASCADE,
                base_revision INTEGER,
                fields TEXT NOT NULL,
                saved_at INTEGER NOT NULL,
                PRIMARY KEY (user_id, editor_key)
            )""",
            "CREATE INDEX autosaves_saved ON autosaves (saved_at)",
            # Written into <img> so a page does not jump while images load.
            "ALTER TABLE media ADD COLUMN width INTEGER",
            "ALTER TABLE media ADD COLUMN height INTEGER",
            # What the image shows, asked for at upload (never the file name).
            "ALTER TABLE media ADD COLUMN alt TEXT NOT NULL DEFAULT ''",
        ),
    ),
    Migration(
        8,
        "second factors: one-time codes, recovery codes, passkeys, the policy",
        (
            # One TOTP secret per user (RFC 6238); confirmed once a code from it was typed.
            # last_step: the time step of the last accepted code; only later ones pass.
            """CREATE TABLE totp_secrets (
                user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
                secret TEXT NOT NULL,
                confirmed INTEGER NOT NULL DEFAULT 0,
                last_step INTEGER NOT NULL DEFAULT -1,
                created_at INTEGER NOT NULL
            )""",
            # SHA-256 of each recovery code; used_at set when it was spent.
            """CREATE TABLE recovery_codes (
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                code_hash TEXT NOT NULL,
                used_at INTEGER,
                PRIMARY KEY (user_id, code_hash)
            )""",
            """CREATE TABLE passkeys (
                id INTEGER PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                credential_id BLOB NOT NULL UNIQUE,
                public_key BLOB NOT NULL,
                sign_count INTEGER NOT NULL DEFAULT 0,
                name TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                last_used_at INTEGER
            )""",
            "CREATE INDEX passkeys_user ON passkeys (user_id)",
            # Settings an admin changes in the dashboard (second_factor.py: the policy).
            "CREATE TABLE site_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            # WebAuthn's user handle: random, never the row id or the name (WebAuthn 14.6.1).
            "ALTER TABLE users ADD COLUMN webauthn_handle BLOB",
        ),
    ),
    Migration(
        9,
        "author profiles, one-time password links, former URL names, imports",
        (
            # site_settings (migration 8) also holds the site settings (sitesettings.py).
            # Shown with the author's entries and in feeds (never the login name).
            "ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE users ADD COLUMN bio TEXT NOT NULL DEFAULT ''",
            # Only a SHA-256 of the token is stored (password_links.py); one live link per user.
            """CREATE TABLE password_links (
                token_hash TEXT PRIMARY KEY,
                user_id INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
                expires_at INTEGER NOT NULL
            )""",
            # A renamed entry's earlier URL names answer 301 to the current one.
            """CREATE TABLE former_slugs (
                slug TEXT PRIMARY KEY,
                post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE
            )""",
            # Where an imported entry came from (importing.py): a second import skips it.
            """CREATE TABLE imported (
                source TEXT PRIMARY KEY,
                post_id INTEGER REFERENCES posts (id) ON DELETE SET NULL
            )""",
        ),
    ),
)

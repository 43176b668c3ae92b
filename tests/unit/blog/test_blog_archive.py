"""Export/import round trip, online backup, and migrating a database from an old version."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import pytest
from blog import archive, db, media, posts, users
from blog.migrations import MIGRATIONS
from blog_testkit import tiny_png

NOW = posts.now_seconds()


def populated(tmp_path: Path) -> tuple[sqlite3.Connection, Path]:
    conn = db.open_database(tmp_path / "src" / "blog.sqlite3")
    author = users.create_user(conn, "alice", "correct horse battery", "admin")
    posts.create_post(
        conn,
        title="Hello: «world»",
        body_md="Line one\n\n---\n\n**two**",
        status="published",
        published_at=NOW - 100,
        category="Notes",
        tags=["a", "b c"],
        author_id=author.id,
    )
    posts.create_post(conn, title="A draft", body_md="draft text", status="draft")
    posts.create_post(
        conn,
        title="Story",
        body_md="long",
        kind="story",
        status="published",
        published_at=NOW + 3600,
    )
    trashed = posts.create_post(conn, title="Binned", body_md="gone soon", status="draft")
    posts.move_to_trash(conn, trashed.id, None, now=NOW - 86400)
    about = media.Described("dot.png", author.id, "A dot", 1, 1)
    media.save_media(conn, tmp_path / "src" / "media", tiny_png(), "png", about)
    return conn, tmp_path / "src" / "media"


def snapshot(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    result = []
    for post in posts.all_posts(conn):
        category = posts.category_of(conn, post)
        result.append(
            (
                post.slug,
                post.title,
                post.body_md,
                post.body_html,
                post.status,
                post.kind,
                post.published_at,
                post.created_at,
                post.deleted_at,
                category.name if category else None,
                tuple(t.name for t in posts.tags_of(conn, post.id)),
            )
        )
    return sorted(result)


def test_export_import_round_trip(tmp_path: Path) -> None:
    source, source_media = populated(tmp_path)
    target_zip = tmp_path / "export.zip"
    assert archive.export_archive(source, source_media, target_zip) == 4
    with zipfile.ZipFile(target_zip) as zipped:
        names = set(zipped.namelist())
        text = zipped.read("posts/hello-world.md").decode()
    assert {
        "manifest.json",
        "posts/hello-world.md",
        "posts/a-draft.md",
        "stories/story.md",
    } <= names
    assert any(n.startswith("media/") and n.endswith(".png") for n in names)
    assert (
        text.startswith("---\ntitle: ") and '"author": ' not in text and 'author: "alice"' in text
    )

    target = db.open_database(tmp_path / "dst" / "blog.sqlite3")
    users.create_user(target, "alice", "correct horse battery", "admin")
    report = archive.import_archive(target, tmp_path / "dst" / "media", target_zip)
    assert report.entries == 4 and report.media == 1
    assert snapshot(target) == snapshot(source)
    assert [m.name for m in media.list_media(target)] == [m.name for m in media.list_media(source)]
    # Importing twice replaces by slug instead of duplicating.
    archive.import_archive(target, tmp_path / "dst" / "media", target_zip)
    assert snapshot(target) == snapshot(source)


@pytest.mark.parametrize(
    ("member", "text", "problem"),
    [
        ("posts/x.md", "no front matter", "no front matter"),
        ("posts/x.md", '---\ntitle: "x"\nbody', "not closed"),
        ("posts/x.md", "---\njust words\n---\n", "expected 'key: value'"),
    ],
)
def test_import_reports_bad_documents(tmp_path: Path, member: str, text: str, problem: str) -> None:
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr(member, text)
    conn = db.open_database(tmp_path / "blog.sqlite3")
    with pytest.raises(archive.ArchiveError, match=problem):
        archive.import_archive(conn, tmp_path / "media", path)


def test_import_refuses_disguised_media(tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("media/" + "a" * 32 + ".png", b"<script>alert(1)</script>")
    conn = db.open_database(tmp_path / "blog.sqlite3")
    with pytest.raises(archive.ArchiveError, match="not the image"):
        archive.import_archive(conn, tmp_path / "media", path)


def test_backup_while_a_writer_is_open(tmp_path: Path) -> None:
    live, _ = populated(tmp_path)
    live.execute("BEGIN IMMEDIATE")  # a write in progress must not be half-copied
    live.execute("UPDATE posts SET title = 'uncommitted'")
    target = tmp_path / "backup" / "copy.sqlite3"
    archive.backup_database(tmp_path / "src" / "blog.sqlite3", target)
    live.execute("ROLLBACK")
    copy = sqlite3.connect(target)
    titles = {row[0] for row in copy.execute("SELECT title FROM posts")}
    assert titles == {"Hello: «world»", "A draft", "Story", "Binned"}
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_migrating_a_version_1_database(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = db.connect(path)
    db.migrate(old, MIGRATIONS[:1])
    old.execute(
        "INSERT INTO posts (slug, title, body_md, body_html, status, published_at, created_at,"
        " updated_at) VALUES ('kept', 'Kept post', 'searchable words', '<p>searchable words</p>',"
        " 'published', 1, 1, 1)"
    )
    old.close()
    conn = db.open_database(path)
    assert db.schema_version(conn) == MIGRATIONS[-1].version
    post = posts.get_by_slug(conn, "kept")
    assert post is not None and post.kind == "post" and post.author_id is None
    # The full-text index was built for rows that predate it.
    assert [p.slug for p in posts.search(conn, "searchable", NOW)] == ["kept"]
    # Revisions start with what was there: the first one can be restored.
    assert (post.revision, post.deleted_at, post.state(NOW)) == (1, None, "published")
    first = posts.get_revision(conn, post.id, 1)
    assert first is not None and first.draft.body_md == "searchable words"


@pytest.mark.parametrize(
    ("body", "reason"),
    [("x" * (300 * 1024), "the limit is 256 KiB"), (">" * 100 + " deep", "nests more than")],
)
def test_import_refuses_a_post_over_the_bounds_by_name(tmp_path: Path, body, reason) -> None:
    """blogctl import renders in its own process, with the same bounds as the server."""
    source = tmp_path / "big.zip"
    with zipfile.ZipFile(source, "w") as archive_file:
        archive_file.writestr("posts/big.md", '---\ntitle: "Big"\n---\n' + body)
    conn = db.open_database(tmp_path / "blog.sqlite3")
    with pytest.raises(archive.ArchiveError, match=f"posts/big.md: .*{reason}"):
        archive.import_archive(conn, tmp_path / "media", source)
    assert conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0

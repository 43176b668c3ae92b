"""Moving a blog in with blogctl import-blog: a small WordPress (WXR 1.2) export and a
small Ghost (5.x JSON) export written here; the second import changes nothing."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from blog import importing, posts, users
from blog.config import Settings
from blog.ctl import main
from blog.db import open_database

WXR = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"
  xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
  xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
  <title>Old kitchen</title>
  <wp:wxr_version>1.2</wp:wxr_version>
  <wp:author><wp:author_id>1</wp:author_id><wp:author_login><![CDATA[jane]]></wp:author_login>
    <wp:author_display_name><![CDATA[Jane Doe]]></wp:author_display_name></wp:author>
  <wp:author><wp:author_id>2</wp:author_id><wp:author_login><![CDATA[owner]]></wp:author_login>
    <wp:author_display_name><![CDATA[The Owner]]></wp:author_display_name></wp:author>
  <item>
    <title>Sourdough &amp; rye</title>
    <pubDate>Wed, 15 Jan 2020 09:00:00 +0000</pubDate>
    <dc:creator><![CDATA[jane]]></dc:creator>
    <guid isPermaLink="false">https://old.example/?p=11</guid>
    <content:encoded><![CDATA[<p>Feed the starter.</p>
<p><img src="https://old.example/wp-content/uploads/loaf.jpg" alt="A loaf"></p>]]></content:encoded>
    <wp:post_id>11</wp:post_id>
    <wp:post_date_gmt><![CDATA[2020-01-15 09:00:00]]></wp:post_date_gmt>
    <wp:post_name><![CDATA[sourdough-rye]]></wp:post_name>
    <wp:status><![CDATA[publish]]></wp:status>
    <wp:post_type><![CDATA[post]]></wp:post_type>
    <category domain="category" nicename="baking"><![CDATA[Baking]]></category>
    <category domain="post_tag" nicename="bread"><![CDATA[bread]]></category>
    <category domain="post_tag" nicename="rye"><![CDATA[rye]]></category>
  </item>
  <item>
    <title>About</title>
    <dc:creator><![CDATA[owner]]></dc:creator>
    <guid isPermaLink="false">https://old.example/?page_id=2</guid>
    <content:encoded><![CDATA[<p>This is me.</p>]]></content:encoded>
    <wp:post_id>2</wp:post_id>
    <wp:post_date_gmt><![CDATA[2019-12-01 08:00:00]]></wp:post_date_gmt>
    <wp:post_name><![CDATA[about]]></wp:post_name>
    <wp:status><![CDATA[publish]]></wp:status>
    <wp:post_type><![CDATA[page]]></wp:post_type>
  </item>
  <item>
    <title>Half written</title>
    <dc:creator><![CDATA[jane]]></dc:creator>
    <guid isPermaLink="false">https://old.example/?p=12</guid>
    <content:encoded><![CDATA[Not yet.]]></content:encoded>
    <wp:post_id>12</wp:post_id>
    <wp:post_date_gmt><![CDATA[0000-00-00 00:00:00]]></wp:post_date_gmt>
    <wp:post_name><![CDATA[]]></wp:post_name>
    <wp:status><![CDATA[draft]]></wp:status>
    <wp:post_type><![CDATA[post]]></wp:post_type>
  </item>
  <item>
    <title>loaf.jpg</title>
    <guid isPermaLink="false">https://old.example/wp-content/uploads/loaf.jpg</guid>
    <wp:post_id>13</wp:post_id>
    <wp:status><![CDATA[inherit]]></wp:status>
    <wp:post_type><![CDATA[attachment]]></wp:post_type>
  </item>
  <item>
    <title>Binned</title>
    <guid isPermaLink="false">https://old.example/?p=14</guid>
    <wp:post_id>14</wp:post_id>
    <wp:status><![CDATA[trash]]></wp:status>
    <wp:post_type><![CDATA[post]]></wp:post_type>
  </item>
</channel>
</rss>
"""

GHOST = {
    "db": [
        {
            "meta": {"exported_on": 1700000000000, "version": "5.75.0"},
            "data": {
                "posts": [
                    {
                        "id": "p1", "uuid": "0b8e6c6e-1111-4c5b-9a6e-aaaaaaaaaaaa",
                        "title": "Ghostly tea", "slug": "ghostly-tea", "type": "post",
                        "status": "published", "published_at": "2021-06-01T07:30:00.000Z",
                        "updated_at": "2021-06-02T10:00:00.000Z",
                        "html": '<p>Steep it.</p><figure><img src="__GHOST_URL__/content/'
                        'images/2021/06/cup.png" alt="Cup"></figure>',
                    },
                    {
                        "id": "p2", "uuid": "0b8e6c6e-2222-4c5b-9a6e-bbbbbbbbbbbb",
                        "title": "Colophon", "slug": "colophon", "type": "page",
                        "status": "published", "published_at": "2021-01-01T00:00:00.000Z",
                        "html": "<p>Made with care.</p>",
                    },
                    {
                        "id": "p3", "uuid": "0b8e6c6e-3333-4c5b-9a6e-cccccccccccc",
                        "title": "Someday", "slug": "someday", "type": "post",
                        "status": "draft", "published_at": None, "html": "<p>Later.</p>",
                    },
                ],
                "tags": [{"id": "t1", "name": "Tea", "slug": "tea"},
                         {"id": "t2", "name": "Mornings", "slug": "mornings"}],
                "posts_tags": [{"post_id": "p1", "tag_id": "t2", "sort_order": 1},
                               {"post_id": "p1", "tag_id": "t1", "sort_order": 0}],
                "users": [{"id": "u1", "name": "Casper Ghost", "slug": "casper"}],
                "posts_authors": [{"post_id": "p1", "author_id": "u1", "sort_order": 0},
                                  {"post_id": "p2", "author_id": "u1", "sort_order": 0}],
            },
        }
    ]
}  # fmt: skip


def at(*fields: int) -> int:
    return int(datetime(*fields, tzinfo=UTC).timestamp())


@pytest.fixture
def blog_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("BLOG_DATA_DIR", str(tmp_path / "data"))
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def conn(blog_env: Settings) -> sqlite3.Connection:
    return open_database(blog_env.db_path)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    rows = conn.execute(
        "SELECT slug, title, body_md, status, published_at, kind, author_id, category_id,"
        " updated_at, revision FROM posts ORDER BY id"
    )
    return [tuple(row) for row in rows] + [tuple(r) for r in conn.execute("SELECT * FROM users")]


def test_a_wordpress_export_comes_in_and_a_second_import_changes_nothing(
    tmp_path: Path, conn: sqlite3.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    users.create_user(conn, "owner", "a long owner passphrase", "admin")
    posts.create_post(conn, title="About", body_md="Mine, not the import's.", slug="about")
    path = write(tmp_path, "export.xml", WXR)
    assert main(["import-blog", str(path)]) == 0
    bread = posts.get_by_slug(conn, "sourdough-rye")
    assert bread is not None and bread.title == "Sourdough & rye" and bread.kind == "post"
    assert bread.status == "published" and bread.published_at == at(2020, 1, 15, 9, 0)
    assert 'src="https://old.example/wp-content/uploads/loaf.jpg"' in bread.body_html  # a link
    assert posts.category_of(conn, bread).name == "Baking"  # type: ignore[union-attr]
    assert [t.name for t in posts.tags_of(conn, bread.id)] == ["bread", "rye"]
    jane = users.require_user(conn, "jane")
    assert bread.author_id == jane.id and jane.disabled and jane.display_name == "Jane Doe"
    # The existing "about" is not overwritten: the page comes in beside it, as a story.
    assert posts.get_by_slug(conn, "about").body_md == "Mine, not the import's."  # type: ignore[union-attr]
    page = posts.get_by_slug(conn, "about-2")
    assert page is not None and page.kind == "story"
    assert page.author_id == users.require_user(conn, "owner").id  # matched, still enabled
    assert not users.require_user(conn, "owner").disabled
    draft = posts.get_by_slug(conn, "half-written")
    assert draft is not None and draft.status == "draft"
    assert posts.get_by_slug(conn, "binned") is None and posts.get_by_slug(conn, "loaf-jpg") is None
    before = snapshot(conn)
    capsys.readouterr()
    assert main(["import-blog", str(path)]) == 0
    assert snapshot(conn) == before
    assert "imported 0 entries; 3 imported before" in capsys.readouterr().out


def test_a_ghost_export_comes_in_and_a_second_import_changes_nothing(
    tmp_path: Path, conn: sqlite3.Connection
) -> None:
    path = write(tmp_path, "ghost.json", json.dumps(GHOST))
    assert main(["import-blog", str(path), "--old-url", "https://old.ghost.example/"]) == 0
    tea = posts.get_by_slug(conn, "ghostly-tea")
    assert tea is not None and tea.published_at == at(2021, 6, 1, 7, 30)
    assert 'src="https://old.ghost.example/content/images/2021/06/cup.png"' in tea.body_html
    assert [t.name for t in posts.tags_of(conn, tea.id)] == ["Mornings", "Tea"]
    casper = users.require_user(conn, "casper")
    assert tea.author_id == casper.id and casper.disabled
    assert posts.get_by_slug(conn, "colophon").kind == "story"  # type: ignore[union-attr]
    assert posts.get_by_slug(conn, "someday").status == "draft"  # type: ignore[union-attr]
    before = snapshot(conn)
    assert main(["import-blog", str(path)]) == 0
    assert snapshot(conn) == before


def test_a_dry_run_prints_the_plan_and_writes_nothing(
    tmp_path: Path, conn: sqlite3.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "export.xml", WXR)
    before = snapshot(conn)
    assert main(["import-blog", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would import post published 2020-01-15: Sourdough & rye" in out
    assert "would create disabled author jane" in out
    assert "would import 3 entries" in out
    assert snapshot(conn) == before


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "bomb.xml",
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            "<rss><channel>&b;</channel></rss>",
            "unsafe XML",
        ),
        (
            "xxe.xml",
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            "<rss><channel>&x;</channel></rss>",
            "unsafe XML",
        ),
        ("feed.xml", "<rss><channel><item/></channel></rss>", "not a WordPress export"),
        ("broken.xml", "<rss><channel>", "not a WordPress export"),
        ("other.json", '{"posts": []}', "not a Ghost export"),
        ("broken.json", "{not json", "not a Ghost export"),
    ],
)
def test_a_file_that_is_not_a_safe_export_is_refused_with_a_message(
    tmp_path: Path,
    conn: sqlite3.Connection,
    capsys: pytest.CaptureFixture[str],
    name: str,
    text: str,
    message: str,
) -> None:
    path = write(tmp_path, name, text)
    assert main(["import-blog", str(path)]) == 1
    assert message in capsys.readouterr().err
    assert conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0


def test_an_entry_the_blog_refuses_is_reported_and_the_others_come_in(
    conn: sqlite3.Connection,
) -> None:
    huge = importing.Item(
        "wxr:huge", "post", "Huge", "huge", "x" * 300_000, "published", 1, 1, None
    )
    fine = importing.Item("wxr:fine", "post", "Fine", "fine", "ok", "published", 1, 1, None)
    report = importing.import_items(conn, [huge, fine])
    assert (report.imported, report.failed) == (1, 1)
    assert posts.get_by_slug(conn, "fine") is not None and posts.get_by_slug(conn, "huge") is None


@pytest.mark.parametrize(
    "data",
    [
        {"db": [{"data": {"posts": [{"title": "x"}], "tags": ["not an object"]}}]},
        {"db": [{"data": {"posts": "not a list"}}]},
        {"data": {"posts": [{"title": "x", "published_at": "99999-01-01T00:00:00Z"}]}},
    ],
)
def test_a_ghost_file_of_another_shape_is_refused_or_read_without_a_traceback(
    tmp_path: Path, conn: sqlite3.Connection, capsys: pytest.CaptureFixture[str], data: object
) -> None:
    path = write(tmp_path, "odd.json", json.dumps(data))
    code = main(["import-blog", str(path)])
    err = capsys.readouterr().err
    assert code in (0, 1) and "Traceback" not in err
    if code == 1:
        assert "shape" in err or "not a Ghost export" in err


def test_the_export_may_come_on_standard_input(
    conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(WXR.encode())))
    assert main(["import-blog", "-"]) == 0
    assert posts.get_by_slug(conn, "sourdough-rye") is not None


MEMORY_BUDGET = 192 * 2**20  # half the blog container's mem_limit (compose.yaml: 384m)
# VmHWM, the peak RSS of this process's memory: getrusage's ru_maxrss would also count
# the forked pytest's memory before exec (Linux keeps the larger of the two).
MEASURE = """
import re, sys
from pathlib import Path
from blog.ctl import main
code = main(["import-blog", sys.argv[1], "--dry-run"])
status = Path("/proc/self/status").read_text()
print(code, int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) * 1024)
"""


@pytest.mark.parametrize("kind", ["wxr", "ghost"])
def test_an_export_at_the_size_limit_fits_in_the_containers_memory(
    tmp_path: Path, kind: str
) -> None:
    """An accepted file's import peaks well inside the container (attack3 finding 11: a
    189 MiB export peaked at 440 MiB); one byte more is refused with the way out."""
    import subprocess
    import sys

    body = "x" * 200_000
    count = importing.MAX_FILE_BYTES // (len(body) + 400)
    path = tmp_path / "export"
    if kind == "wxr":
        items = "".join(
            f"<item><title>t{i}</title><guid>g{i}</guid><content:encoded><![CDATA[<p>{body}"
            f"</p>]]></content:encoded><wp:post_id>{i}</wp:post_id><wp:post_name>p{i}"
            "</wp:post_name><wp:status>draft</wp:status><wp:post_type>post</wp:post_type></item>"
            for i in range(count)
        )
        path.write_text(WXR.split("<item>")[0] + items + "</channel></rss>")
    else:
        entries = [
            {"uuid": f"u{i}", "title": f"t{i}", "slug": f"p{i}", "html": f"<p>{body}</p>",
             "status": "draft", "type": "post"}
            for i in range(count)
        ]  # fmt: skip
        path.write_text(json.dumps({"db": [{"data": {"posts": entries}}]}))
    size = path.stat().st_size
    assert importing.MAX_FILE_BYTES - 2**20 < size <= importing.MAX_FILE_BYTES
    env = {"BLOG_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    env["PYTHONPATH"] = str(Path(importing.__file__).parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], env=env, capture_output=True, text=True
    )
    code, peak = done.stdout.split()[-2:]
    assert code == "0", done.stderr
    assert int(peak) < MEMORY_BUDGET, f"peak {int(peak) / 2**20:.0f} MiB for {size} bytes"

    with path.open("ab") as grow:
        grow.write(b" " * (importing.MAX_FILE_BYTES + 1 - size))
    with pytest.raises(importing.ImportFileError, match="split the export"):
        importing.read_items(path)


@pytest.mark.parametrize("way", ["import-blog", "archive"])
def test_an_import_moves_feeds_and_the_sitemaps_last_modified(
    tmp_path: Path, conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    """Imported entries keep their old dates; the validators must still move past the
    import, even when a reader fetched in the import's own second (attack3 finding 05)."""
    from blog import archive

    clock = at(2026, 11, 30, 12, 0)
    monkeypatch.setattr(posts, "now_seconds", lambda: clock)
    posts.create_post(conn, title="Recent", body_md="x", status="published", published_at=clock)
    before = posts.last_change(conn, clock)
    if way == "import-blog":
        importing.import_items(conn, importing.read_items(write(tmp_path, "wp.xml", WXR)))
    else:
        other = open_database(tmp_path / "other.sqlite3")
        posts.create_post(
            other, title="Old", body_md="x", status="published", published_at=at(2017, 1, 1)
        )
        archive.export_archive(other, tmp_path / "media", tmp_path / "old.zip")
        archive.import_archive(conn, tmp_path / "media", tmp_path / "old.zip")
    assert posts.last_change(conn, clock) == before  # never a time in the future
    for listing in (posts.Listing(kind=None), posts.Listing(kind="post")):
        assert posts.last_change(conn, clock + 1, listing) > before


@pytest.mark.parametrize(
    ("login", "attaches"),
    [
        ("alice", True),
        ("ALICE", True),
        ("\uff41\uff4c\uff49\uff43\uff45", False),
        ("alice!", False),
        (" alice ", True),
    ],
)
def test_only_the_same_login_attaches_to_an_existing_user(
    conn: sqlite3.Connection, login: str, attaches: bool
) -> None:
    """A login the blog rewrites into a taken name gets its own disabled author, never the
    existing account (attack3 finding 08); two entries by it share that author."""
    alice = users.create_user(conn, "alice", "correct horse battery staple", "admin")
    author = importing.Author(login, "Someone")
    items = [
        importing.Item(
            f"wxr:{n}", "post", f"T{n}", f"t{n}", "<p>x</p>", "draft", None, None, author
        )
        for n in (1, 2)
    ]
    plan = importing.plan(conn, items)
    assert plan.authors_created == (0 if attaches else 1)
    report = importing.import_items(conn, items)
    owners = {posts.get_by_slug(conn, f"t{n}").author_id for n in (1, 2)}  # type: ignore[union-attr]
    assert len(owners) == 1
    owner = users.get_user(conn, owners.pop())  # type: ignore[arg-type]
    assert owner is not None
    if attaches:
        assert owner.id == alice.id and report.authors_created == 0
    else:
        assert owner.id != alice.id and owner.disabled and owner.role == "author"
        assert owner.name == "alice-2" and report.authors_created == 1
        assert users.get_user(conn, alice.id).display_name == ""  # type: ignore[union-attr]


def test_a_deeply_nested_json_file_is_refused_with_a_message(
    tmp_path: Path, conn: sqlite3.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a RecursionError traceback (attack3 finding 03)."""
    path = write(tmp_path, "deep.json", "{" + '"a":' + "[" * 100_000 + "]" * 100_000 + "}")
    assert main(["import-blog", str(path)]) == 1
    err = capsys.readouterr().err
    assert "not a Ghost export" in err and "Traceback" not in err and len(err.splitlines()) == 1


def ghost_with(post: dict[str, object], user: dict[str, object] | None = None) -> str:
    data: dict[str, object] = {
        "posts": [
            {
                "uuid": "u1",
                "slug": "p",
                "html": "<p>x</p>",
                "status": "published",
                "author_id": "9",
                **post,
            }
        ]
    }
    if user is not None:
        data["users"] = [{"id": "9", **user}]
    return json.dumps({"db": [{"data": data}]})


@pytest.mark.parametrize(
    ("title", "stored"),
    [
        ("   ", "Untitled"),
        ("\x01\x02", "Untitled"),
        (None, "Untitled"),
        (" A\x00 b ", "A b"),
        ("x" * 300, "x" * 200),
    ],
)
def test_imported_titles_follow_the_editors_rule(
    tmp_path: Path, conn: sqlite3.Connection, title: object, stored: str
) -> None:
    """attack3 finding 10: blank and control-character titles came in as they were."""
    path = write(tmp_path, "g.json", ghost_with({"title": title}))
    importing.import_items(conn, importing.read_items(path))
    assert posts.get_by_slug(conn, "p").title == stored  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("user", "name", "display"),
    [
        ({}, None, None),
        ({"slug": None, "name": None}, None, None),
        ({"name": "Ann Lee"}, "ann-lee", "Ann Lee"),
        ({"slug": "ann"}, "ann", ""),
    ],
)
def test_a_ghost_author_without_a_name_is_no_author(
    tmp_path: Path,
    conn: sqlite3.Connection,
    user: dict[str, object],
    name: str | None,
    display: str | None,
) -> None:
    """attack3 finding 12: str(None) made a user called "None"."""
    path = write(tmp_path, "g.json", ghost_with({"title": "T"}, user))
    importing.import_items(conn, importing.read_items(path))
    assert users.find_user(conn, "None") is None
    author_id = posts.get_by_slug(conn, "p").author_id  # type: ignore[union-attr]
    if name is None:
        assert author_id is None
    else:
        author = users.get_user(conn, author_id)  # type: ignore[arg-type]
        assert author is not None and (author.name, author.display_name) == (name, display)

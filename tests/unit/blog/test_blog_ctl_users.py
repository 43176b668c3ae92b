"""blogctl user add/list/disable/enable/reset/role on a real database file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from blog import ctl, db, users


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BLOG_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def run(*argv: str, stdin: str = "", monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return ctl.main(list(argv))


def user_named(data_dir: Path, name: str) -> users.User | None:
    return users.find_user(db.open_database(data_dir / "blog.sqlite3"), name)


def test_add_admin_from_password_file(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("correct horse battery staple\n")
    assert (
        run(
            "user",
            "add",
            "alice",
            "--admin",
            "--password-file",
            str(secret),
            monkeypatch=monkeypatch,
        )
        == 0
    )
    user = user_named(data_dir, "alice")
    assert user is not None and user.role == "admin" and not user.disabled
    conn = db.open_database(data_dir / "blog.sqlite3")
    stored = conn.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "correct" not in stored
    assert run("user", "list", monkeypatch=monkeypatch) == 0
    assert "alice" in capsys.readouterr().out


def test_add_author_from_stdin_and_duplicates_refused(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    assert run("user", "add", "bob", stdin="a decent passphrase\n", monkeypatch=monkeypatch) == 0
    assert user_named(data_dir, "bob").role == "author"  # type: ignore[union-attr]
    assert run("user", "add", "BOB", stdin="another passphrase\n", monkeypatch=monkeypatch) == 1
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("carol", "password", "commonly used"),
        ("carol", "short", "at least 8"),
        ("bad name", "a decent passphrase", "user name must"),
    ],
)
def test_add_refuses_bad_input(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys, name: str, password: str, message: str
) -> None:
    assert run("user", "add", name, stdin=password + "\n", monkeypatch=monkeypatch) == 1
    assert message in capsys.readouterr().err
    assert user_named(data_dir, name) is None


def test_disable_enable_reset_role(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("user", "add", "dave", stdin="first passphrase\n", monkeypatch=monkeypatch) == 0
    assert run("user", "disable", "dave", monkeypatch=monkeypatch) == 0
    assert user_named(data_dir, "dave").disabled  # type: ignore[union-attr]
    assert run("user", "enable", "dave", monkeypatch=monkeypatch) == 0
    assert not user_named(data_dir, "dave").disabled  # type: ignore[union-attr]
    assert run("user", "reset", "dave", stdin="second passphrase\n", monkeypatch=monkeypatch) == 0
    conn = db.open_database(data_dir / "blog.sqlite3")
    row = conn.execute("SELECT password_hash FROM users WHERE name='dave'").fetchone()
    from blog.passwords import verify_password

    assert verify_password(row[0], "second passphrase")
    assert not verify_password(row[0], "first passphrase")
    assert run("user", "role", "dave", "admin", monkeypatch=monkeypatch) == 0
    assert user_named(data_dir, "dave").role == "admin"  # type: ignore[union-attr]
    assert run("user", "disable", "nobody", monkeypatch=monkeypatch) == 1


def test_export_to_standard_output(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary
) -> None:
    """`docker compose exec -T blog blogctl export - > blog.zip`: the container's root
    file system is read-only, so "-" must not be taken for a file name."""
    import zipfile

    assert run("export", "-", monkeypatch=monkeypatch) == 0
    captured = capsysbinary.readouterr()
    with zipfile.ZipFile(io.BytesIO(captured.out)) as archive:
        assert archive.testzip() is None
    assert b"exported 0 entries to standard output" in captured.err
    assert not any(data_dir.glob(".export-*")) and not Path("-").exists()


def test_a_reset_from_blogctl_ends_the_users_password_links(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blog import password_links, posts

    assert run("user", "add", "erin", stdin="first passphrase\n", monkeypatch=monkeypatch) == 0
    conn = db.open_database(data_dir / "blog.sqlite3")
    erin = users.require_user(conn, "erin")
    token = password_links.issue(conn, erin.id, posts.now_seconds())
    assert run("user", "reset", "erin", stdin="second passphrase\n", monkeypatch=monkeypatch) == 0
    assert password_links.user_for(conn, token, posts.now_seconds()) is None


def test_a_missing_file_says_the_path_is_the_containers(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """New-user finding: `blogctl import-blog /tmp/x.xml` run through docker compose exec
    only said "No such file or directory"."""
    assert run("import-blog", "/nowhere/export.xml", monkeypatch=monkeypatch) == 1
    said = capsys.readouterr().err
    assert "No such file or directory" in said
    assert "docker compose exec -T blog blogctl import-blog - < FILE" in said

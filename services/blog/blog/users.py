"""Local user accounts: create, list, disable, reset, and authenticate."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .db import transaction
from .passwords import (
    DUMMY_HASH,
    check_policy,
    hash_password,
    needs_rehash,
    off_loop,
    verify_password,
)
from .posts import mark_shown_change, now_seconds

Role = Literal["admin", "author"]
ROLES: tuple[Role, ...] = ("admin", "author")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class UserError(ValueError):
    """A user operation was refused; the message says why."""


class AdminExistsError(UserError):
    """The first admin was asked for, but there already is one."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    disabled: bool
    created_at: int
    display_name: str = ""
    bio: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def public_name(self) -> str:
        """What readers see as the author: the display name, or nothing. Never the user
        name: that is half of a login, and readers have no use for it."""
        return self.display_name


def _user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        disabled=bool(row["disabled"]),
        created_at=row["created_at"],
        display_name=row["display_name"],
        bio=row["bio"],
    )


def validate_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise UserError(
            "user name must be 1-64 characters of letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return name


def check_new_user(name: str, password: str, role: Role) -> None:
    """The rules every new account meets, from blogctl or the setup link alike.

    Raises UserError or PasswordPolicyError.
    """
    validate_name(name)
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    check_policy(password, name)


def create_user(conn: sqlite3.Connection, name: str, password: str, role: Role) -> User:
    check_new_user(name, password, role)
    return insert_user(conn, name, hash_password(password), role)


def has_admin(conn: sqlite3.Connection) -> bool:
    """Whether any admin account exists, enabled or not."""
    return conn.execute("SELECT 1 FROM users WHERE role = 'admin' LIMIT 1").fetchone() is not None


def insert_user(
    conn: sqlite3.Connection,
    name: str,
    password_hash: str,
    role: Role,
    *,
    only_if_no_admin: bool = False,
) -> User:
    """Store a checked account. With only_if_no_admin the check runs inside the write
    transaction (BEGIN IMMEDIATE), so two processes can never both create the first admin.
    """
    now = now_seconds()
    try:
        with transaction(conn):
            if only_if_no_admin and has_admin(conn):
                raise AdminExistsError("an admin already exists")
            cursor = conn.execute(
                "INSERT INTO users (name, password_hash, role, created_at, password_changed_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, password_hash, role, now, now),
            )
    except sqlite3.IntegrityError:
        raise UserError(f"user {name!r} already exists") from None
    user = get_user(conn, int(cursor.lastrowid or 0))
    assert user is not None
    return user


def get_user(conn: sqlite3.Connection, user_id: int) -> User | None:
    row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    return _user(row) if row else None


def public_names(conn: sqlite3.Connection, user_ids: Iterable[int | None]) -> dict[int, str]:
    """Each author's public name (User.public_name) by id; unknown ids and authors with
    no display name are left out."""
    wanted = sorted({i for i in user_ids if i is not None})
    marks = ", ".join("?" * len(wanted))
    sql = f"SELECT id, display_name FROM users WHERE id IN ({marks}) AND display_name != ''"  # noqa: S608
    return {row[0]: row[1] for row in conn.execute(sql, wanted)}


def find_user(conn: sqlite3.Connection, name: str) -> User | None:
    row = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    return _user(row) if row else None


def require_user(conn: sqlite3.Connection, name: str) -> User:
    user = find_user(conn, name)
    if user is None:
        raise UserError(f"no user named {name!r}")
    return user


def list_users(conn: sqlite3.Connection) -> list[User]:
    return [_user(r) for r in conn.execute("SELECT * FROM users ORDER BY name")]


def end_password_links(conn: sqlite3.Connection, user_id: int) -> None:
    """Delete the user's one-time password links (password_links.py), inside the caller's
    transaction: any change to the account's password, state or role ends them, so a link
    given before cannot outlive the decision that followed it."""
    conn.execute("DELETE FROM password_links WHERE user_id = ?", (user_id,))


def set_disabled(conn: sqlite3.Connection, name: str, disabled: bool) -> User:
    """Disable (ending the user's sessions) or enable the user; either ends their
    password links. UserError for an unknown name."""
    user = require_user(conn, name)
    with transaction(conn):
        conn.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), user.id))
        end_password_links(conn, user.id)
        if disabled:
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
    return require_user(conn, name)


def set_role(conn: sqlite3.Connection, name: str, role: Role) -> User:
    """Make the user an admin or an author."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    user = require_user(conn, name)
    with transaction(conn):
        conn.execute("UPDATE users SET role = ? WHERE id = ?", (role, user.id))
        end_password_links(conn, user.id)
    return require_user(conn, name)


MAX_DISPLAY_NAME = 100
MAX_BIO = 1000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _visible(text: str) -> str:
    """`text` in NFKC with no control or format characters (Unicode Cc, Cf: zero-width
    spaces and joiners, direction marks), which render as nothing or rearrange text."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf"))


def clean_profile(display_name: str, bio: str) -> tuple[str, str]:
    """A display name (one line, NFKC, no invisible characters) and a bio (plain text,
    lines kept) as stored; UserError when one is too long."""
    display_name = " ".join(_visible(display_name).split())
    bio = _CONTROL.sub("", bio.replace("\r\n", "\n")).strip()
    if len(display_name) > MAX_DISPLAY_NAME:
        raise UserError(f"The display name must be at most {MAX_DISPLAY_NAME} characters.")
    if len(bio) > MAX_BIO:
        raise UserError(f"The bio must be at most {MAX_BIO} characters.")
    return display_name, bio


def _name_key(display_name: str) -> str:
    """What readers cannot tell apart: case, invisible characters and spacing aside."""
    return " ".join(_visible(display_name).split()).casefold()


def check_display_name(conn: sqlite3.Connection, display_name: str, user_id: int | None) -> None:
    """UserError when another account (not `user_id`) shows the same display name, as
    readers see it (clean_profile's form, letter case aside): one author must not sign
    as another."""
    key = _name_key(display_name)
    if not key:
        return
    rows = conn.execute("SELECT id, display_name FROM users WHERE display_name != ''")
    if any(row[0] != user_id and _name_key(row[1]) == key for row in rows):
        raise UserError(
            f"The display name {display_name!r} is already another account's (letter case"
            " and invisible characters aside); choose one readers can tell apart."
        )


def set_profile(conn: sqlite3.Connection, user_id: int, display_name: str, bio: str) -> None:
    """Store what readers see of a user (clean_profile's and check_display_name's rules;
    UserError otherwise)."""
    display_name, bio = clean_profile(display_name, bio)
    check_display_name(conn, display_name, user_id)
    with transaction(conn):
        conn.execute(
            "UPDATE users SET display_name = ?, bio = ? WHERE id = ?", (display_name, bio, user_id)
        )
        mark_shown_change(conn, now_seconds())  # pages and feeds name the author


def reset_password(conn: sqlite3.Connection, name: str, password: str) -> User:
    """Set a new password and end every session of the user."""
    user = require_user(conn, name)
    check_policy(password, user.name)
    store_password_hash(conn, user.id, hash_password(password))
    return user


def password_hash_of(conn: sqlite3.Connection, user_id: int) -> str | None:
    """The user's stored password hash (None: no such user)."""
    row = conn.execute("SELECT password_hash FROM users WHERE id = ?", (user_id,)).fetchone()
    return row[0] if row else None


def store_password_hash(conn: sqlite3.Connection, user_id: int, password_hash: str) -> None:
    """Replace the hash, end every session and every one-time password link: a changed
    password logs out everywhere."""
    with transaction(conn):
        write_password_hash(conn, user_id, password_hash, now_seconds())


def write_password_hash(
    conn: sqlite3.Connection, user_id: int, password_hash: str, now: int
) -> None:
    """store_password_hash inside the caller's transaction."""
    conn.execute(
        "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
        (password_hash, now, user_id),
    )
    conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
    end_password_links(conn, user_id)


async def authenticate(conn: sqlite3.Connection, name: str, password: str) -> User | None:
    """The active user with this name and password, or None.

    Argon2 runs in the bounded hashing threads; the database is only touched on the event loop,
    so the shared connection never sees two transactions at once.
    """
    row = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    stored = DUMMY_HASH if row is None else row["password_hash"]
    matches = await off_loop(verify_password, stored, password)
    if row is None or not matches or row["disabled"]:
        return None
    if needs_rehash(stored):
        new_hash = await off_loop(hash_password, password)
        with transaction(conn):
            conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (new_hash, row["id"]))
    return _user(row)

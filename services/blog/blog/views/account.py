"""Log in, log out, change one's password."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from aiohttp import web

from .. import autosave, devices, keys, posts, second_factor, sessions, users
from ..auth import Principal, current, login_required_to_enrol, principal_of
from ..db import as_rowid
from ..forms import read_form, text
from ..forwarded import CLIENT, credentials_private
from ..passwords import MAX_LENGTH, PasswordPolicyError, check_policy, hash_password, off_loop
from ..posts import now_seconds
from ..redirects import DEFAULT_AFTER_LOGIN, after_login
from ..rescue import carried_back, pending_fields
from ..templating import render, see_other
from ..throttle import Attempt
from ..users import authenticate

GENERIC_FAILURE = "Unknown user name or wrong password."
log = logging.getLogger("blog.account")
INSECURE_LOGIN = (
    "This connection is plain HTTP, so the password was not checked: anyone on the network"
    " path could have read it. Log in at the blog's https:// address (and change the"
    " password if it was a real one)."
)
SESSION_ENDED = (
    "You are logged out (the session ended, or you logged out in another tab), so nothing"
    " was saved. Log in again: your text comes with you and waits in the editor."
)


def throttled_message(attempt: Attempt) -> str:
    """What a refused attempt is told: when to come back, in minutes past two minutes."""
    seconds = math.ceil(attempt.retry_after)
    wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    return f"Too many failed attempts. Try again in {wait}."


def _login_page(
    request: web.Request,
    status: int,
    error: str = "",
    name: str = "",
    next_url: str = "",
    pending: dict[str, str] | None = None,
) -> web.Response:
    insecure = not credentials_private(request)
    context = {
        "error": error,
        "username": name,
        "next": next_url or DEFAULT_AFTER_LOGIN,
        "pending": pending,
        # No password form over plain HTTP: typing the password would already expose it.
        "insecure": insecure,
        "https_url": request.app[keys.SETTINGS].public_url or None,
    }
    return render("login.html", request, context, 403 if insecure else status)


def login_with_pending(request: web.Request, form: Mapping[str, object]) -> web.Response:
    """The login form for an editor form whose session is gone, carrying its text
    (rescue.py): nothing is stored until the login succeeds."""
    return _login_page(request, 401, SESSION_ENDED, pending=pending_fields(form))


def keep_pending(request: web.Request, user: users.User, pending: dict[str, str]) -> str:
    """Store the text a login carried as the user's autosave; the editor path that shows it.

    An entry the user may not edit (someone else logged in) gets nothing of it: the text
    becomes an unsaved new entry of theirs instead.
    """
    conn = request.app[keys.DB]
    values = autosave.clean_values(pending)
    key, base = pending["editor_key"], pending["base_revision"]
    post = None
    if autosave.valid_key(key) and key.startswith("post-"):
        post = posts.get_by_id(conn, int(key.removeprefix("post-")))
    now = now_seconds()
    if post is not None and Principal(user.id, user.name, user.role).may_edit(post.author_id):
        revision = as_rowid(base)
        autosave.store(conn, user.id, key, values, now, post_id=post.id, base_revision=revision)
        return f"/dashboard/posts/{post.id}?restore=autosave"
    key = key if autosave.valid_key(key) and key.startswith("new-") else autosave.new_key()
    autosave.store(conn, user.id, key, values, now)
    return f"/dashboard/posts/new?resume={key}"


async def login_form(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    if principal is not None and principal.session is None:
        # Open mode or trusted local access: there is nothing to log in to.
        raise web.HTTPSeeOther("/dashboard")
    return _login_page(request, 200, next_url=after_login(request.query.get("next")))


def begin_attempt(request: web.Request, name: str) -> Attempt:
    """Charge one try at logging in as `name` to the login throttle (throttle.py): a
    password, a one-time code or a recovery code alike, so each kind of guess uses up
    the same budgets. A known browser (devices.py) is charged to its own budget."""
    app = request.app
    cookie = request.cookies.get(devices.COOKIE_NAME, "")
    known = devices.verify(app[keys.DEVICE_KEY], cookie, name, now_seconds()) if name else None
    return app[keys.THROTTLE].begin(request[CLIENT].ip, name, known)


async def check_password(
    request: web.Request, name: str, password: str, *, last_factor: bool = True
) -> tuple[users.User | None, Attempt]:
    """The user if `password` is theirs, under the login throttle; every password check
    goes through here.

    The attempt is charged before the hash is awaited (throttle.py), so concurrent
    requests cannot all pass the check; a refused attempt checks nothing (user None).
    A right password resets the account's budgets only as the `last_factor`: when a
    second factor is still due, the login's first step must not clear the failures
    of the codes guessed at its second (the caller settles the attempt later).
    """
    app = request.app
    attempt = begin_attempt(request, name)
    if not attempt.admitted:
        return None, attempt
    plausible = name and 0 < len(password) <= MAX_LENGTH  # nothing longer was ever accepted
    user = await authenticate(app[keys.DB], name, password) if plausible else None
    if user is not None and last_factor:
        app[keys.THROTTLE].succeeded(attempt)
    return user, attempt


def too_many_attempts(response: web.Response, attempt: Attempt) -> web.Response:
    response.headers["Retry-After"] = str(math.ceil(attempt.retry_after))
    return response


async def login(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    name = text(form, "username").strip()[:64]
    next_url = after_login(text(form, "next"))
    pending = carried_back(form)  # an editor's text waiting for this login
    client = request[CLIENT].ip
    if not credentials_private(request):
        log.warning(
            "A login for %r came over plain HTTP from %s and was refused unchecked.", name, client
        )
        return _login_page(request, 403, INSECURE_LOGIN, name, next_url, pending)
    user, attempt = await check_password(request, name, text(form, "password"), last_factor=False)
    if not attempt.admitted:
        second_factor.log_event("login-throttled", name, client)
        page = _login_page(request, 429, throttled_message(attempt), name, next_url, pending)
        return too_many_attempts(page, attempt)
    if user is None:
        second_factor.log_event("login-failed", name, client, step="password")
        return _login_page(request, 401, GENERIC_FAILURE, name, next_url, pending)
    if second_factor.factors_of(request.app[keys.DB], user.id).any:
        return begin_second_step(request, user, next_url, pending, attempt)
    request.app[keys.THROTTLE].succeeded(attempt)
    return finish_login(request, user, next_url, pending, "password")


def begin_second_step(
    request: web.Request,
    user: users.User,
    next_url: str,
    pending: dict[str, str] | None,
    attempt: Attempt,
) -> web.Response:
    """The password was right and the user has a second factor: no session yet, a pending
    login (second_factor.py) and the page that asks for the second factor. The password's
    attempt stays charged until the second factor is given too."""
    logins = request.app[keys.PENDING_LOGINS]
    password_hash = users.password_hash_of(request.app[keys.DB], user.id) or ""
    token = logins.begin(user.id, user.name, next_url, pending, attempt, password_hash)
    response = see_other(str(request.app.router["second_factor"].url_for()))
    response.set_cookie(
        second_factor.PENDING_COOKIE,
        token,
        path="/",
        max_age=int(second_factor.PENDING_LIFETIME),
        secure=True,
        httponly=True,
        samesite="Lax",
    )
    return response


def finish_login(
    request: web.Request,
    user: users.User,
    next_url: str,
    pending: dict[str, str] | None,
    method: str,
) -> web.Response:
    """Every factor needed was given: store carried text, start the session, remember
    the browser, log it. A user the policy covers who has no second factor goes to
    enrol first."""
    if pending is not None:
        next_url = keep_pending(request, user, pending)
    elif second_factor.must_enrol(request.app[keys.DB], user.id, user.is_admin):
        next_url = str(request.app.router["security"].url_for())
    response = start_session(request, user.id, next_url)
    remember_browser(request, response, user.name)
    response.del_cookie(second_factor.PENDING_COOKIE, path="/", secure=True, httponly=True)
    second_factor.log_event("login", user.name, request[CLIENT].ip, method=method)
    return response


def remember_browser(request: web.Request, response: web.StreamResponse, name: str) -> None:
    """Mark this browser as known for `name` (devices.py): its later attempts for that
    account count against a budget of their own, which nobody else can use up."""
    value = devices.issue(request.app[keys.DEVICE_KEY], name, now_seconds())
    devices.set_cookie(response, value)


def refuse_in_clear(request: web.Request, what: str) -> None:
    """Raise HTTPForbidden (INSECURE_LOGIN) before anything is checked when `what` (a
    password, a code, a passkey) came over plain HTTP: the one rule of every way in is
    ``credentials_private``. A pending login whose cookie came along in clear ends, as
    a session cookie seen in clear does (auth.py)."""
    if credentials_private(request):
        return
    token = request.cookies.get(second_factor.PENDING_COOKIE, "")
    request.app[keys.PENDING_LOGINS].finish(token)
    log.warning(
        "%s came over plain HTTP from %s and was refused unchecked.", what, request[CLIENT].ip
    )
    raise web.HTTPForbidden(text=INSECURE_LOGIN)


def start_session(request: web.Request, user_id: int, next_url: str) -> web.Response:
    """Log the user in: a new session replaces the browser's old one; 303 to next_url.

    Raises HTTPForbidden unless ``credentials_private(request)``: whatever the way in
    (password, second step, passkey, setup link), a session cookie never leaves in clear.
    """
    if not credentials_private(request):
        raise web.HTTPForbidden(text=INSECURE_LOGIN)
    conn = request.app[keys.DB]
    old = principal_of(request)
    if old is not None and old.session is not None:
        sessions.delete_session(conn, old.session.id_hash)
    settings = request.app[keys.SETTINGS]
    now = now_seconds()
    # Housekeeping at login keeps the table small without a background task.
    sessions.purge_expired(
        conn, now, settings.session_idle_seconds, settings.session_absolute_seconds
    )
    raw_id, _ = sessions.create_session(conn, user_id, now)
    response = see_other(next_url)
    sessions.set_cookie(response, raw_id)
    return response


def as_sentence(error: Exception) -> str:
    """A validation error's message as a sentence for a form."""
    return str(error).capitalize() + "."


async def logout(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    if principal is not None and principal.session is not None:
        sessions.delete_session(request.app[keys.DB], principal.session.id_hash)
    response = see_other("/")
    sessions.clear_cookie(response)
    return response


@login_required_to_enrol  # account settings, not authoring: open before enrolling too
async def password_form(request: web.Request) -> web.StreamResponse:
    return render("password.html", request, {"error": "", "done": request.query.get("done") == "1"})


@login_required_to_enrol
async def change_password(request: web.Request) -> web.StreamResponse:
    """ASVS 2.1.5/2.1.6: change with the current password; other sessions end."""
    principal = current(request)
    if principal.user_id is None or principal.session is None:
        raise web.HTTPBadRequest(text="open or local access has no password to change")
    form = await read_form(request)
    conn = request.app[keys.DB]
    new = text(form, "new_password")
    error = ""
    user, attempt = await check_password(request, principal.name, text(form, "current_password"))
    if not attempt.admitted:
        error = throttled_message(attempt)
    elif user is None:
        error = "The current password is wrong."
    elif new != text(form, "confirm_password"):
        error = "The new passwords differ."
    else:
        try:
            await off_loop(check_policy, new, principal.name)
        except PasswordPolicyError as exc:
            error = as_sentence(exc)
    if error:
        context = {"error": error, "done": False}
        status = 400 if attempt.admitted else 429
        response = render("password.html", request, context, status=status)
        return response if attempt.admitted else too_many_attempts(response, attempt)
    new_hash = await off_loop(hash_password, new)
    # Half-done logins and other sessions began with the old password: they end.
    logins = request.app[keys.PENDING_LOGINS]
    second_factor.end_other_logins(conn, logins, principal.user_id, principal.session.id_hash)
    users.store_password_hash(conn, principal.user_id, new_hash)  # ends every session
    raw_id, _ = sessions.create_session(conn, principal.user_id, now_seconds())
    response = see_other("/dashboard/password?done=1")
    sessions.set_cookie(response, raw_id)
    return response

"""The second step of a login (a one-time code, a recovery code or a passkey) and signing
in with a passkey alone.

Every guess at a code is charged to the login throttle under the account's name, the
same budgets a wrong password uses (account.begin_attempt). A passkey answers a
challenge and cannot be guessed; its failures still count, for the account when one
is pending and for the client's address otherwise.

The passkey endpoints answer the script in /static/passkeys.js: options as JSON, and
on success the same 303 to the next page a form login gets (the script follows it).
"""

from __future__ import annotations

import math
import time

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .. import csrf, keys, passkeys, recovery_codes, second_factor, tokens, totp, users
from ..forms import read_form, text
from ..forwarded import CLIENT
from ..posts import now_seconds
from ..redirects import after_login
from ..second_factor import PendingLogin
from ..templating import render, see_other
from ..throttle import Attempt, address_key
from .account import (
    begin_attempt,
    finish_login,
    refuse_in_clear,
    throttled_message,
    too_many_attempts,
)

WRONG_CODE = "That code is wrong, expired or was used already. Try the next one your app shows."
WRONG_RECOVERY = "That recovery code is wrong or was used already."
LOGIN_EXPIRED = "The login took too long or was finished elsewhere: log in again."
PASSKEY_EXPIRED = "This passkey request has expired or was used already: try again."


def _pending(request: web.Request) -> tuple[str, PendingLogin] | None:
    token = request.cookies.get(second_factor.PENDING_COOKIE, "")
    logins = request.app[keys.PENDING_LOGINS]
    entry = logins.get(token)
    if entry is None:
        return None
    if not second_factor.still_valid(request.app[keys.DB], entry):
        logins.finish(token)  # the password changed since (perhaps by blogctl)
        return None
    return token, entry


def _step_page(
    request: web.Request, entry: PendingLogin, status: int = 200, error: str = ""
) -> web.Response:
    conn = request.app[keys.DB]
    context = {
        "error": error,
        "factors": second_factor.factors_of(conn, entry.user_id),
        "passkeys_reason": passkeys_reason(request),
    }
    return render("second_factor.html", request, context, status)


def passkeys_reason(request: web.Request) -> str:
    """Why passkeys cannot work here ("" when they can)."""
    try:
        passkeys.relying_party(request.app[keys.SETTINGS])
    except passkeys.PasskeysUnavailable as exc:
        return str(exc)
    return ""


def _to_login() -> web.Response:
    return see_other("/login")


async def second_factor_form(request: web.Request) -> web.StreamResponse:
    found = _pending(request)
    if found is None:
        return _to_login()
    return _step_page(request, found[1])


async def check_second_factor(request: web.Request) -> web.StreamResponse:
    """A one-time code or a recovery code for the pending login."""
    refuse_in_clear(request, "A second-factor code")
    found = _pending(request)
    if found is None:
        return render("login.html", request, _expired_login_context(), 401)
    token, entry = found
    form = await read_form(request)
    use_recovery = text(form, "kind") == "recovery"
    attempt = begin_attempt(request, entry.name)
    client = request[CLIENT].ip
    if not attempt.admitted:
        second_factor.log_event("login-throttled", entry.name, client, step="second-factor")
        page = _step_page(request, entry, 429, throttled_message(attempt))
        return too_many_attempts(page, attempt)
    conn = request.app[keys.DB]
    code = text(form, "code")[:64]
    if use_recovery:
        accepted = recovery_codes.use(conn, entry.user_id, code, now_seconds())
    else:
        accepted = totp.use_code(conn, entry.user_id, code, time.time())
    method = "password+recovery-code" if use_recovery else "password+totp"
    if not accepted:
        second_factor.log_event("login-failed", entry.name, client, step=method)
        return _step_page(request, entry, 401, WRONG_RECOVERY if use_recovery else WRONG_CODE)
    return _complete(request, token, entry, attempt, method)


def _expired_login_context() -> dict[str, object]:
    return {"error": LOGIN_EXPIRED, "username": "", "next": "/dashboard", "pending": None}


def _complete(
    request: web.Request, token: str, entry: PendingLogin, attempt: Attempt, method: str
) -> web.Response:
    throttle = request.app[keys.THROTTLE]
    throttle.succeeded(attempt)
    if entry.password_attempt is not None:
        throttle.succeeded(entry.password_attempt)
    request.app[keys.PENDING_LOGINS].finish(token)
    user = users.get_user(request.app[keys.DB], entry.user_id)
    if user is None or user.disabled:
        return _to_login()
    if method == "password+recovery-code":
        left = recovery_codes.remaining(request.app[keys.DB], user.id)
        second_factor.log_event("recovery-code-used", user.name, request[CLIENT].ip, left=left)
    return finish_login(request, user, entry.next_url, entry.pending_text, method)


async def read_posted(request: web.Request) -> passkeys.Posted:
    """What passkeys.js posted, read at most passkeys.MAX_POSTED_BYTES; PasskeyError for
    a body that is too large, cannot be decoded (a Content-Encoding it does not have)
    or is no credential (passkeys.parse_posted)."""
    body = bytearray()
    try:
        while chunk := await request.content.readany():
            body.extend(chunk)
            if len(body) > passkeys.MAX_POSTED_BYTES:
                break  # parse_posted refuses it; the rest is not worth reading
    except (web.RequestPayloadError, HttpProcessingError) as exc:
        raise passkeys.PasskeyError(
            f"the request body could not be read ({exc}); send JSON with no Content-Encoding"
        ) from None
    return passkeys.parse_posted(bytes(body))


def _browser(request: web.Request) -> str:
    """Which browser asks: the digest of its CSRF token (csrf.py), which every POST has
    shown already (the session's token once logged in, else the double-submit cookie)."""
    return tokens.digest(csrf.token_for(request)) or ""


def issue_challenge(request: web.Request, purpose: passkeys.Purpose, user_id: int | None) -> bytes:
    """A challenge only this browser may answer (passkeys.Challenges); 429 with
    Retry-After when too many are outstanding from its address."""
    address = address_key(request[CLIENT].ip)
    try:
        return request.app[keys.CHALLENGES].issue(purpose, user_id, _browser(request), address)
    except passkeys.ChallengesBusy as exc:
        retry = str(math.ceil(exc.retry_after))
        raise web.HTTPTooManyRequests(text=str(exc), headers={"Retry-After": retry}) from None


def take_challenge(
    request: web.Request, challenge: bytes, purpose: passkeys.Purpose, user_id: int | None
) -> bool:
    """Use up a challenge issued to this browser (issue_challenge); whether it was."""
    return request.app[keys.CHALLENGES].take(challenge, purpose, user_id, _browser(request))


def relying_party_or_409(request: web.Request) -> passkeys.RelyingParty:
    try:
        return passkeys.relying_party(request.app[keys.SETTINGS])
    except passkeys.PasskeysUnavailable as exc:
        raise web.HTTPConflict(text=str(exc)) from None


async def passkey_options(request: web.Request) -> web.StreamResponse:
    """Options for navigator.credentials.get: the pending user's passkeys after a
    password, or any passkey of this site (username-less) otherwise."""
    refuse_in_clear(request, "A passkey sign-in")
    rp = relying_party_or_409(request)
    found = _pending(request)
    conn = request.app[keys.DB]
    if found is not None:
        entry = found[1]
        allowed = passkeys.list_for(conn, entry.user_id)
        if not allowed:
            raise web.HTTPConflict(text="This account has no passkey: use a one-time code.")
        challenge = issue_challenge(request, "second-factor", entry.user_id)
    else:
        challenge = issue_challenge(request, "sign-in", None)
        allowed = []
    body = passkeys.authentication_options(rp, challenge, allowed)
    return web.Response(text=body, content_type="application/json")


async def passkey_sign_in(request: web.Request) -> web.StreamResponse:
    """Check a passkey's assertion; on success log in (303 to the next page)."""
    refuse_in_clear(request, "A passkey sign-in")
    rp = relying_party_or_409(request)
    found = _pending(request)
    entry = found[1] if found is not None else None
    attempt = begin_attempt(request, entry.name) if entry else _address_attempt(request)
    client = request[CLIENT].ip
    name = entry.name if entry else "-"
    if not attempt.admitted:
        second_factor.log_event("login-throttled", name, client, step="passkey")
        raise web.HTTPTooManyRequests(
            text=throttled_message(attempt),
            headers={"Retry-After": str(math.ceil(attempt.retry_after))},
        )
    conn = request.app[keys.DB]
    try:
        posted = await read_posted(request)
        challenge = passkeys.signed_challenge(posted.credential)
        purpose: passkeys.Purpose = "second-factor" if entry else "sign-in"
        user_id = entry.user_id if entry else None
        if not take_challenge(request, challenge, purpose, user_id):
            raise passkeys.PasskeyError(PASSKEY_EXPIRED)
        stored = passkeys.verify_assertion(
            conn,
            rp,
            posted.credential,
            challenge,
            require_user_verification=entry is None,
            now=now_seconds(),
        )
        if entry is not None and stored.user_id != entry.user_id:
            raise passkeys.PasskeyError("this passkey belongs to another account")
    except passkeys.PasskeyError as exc:
        second_factor.log_event("login-failed", name, client, step="passkey", reason=exc)
        raise web.HTTPBadRequest(text=f"The passkey was refused: {exc}.") from None
    user = users.get_user(conn, stored.user_id)
    if user is None or user.disabled:
        raise web.HTTPBadRequest(text="The passkey was refused: its account is disabled.")
    if found is not None:
        return _complete(request, found[0], found[1], attempt, "password+passkey")
    request.app[keys.THROTTLE].succeeded(attempt)
    return finish_login(request, user, after_login(posted.next), None, "passkey")


def _address_attempt(request: web.Request) -> Attempt:
    return request.app[keys.THROTTLE].begin(request[CLIENT].ip, None)

"""The account's security page: enrol, list and remove second factors.

Reachable before enrolling (login_required_to_enrol), so a user the policy covers can
set one up. Every change of second factors (switching one-time codes on, adding a
passkey, new recovery codes, removing any) asks for the password again (ASVS 5.0
7.5.1: changes to authentication factors need re-authentication; `reauthenticate`),
so a stolen session cookie cannot plant a factor of its own; a wrong password counts
against the login throttle like any other. After a change the user's other sessions
and pending logins end (second_factor.end_other_logins), and the page says how many.
Recovery codes are made when the first factor is switched on and shown once, on the
page that answers that request.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from .. import keys, passkeys, recovery_codes, second_factor, totp
from ..auth import Principal, current, login_required_to_enrol
from ..db import as_rowid
from ..forms import read_form, text
from ..forwarded import CLIENT
from ..posts import now_seconds
from ..templating import render, see_other
from .account import check_password, throttled_message
from .second_step import (
    issue_challenge,
    passkeys_reason,
    read_posted,
    relying_party_or_409,
    take_challenge,
)

NOT_CONFIRMED = "That code did not match. Check the clock of your phone and type the newest code."
PASSWORD_REFUSED = "The password is wrong, so nothing was changed: type the one you log in with."  # noqa: S105


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a change of factors was refused: an HTTP status, the message, and for 429
    the seconds to wait."""

    status: int
    message: str
    retry_after: int = 0

    def as_http(self) -> web.HTTPException:
        """The refusal for a script (passkeys.js): 400 or 429 with Retry-After."""
        if self.status == 429:
            headers = {"Retry-After": str(self.retry_after)}
            return web.HTTPTooManyRequests(text=self.message, headers=headers)
        return web.HTTPBadRequest(text=self.message)


def _user_id(principal: Principal) -> int:
    if principal.user_id is None:
        raise web.HTTPBadRequest(text="open or local access has no account to protect")
    return principal.user_id


def _security_url(request: web.Request, **query: str) -> str:
    return str(request.app.router["security"].url_for().with_query(query))


def _page(
    request: web.Request,
    status: int = 200,
    error: str = "",
    codes: list[str] | None = None,
    ended: int | None = None,
) -> web.Response:
    principal = current(request)
    user_id = _user_id(principal)
    conn = request.app[keys.DB]
    state = totp.state_of(conn, user_id)
    enrolling = state is not None and not state.confirmed
    settings = request.app[keys.SETTINGS]
    context: Mapping[str, object] = {
        "error": error,
        "codes": codes or [],
        "notice": request.query.get("done", ""),
        "ended": _ended_sessions(request) if ended is None else ended,
        "factors": second_factor.factors_of(conn, user_id),
        "required": second_factor.required_for(conn, principal.is_admin),
        "must_enrol": second_factor.must_enrol(conn, user_id, principal.is_admin),
        "totp_secret": state.secret if enrolling and state else "",
        "totp_qr": _qr(state.secret, principal.name, settings.title) if enrolling and state else "",
        "passkeys": passkeys.list_for(conn, user_id),
        "passkeys_reason": passkeys_reason(request),
        "opened_by_ip": _opened_by_ip(request),
        "public_url": settings.public_url,
    }
    return render("security.html", request, context, status)


def _ended_sessions(request: web.Request) -> int:
    """How many other sessions the change just made ended (the redirect's `ended`)."""
    value = request.query.get("ended", "")
    return int(value) if value.isdigit() and len(value) < 6 else 0


def _qr(secret: str, name: str, issuer: str) -> str:
    return totp.qr_svg(totp.provisioning_uri(secret, name, issuer))


def _opened_by_ip(request: web.Request) -> bool:
    host = request.url.host or ""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@login_required_to_enrol
async def security_page(request: web.Request) -> web.StreamResponse:
    return _page(request)


@login_required_to_enrol
async def totp_begin(request: web.Request) -> web.StreamResponse:
    """Draw a secret (unconfirmed until a code from it is typed) and show its QR code."""
    user_id = _user_id(current(request))
    totp.begin_enrolment(request.app[keys.DB], user_id, now_seconds())
    return see_other(_security_url(request) + "#totp")


@login_required_to_enrol
async def totp_confirm(request: web.Request) -> web.StreamResponse:
    """Switch TOTP on with the password and a code from the app; the first factor brings
    recovery codes."""
    principal = current(request)
    user_id = _user_id(principal)
    refused = await _reauthenticated(request, principal)
    if refused is not None:
        return refused
    form = await read_form(request)
    conn = request.app[keys.DB]
    if not totp.use_code(conn, user_id, text(form, "code")[:64], time.time(), confirming=True):
        return _page(request, 400, NOT_CONFIRMED)
    second_factor.log_event("enrol", principal.name, request[CLIENT].ip, factor="totp")
    ended = _factors_changed(request, principal)
    return _first_codes(request, principal, user_id, ended)


def _first_codes(
    request: web.Request, principal: Principal, user_id: int, ended: int
) -> web.Response:
    """After a factor was added: new recovery codes if the user has none, shown once."""
    conn = request.app[keys.DB]
    if recovery_codes.remaining(conn, user_id) > 0:
        return see_other(_security_url(request, done="added", ended=str(ended)))
    codes = recovery_codes.issue(conn, user_id)
    second_factor.log_event("recovery-codes-issued", principal.name, request[CLIENT].ip)
    return _page(request, 200, codes=codes, ended=ended)


@login_required_to_enrol
async def new_recovery_codes(request: web.Request) -> web.StreamResponse:
    """Replace the recovery codes, with the password (every earlier code stops working);
    shown once."""
    principal = current(request)
    user_id = _user_id(principal)
    conn = request.app[keys.DB]
    if not second_factor.factors_of(conn, user_id).any:
        return _page(request, 400, "Switch on a one-time code or a passkey first.")
    refused = await _reauthenticated(request, principal)
    if refused is not None:
        return refused
    codes = recovery_codes.issue(conn, user_id)
    second_factor.log_event("recovery-codes-issued", principal.name, request[CLIENT].ip)
    return _page(request, 200, codes=codes, ended=_factors_changed(request, principal))


async def reauthenticate(
    request: web.Request, principal: Principal, password: str
) -> Refusal | None:
    """Check the user's password again before a change of their second factors (every
    such change goes through here); None when it is theirs, else why not. Charged to
    the login throttle (views.account.check_password)."""
    user, attempt = await check_password(request, principal.name, password)
    if user is None:  # logged: a stolen session trying to plant a factor shows here
        step = "throttled" if not attempt.admitted else "password"
        second_factor.log_event("reauth-failed", principal.name, request[CLIENT].ip, step=step)
    if not attempt.admitted:
        return Refusal(429, throttled_message(attempt), math.ceil(attempt.retry_after))
    if user is None:
        return Refusal(400, PASSWORD_REFUSED)
    return None


async def _reauthenticated(request: web.Request, principal: Principal) -> web.Response | None:
    """None when the form's password is the user's (reauthenticate); else the page
    saying why not."""
    form = await read_form(request)
    refusal = await reauthenticate(request, principal, text(form, "password"))
    if refusal is None:
        return None
    page = _page(request, refusal.status, refusal.message)
    if refusal.retry_after:
        page.headers["Retry-After"] = str(refusal.retry_after)
    return page


def _factors_changed(request: web.Request, principal: Principal) -> int:
    """End the user's other sessions and pending logins after a change of factors;
    how many sessions ended."""
    keep = principal.session.id_hash if principal.session is not None else None
    logins = request.app[keys.PENDING_LOGINS]
    return second_factor.end_other_logins(request.app[keys.DB], logins, _user_id(principal), keep)


def _after_removal(
    request: web.Request, principal: Principal, user_id: int, factor: str, **details: object
) -> web.Response:
    conn = request.app[keys.DB]
    if not second_factor.factors_of(conn, user_id).any:
        recovery_codes.remove(conn, user_id)  # they stood in for factors that are gone
    client = request[CLIENT].ip
    second_factor.log_event("remove", principal.name, client, factor=factor, **details)
    ended = _factors_changed(request, principal)
    return see_other(_security_url(request, done="removed", ended=str(ended)))


@login_required_to_enrol
async def totp_remove(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    user_id = _user_id(principal)
    refused = await _reauthenticated(request, principal)
    if refused is not None:
        return refused
    totp.remove(request.app[keys.DB], user_id)
    return _after_removal(request, principal, user_id, "totp")


@login_required_to_enrol
async def passkey_registration_options(request: web.Request) -> web.StreamResponse:
    """Options for navigator.credentials.create, for a new passkey of the current user."""
    principal = current(request)
    user_id = _user_id(principal)
    rp = relying_party_or_409(request)
    conn = request.app[keys.DB]
    challenge = issue_challenge(request, "register", user_id)
    handle = passkeys.user_handle(conn, user_id)
    existing = passkeys.list_for(conn, user_id)
    body = passkeys.registration_options(rp, principal.name, handle, existing, challenge)
    return web.Response(text=body, content_type="application/json")


@login_required_to_enrol
async def passkey_register(request: web.Request) -> web.StreamResponse:
    """Verify and store a new passkey, with the password posted beside it; 303 to this
    page (or to show new recovery codes)."""
    principal = current(request)
    user_id = _user_id(principal)
    rp = relying_party_or_409(request)
    conn = request.app[keys.DB]
    try:
        posted = await read_posted(request)
    except passkeys.PasskeyError as exc:
        raise web.HTTPBadRequest(text=f"The passkey was not added: {exc}.") from None
    refusal = await reauthenticate(request, principal, posted.password)
    if refusal is not None:
        raise refusal.as_http()
    try:
        challenge = passkeys.signed_challenge(posted.credential)
        if not take_challenge(request, challenge, "register", user_id):
            raise passkeys.PasskeyError("the request has expired or was used already: try again")
        added = passkeys.add_from_registration(
            conn, rp, user_id, posted.credential, challenge, posted.name, now_seconds()
        )
    except passkeys.PasskeyError as exc:
        raise web.HTTPBadRequest(text=f"The passkey was not added: {exc}.") from None
    second_factor.log_event(
        "enrol", principal.name, request[CLIENT].ip, factor="passkey", name=added.name
    )
    ended = str(_factors_changed(request, principal))
    if recovery_codes.remaining(conn, user_id) == 0:
        return see_other(_security_url(request, done="passkey-added-make-codes", ended=ended))
    return see_other(_security_url(request, done="added", ended=ended))


def _passkey_id(request: web.Request) -> int:
    passkey_id = as_rowid(request.match_info["passkey_id"])
    if passkey_id is None:
        raise web.HTTPNotFound()
    return passkey_id


@login_required_to_enrol
async def passkey_rename(request: web.Request) -> web.StreamResponse:
    user_id = _user_id(current(request))
    form = await read_form(request)
    if not passkeys.rename(request.app[keys.DB], user_id, _passkey_id(request), text(form, "name")):
        raise web.HTTPNotFound(text="No such passkey of yours.")
    return see_other(_security_url(request, done="renamed"))


@login_required_to_enrol
async def passkey_remove(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    user_id = _user_id(principal)
    passkey_id = _passkey_id(request)
    refused = await _reauthenticated(request, principal)
    if refused is not None:
        return refused
    removed = passkeys.remove(request.app[keys.DB], user_id, passkey_id)
    if removed is None:
        raise web.HTTPNotFound(text="No such passkey of yours.")
    return _after_removal(request, principal, user_id, "passkey", name=removed.name)

"""The dashboard and the editor: write, preview, save, publish, unpublish, trash.

The editor never drops what the author sent: every answer that does not save (a
preview, a refusal, a confirmation, an edit conflict) is the editor again holding
the submitted text. A published or scheduled entry has Update and Unpublish, never a
silent unpublish: taking an entry off the site, and moving it to the trash, ask for a
confirmation first. A save carries the revision its form was based on; one based on
an older revision is not applied (posts.EditConflict) and the author sees both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import tzinfo

from aiohttp import web

from .. import autosave, keys, media, posts, timefmt
from ..auth import Principal, current, login_required, principal_of
from ..db import as_rowid
from ..forms import Form, read_form, text
from ..markup import check_size
from ..refusal import Refusal
from ..rescue import rescued_by
from ..sitesettings import site_of
from ..templating import page, page_of, render, see_other
from .account import login_with_pending
from .media import chosen_file, store_image

ACTIONS = ("preview", "draft", "publish", "unpublish", "trash", "upload")
MAX_TITLE = posts.MAX_TITLE
# What a save asks to be: a draft (Save draft, Unpublish, Move to trash) or published.
TARGET_STATUS = {"draft": "draft", "unpublish": "draft", "trash": "draft", "publish": "published"}
LIVE_STATES = ("published", "scheduled")


def own_post(request: web.Request, principal: Principal) -> posts.Post:
    """The entry of the URL if this principal may edit it; 404 alike for one that does not
    exist and one that is someone else's, so an author learns nothing of others' drafts."""
    post_id = as_rowid(request.match_info["post_id"])
    post = posts.get_by_id(request.app[keys.DB], post_id) if post_id is not None else None
    if post is None or not principal.may_edit(post.author_id):
        raise web.HTTPNotFound()
    return post


@login_required
@page("dashboard.html")
async def dashboard(request: web.Request) -> Mapping[str, object]:
    principal = current(request)
    number = page_of(request)
    conn = request.app[keys.DB]
    entries, total = posts.list_for_dashboard(
        conn, principal.user_id, everyone=principal.is_admin, page=number
    )
    unsaved = autosave.list_unsaved_new(conn, principal.user_id) if principal.user_id else []
    return {
        "entries": entries,
        "unsaved": unsaved,
        "in_trash": posts.count_trash(conn, principal.user_id, principal.is_admin),
        "now": posts.now_seconds(),
        "page": number,
        "has_newer": number > 1,
        "has_older": number * posts.DASHBOARD_PAGE < total,
    }


# --- the editor's page -------------------------------------------------------------


def values_of(draft: posts.Draft, zone: tzinfo) -> autosave.Values:
    """A draft as the editor's text fields, its publication time in the site's zone."""
    return {
        "title": draft.title,
        "body_md": draft.body_md,
        "kind": draft.kind,
        "category": draft.category,
        "tags": ", ".join(draft.tags),
        "slug": draft.slug,
        "publish_at": timefmt.local_input(draft.published_at, zone),
    }


def state_of(post: posts.Post | None, now: int) -> str:
    return "new" if post is None else post.state(now)


def editor_page(
    request: web.Request,
    post: posts.Post | None,
    values: autosave.Values,
    *,
    key: str,
    base_revision: int | None,
    status: int = 200,
    errors: Sequence[str] = (),
    notices: Sequence[str] = (),
    preview: str | None = None,
    confirm: str | None = None,
    conflict: posts.Post | None = None,
    offer: autosave.Autosave | None = None,
    shows_stored: bool = False,
) -> web.Response:
    """The editor holding `values`: every answer of the editor that does not redirect.
    `shows_stored`: the values are the entry as saved (the editor's script then drops
    the browser's copies that hold the same text)."""
    now = posts.now_seconds()
    conn = request.app[keys.DB]
    zone = site_of(request).zone
    context = {
        "post": post,
        "state": state_of(post, now),
        "values": values,
        "editor_key": key,
        "base_revision": base_revision,
        "errors": errors,
        "notices": notices,
        "preview": preview,
        "confirm": confirm,
        "conflict": conflict,
        "conflict_values": values_of(posts.stored_draft(conn, conflict), zone)
        if conflict
        else None,
        "offer": offer,
        "shows_stored": shows_stored,
        "revisions": posts.count_revisions(conn, post.id) if post else 0,
        "now": now,
        "trash_days": posts.TRASH_DAYS,
        "max_upload_mb": request.app[keys.SETTINGS].max_upload_bytes // (1024 * 1024),
    }
    return render("editor.html", request, context, status=status)


def _new_values(request: web.Request) -> autosave.Values:
    kind = request.query.get("kind", "post")
    return values_of(
        posts.Draft(title="", body_md="", kind=kind if kind in posts.KINDS else "post"),
        site_of(request).zone,
    )


@login_required
async def new_form(request: web.Request) -> web.StreamResponse:
    """A new editor, or (`?resume=KEY`) an autosaved one never saved."""
    principal = current(request)
    resume = request.query.get("resume", "")
    kept = None
    if principal.user_id is not None and autosave.valid_key(resume):
        kept = autosave.load(request.app[keys.DB], principal.user_id, resume)
    if kept is not None and kept.post_id is None:
        notice = "This is the text you had not saved yet; save it to keep it as an entry."
        return editor_page(
            request, None, kept.values, key=resume, base_revision=None, notices=[notice]
        )
    return editor_page(
        request, None, _new_values(request), key=autosave.new_key(), base_revision=None
    )


def kept_revision(request: web.Request, post: posts.Post, raw: str) -> posts.Revision:
    """Revision `raw` of the entry, whole; 404 when it is not kept (or not a number)."""
    number = as_rowid(raw)
    found = None if number is None else posts.get_revision(request.app[keys.DB], post.id, number)
    if found is None:
        raise web.HTTPNotFound(text="That revision is not kept (the newest 50 are).")
    return found


def _loaded_revision(request: web.Request, post: posts.Post) -> posts.Revision | None:
    raw = request.query.get("revision", "")
    return kept_revision(request, post, raw) if raw else None


@login_required
async def edit_form(request: web.Request) -> web.StreamResponse:
    """The entry in the editor; `?revision=N` loads a kept revision, `?restore=autosave`
    the author's autosaved text, into the form (nothing is saved until the author saves)."""
    principal = current(request)
    post = own_post(request, principal)
    conn = request.app[keys.DB]
    key = autosave.key_for(post.id)
    zone = site_of(request).zone
    stored = values_of(posts.stored_draft(conn, post), zone)
    kept = autosave.load(conn, principal.user_id, key) if principal.user_id is not None else None
    notices = [saved_notice(post, zone)] if request.query.get("saved") == "1" else []
    revision = _loaded_revision(request, post)
    if revision is not None:
        notices.append(
            f"Revision {revision.revision} (saved {timefmt.human_time(revision.saved_at, zone)}) is"
            " loaded into the form. Save to make it the current text; nothing changes until"
            " you do."
        )
        values = values_of(revision.draft, zone)
        return editor_page(
            request, post, values, key=key, base_revision=post.revision, notices=notices
        )
    if kept is not None and request.query.get("restore") == "autosave":
        notices.append(
            f"Your unsaved text of {timefmt.human_time(kept.saved_at, zone)} is in the form."
            " Save it to keep it; if the entry changed meanwhile you will see both versions."
        )
        return editor_page(
            request, post, kept.values, key=key, base_revision=kept.base_revision, notices=notices
        )
    offer = kept if kept is not None and not autosave.same_values(kept.values, stored) else None
    return editor_page(
        request, post, stored, key=key, base_revision=post.revision, notices=notices, offer=offer,
        shows_stored=True,
    )  # fmt: skip


def saved_notice(post: posts.Post, zone: tzinfo) -> str:
    """What the editor says after a save: where the entry now stands."""
    state = post.state(posts.now_seconds())
    if state == "published":
        return f"Saved and published: readers see it at {post.path}."
    if state == "scheduled":
        return f"Saved: it will be published at {timefmt.human_time(post.published_at, zone)}."
    return "Saved as a draft: readers do not see it."


# --- saving --------------------------------------------------------------------------


def parse_draft(
    values: autosave.Values, status: str, zone: tzinfo
) -> tuple[posts.Draft, list[str]]:
    """The editor's fields as a Draft with the given status, the publication time read
    as wall-clock time in `zone` (the site's); and what is wrong with them."""
    errors: list[str] = []
    title = posts.clean_title(values["title"])
    if not title:
        errors.append("A title is required.")
    elif len(title) > MAX_TITLE:
        errors.append(f"The title is longer than {MAX_TITLE} characters.")
    kind = values["kind"].strip() or "post"
    if kind not in posts.KINDS:
        errors.append("Kind must be post or story.")
    try:
        publish_at = timefmt.parse_local_input(values["publish_at"], zone)
    except timefmt.OutOfRangeError:
        errors.append(f"The publication time must be {timefmt.RANGE_TEXT} (UTC).")
        publish_at = None
    except ValueError:
        errors.append("The publication time is not a valid date and time.")
        publish_at = None
    draft = posts.Draft(
        title=title,
        body_md=values["body_md"],
        kind=kind,
        status=status,
        published_at=publish_at,
        slug=values["slug"].strip(),
        category=values["category"].strip()[:64],
        tags=posts.parse_tags(values["tags"]),
    )
    return draft, errors


def with_stored_seconds(draft: posts.Draft, post: posts.Post | None) -> posts.Draft:
    """The form shows the publication time to the minute: the same minute sent back is
    the stored time, seconds included (an update does not move the date)."""
    stored = post.published_at if post is not None else None
    if stored is None or draft.published_at != stored - stored % 60:
        return draft
    return replace(draft, published_at=stored)


def needs_confirmation(action: str, state: str) -> bool:
    """Taking an entry off the site and moving it to the trash are asked about first."""
    return action == "trash" or (action in ("draft", "unpublish") and state in LIVE_STATES)


async def render_body(request: web.Request, source: str) -> str:
    """Sanitized HTML from a worker process (rendering.py).

    Raises MarkupError for text over a bound, RenderBusy when every worker stays busy
    (a 503, errorpages.py).
    """
    check_size(source)  # before the text is copied to a worker
    html = await request.app[keys.RENDERER].render(source)
    return media.with_image_sizes(request.app[keys.DB], html)


async def add_image(
    request: web.Request, form: Form, values: autosave.Values, action: str
) -> tuple[list[str], list[str], int]:
    """Upload the image the editor's file input holds, whatever button was pressed (a
    chosen file is never dropped), and add it at the end of the text in `values`.
    Returns notices, errors and the status for an error."""
    upload = chosen_file(form.get("image"))
    if upload is None:
        return [], ["Choose an image file first."] if action == "upload" else [], 400
    try:
        stored = await store_image(request, upload, text(form, "image_alt"))
    except media.MediaError as exc:
        return [], [f"The image was not added: {exc}. Your text is kept below."], exc.status
    values["body_md"] = values["body_md"].rstrip() + f"\n\n{stored.markdown}\n"
    added = (
        f"The image is added at the end of the text as {stored.markdown}; move it where you like."
    )
    return [added], [], 400


def editor_key_of(form: Form, post: posts.Post | None) -> str:
    """The editor's key as the form sent it, or the one it should have."""
    sent = text(form, "editor_key")
    if post is not None:
        return autosave.key_for(post.id)
    return sent if sent.startswith("new-") and autosave.valid_key(sent) else autosave.new_key()


def base_revision_of(form: Form) -> int | None:
    """The revision the form was based on; None (no check) for clients that send none."""
    raw = text(form, "base_revision")
    return as_rowid(raw)


@dataclass
class Submission:
    """An editor form as read and checked: what to save, and what the editor says back."""

    action: str
    values: autosave.Values
    key: str
    base_revision: int | None
    draft: posts.Draft
    html: str | None = None
    notices: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    status: int = 400  # of an answer with errors


async def read_submission(request: web.Request, post: posts.Post | None) -> Submission:
    """Read the editor's form, upload a chosen image and render the text (not for an
    upload alone); every problem is an error in the Submission, never an exception."""
    form = await read_form(request)
    action = text(form, "action") or "draft"
    if action not in ACTIONS:
        raise web.HTTPBadRequest(text=f"unknown action: use one of {', '.join(ACTIONS)}")
    values = autosave.clean_values(form)
    notices, errors, status = await add_image(request, form, values, action)
    status_wanted = TARGET_STATUS.get(action, post.status if post else "draft")
    draft, invalid = parse_draft(values, status_wanted, site_of(request).zone)
    sent = Submission(
        action, values, editor_key_of(form, post), base_revision_of(form),
        with_stored_seconds(draft, post), None, notices, errors + invalid, status,
    )  # fmt: skip
    if not sent.errors and action != "upload":
        try:
            sent.html = await render_body(request, draft.body_md)
        except Refusal as exc:
            sent.errors.append(str(exc))
            sent.status = exc.status
    return sent


async def _save(request: web.Request, post: posts.Post | None) -> web.StreamResponse:
    principal = current(request)
    sent = await read_submission(request, post)
    form = await read_form(request)
    state = state_of(post, posts.now_seconds())
    again = {"key": sent.key, "base_revision": sent.base_revision, "notices": sent.notices}
    if sent.errors or sent.action in ("preview", "upload"):
        preview = sent.html if sent.action == "preview" else None
        status = sent.status if sent.errors else 200
        return editor_page(
            request, post, sent.values, **again, status=status, errors=sent.errors,
            preview=preview,
        )  # fmt: skip
    if state == "trash":
        keep_for_author(request, sent, post)
        trashed = [
            "This entry is in the trash: restore it (below) to change it. Your text is kept."
        ]
        return editor_page(request, post, sent.values, **again, status=409, errors=trashed)
    if needs_confirmation(sent.action, state) and text(form, "confirmed") != sent.action:
        return editor_page(request, post, sent.values, **again, confirm=sent.action)
    conn = request.app[keys.DB]
    if sent.action == "trash" and post is not None and unchanged(conn, post, sent.draft):
        posts.move_to_trash(conn, post.id, principal.user_id)
        return see_other(f"/dashboard/trash?moved={post.id}")
    try:
        saved = posts.save_post(
            conn,
            sent.draft,
            author_id=principal.user_id if post is None else post.author_id,
            post_id=post.id if post else None,
            body_html=sent.html,
            base_revision=sent.base_revision,
            saved_by=principal.user_id,
        )
    except posts.EditConflict as conflict:
        keep_for_author(request, sent, post)
        latest = conflict.current
        return editor_page(
            request, latest, sent.values, key=sent.key, base_revision=latest.revision,
            notices=sent.notices, status=409, conflict=latest,
        )  # fmt: skip
    if principal.user_id is not None:
        autosave.discard(conn, principal.user_id, sent.key, autosave.key_for(saved.id))
    if sent.action == "trash":  # the text was saved above, as a draft; now into the trash
        posts.move_to_trash(conn, saved.id, principal.user_id)
        return see_other(f"/dashboard/trash?moved={saved.id}")
    return see_other(f"/dashboard/posts/{saved.id}?saved=1")


def unchanged(conn: sqlite3.Connection, post: posts.Post, draft: posts.Draft) -> bool:
    """Whether the form holds the entry's stored text (its status aside)."""
    return replace(draft, status=post.status).same_text_as(posts.stored_draft(conn, post))


def keep_for_author(request: web.Request, sent: Submission, post: posts.Post | None) -> None:
    """Keep the text a save could not take as the author's autosave (open mode and trusted
    local access have no user to keep it for; their form still holds it)."""
    user_id = current(request).user_id
    if user_id is not None:
        autosave.store(
            request.app[keys.DB], user_id, sent.key, sent.values, posts.now_seconds(),
            post_id=post.id if post else None, base_revision=sent.base_revision,
        )  # fmt: skip


STALE_EDITOR = (
    "Nothing was saved: this form came from an earlier login (you logged out and in again,"
    " here or in another tab). Your text is below and kept for you: check it and press the"
    " button again."
)
MUST_ENROL_FIRST = (
    "Nothing was saved: this blog now requires a second factor for your account. Set up a"
    " one-time code or a passkey on your Security page (/dashboard/security), then come back:"
    " your text is kept for you and offered in the editor."
)


async def rescue_form(request: web.Request) -> web.StreamResponse:
    """An editor form that failed the CSRF check (rescue.py): nothing is saved, the text
    goes back to its author, with a fresh token or through the login form."""
    form = await read_form(request)
    principal = principal_of(request)
    if principal is None:
        return login_with_pending(request, form)
    post = own_post(request, principal) if "post_id" in request.match_info else None
    values = autosave.clean_values(form)
    draft, _ = parse_draft(values, "draft", site_of(request).zone)
    sent = Submission("draft", values, editor_key_of(form, post), base_revision_of(form), draft)
    keep_for_author(request, sent, post)
    # Sent here by the CSRF check, or by the second-factor policy (auth._require_login).
    errors = [MUST_ENROL_FIRST if principal.must_enrol else STALE_EDITOR]
    if chosen_file(form.get("image")) is not None:
        errors.append("The image you chose was not uploaded: choose it again.")
    return editor_page(
        request, post, values, key=sent.key, base_revision=sent.base_revision, status=403,
        errors=errors,
    )  # fmt: skip


@rescued_by(rescue_form)
@login_required
async def create(request: web.Request) -> web.StreamResponse:
    return await _save(request, None)


@rescued_by(rescue_form)
@login_required
async def update(request: web.Request) -> web.StreamResponse:
    return await _save(request, own_post(request, current(request)))

"""The trash: entries moved there wait TRASH_DAYS, can be restored, and only from here
are deleted for good, after a confirmation."""

from __future__ import annotations

from aiohttp import web

from .. import keys, posts
from ..auth import current, login_required
from ..db import as_rowid
from ..forms import read_form, text
from ..templating import render, see_other
from .authoring import own_post


def trash_page(
    request: web.Request, confirm: posts.Post | None = None, status: int = 200
) -> web.Response:
    principal = current(request)
    conn = request.app[keys.DB]
    moved = as_rowid(request.query.get("moved", ""))
    context = {
        "entries": posts.list_trash(conn, principal.user_id, principal.is_admin),
        "confirm": confirm,
        "moved": posts.get_by_id(conn, moved) if moved is not None else None,
        "purged": request.query.get("purged") == "1",
        "trash_days": posts.TRASH_DAYS,
    }
    return render("trash.html", request, context, status=status)


@login_required
async def trash_list(request: web.Request) -> web.StreamResponse:
    # The trash empties itself; looking at it applies the rule at once, too.
    posts.empty_trash(request.app[keys.DB], posts.now_seconds())
    return trash_page(request)


@login_required
async def restore(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    post = own_post(request, principal)
    posts.restore_from_trash(request.app[keys.DB], post.id, principal.user_id)
    return see_other(f"/dashboard/posts/{post.id}?saved=1")


@login_required
async def delete_for_good(request: web.Request) -> web.StreamResponse:
    """Delete an entry in the trash, with its revisions, once `confirmed=delete` is sent."""
    post = own_post(request, current(request))
    if post.deleted_at is None:
        raise web.HTTPConflict(
            text="Only entries in the trash can be deleted; move it there first."
        )
    if text(await read_form(request), "confirmed") != "delete":
        return trash_page(request, confirm=post)
    posts.delete_for_good(request.app[keys.DB], post.id)
    return see_other("/dashboard/trash?purged=1")

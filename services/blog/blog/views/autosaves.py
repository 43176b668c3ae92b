"""The editor's script keeps the author's text on the server while the session lives."""

from __future__ import annotations

from aiohttp import web

from .. import autosave, keys, posts
from ..auth import current, login_required
from ..forms import read_form, text
from ..markup import MarkupError, check_size
from ..redirects import local_target
from ..templating import see_other
from .authoring import base_revision_of


def _checked_key(request: web.Request, key: str) -> int | None:
    """The entry id of an editor key (None for a new entry), after checking the
    principal may edit it: 404 alike for another's entry and one that does not exist."""
    if not autosave.valid_key(key):
        raise web.HTTPBadRequest(text="editor_key must be post-ID or new-HEX (16 hex digits)")
    if not key.startswith("post-"):
        return None
    post = posts.get_by_id(request.app[keys.DB], int(key.removeprefix("post-")))
    if post is None or not current(request).may_edit(post.author_id):
        raise web.HTTPNotFound()
    return post.id


@login_required
async def keep(request: web.Request) -> web.StreamResponse:
    """POST the editor's fields (and `editor_key`, `base_revision`): 200 `{"saved_at": T}`.

    Open mode and trusted local access have no user to keep text for: 200 with
    `saved_at` null (the browser's copy still holds it).
    """
    principal = current(request)
    form = await read_form(request)
    key = text(form, "editor_key")
    post_id = _checked_key(request, key)
    values = autosave.clean_values(form)
    try:
        check_size(values["body_md"])
    except MarkupError as exc:
        raise web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0, text=str(exc)) from None
    if principal.user_id is None:
        return web.json_response({"saved_at": None})
    now = posts.now_seconds()
    autosave.store(
        request.app[keys.DB], principal.user_id, key, values, now,
        post_id=post_id, base_revision=base_revision_of(form),
    )  # fmt: skip
    return web.json_response({"saved_at": now})


@login_required
async def discard(request: web.Request) -> web.StreamResponse:
    """Forget an autosave (the editor's "Discard"); 303 back to `back` (a local path)."""
    principal = current(request)
    form = await read_form(request)
    key = text(form, "editor_key")
    _checked_key(request, key)
    if principal.user_id is not None:
        autosave.discard(request.app[keys.DB], principal.user_id, key)
    return see_other(local_target(text(form, "back")) or "/dashboard")

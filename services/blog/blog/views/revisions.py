"""An entry's kept revisions: list them, show one, load one into the editor."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from .. import keys, posts
from ..auth import current, login_required
from ..templating import page
from .authoring import kept_revision, own_post


@login_required
@page("revisions.html")
async def revision_list(request: web.Request) -> Mapping[str, object]:
    post = own_post(request, current(request))
    return {
        "post": post,
        "revisions": posts.list_revisions(request.app[keys.DB], post.id),
        "shown": None,
        "kept": posts.MAX_REVISIONS,
    }


@login_required
@page("revisions.html")
async def revision_page(request: web.Request) -> Mapping[str, object]:
    post = own_post(request, current(request))
    shown = kept_revision(request, post, request.match_info["revision"])
    return {"post": post, "revisions": [], "shown": shown, "kept": posts.MAX_REVISIONS}

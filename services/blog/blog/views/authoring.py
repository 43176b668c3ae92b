"""The dashboard: list, create, edit, preview and delete posts and stories."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict

from aiohttp import web

from .. import keys, posts
from ..auth import Principal, current, login_required
from ..forms import read_form, text
from ..markup import MarkupError, check_size
from ..rendering import RenderBusy
from ..templating import page, page_of, render, see_other
from ..timefmt import parse_local_input

ACTIONS = ("preview", "draft", "publish")
MAX_TITLE = 200


def _own_post(request: web.Request, principal: Principal) -> posts.Post:
    """The entry of the URL if this principal may edit it; 404 alike for one that does not
    exist and one that is someone else's, so an author learns nothing of others' drafts."""
    raw = request.match_info["post_id"]
    post = posts.get_by_id(request.app[keys.DB], int(raw)) if raw.isdigit() else None
    if post is None or not principal.may_edit(post.author_id):
        raise web.HTTPNotFound()
    return post


@login_required
@page("dashboard.html")
async def dashboard(request: web.Request) -> Mapping[str, object]:
    principal = current(request)
    number = page_of(request)
    entries, total = posts.list_for_dashboard(
        request.app[keys.DB], principal.user_id, everyone=principal.is_admin, page=number
    )
    return {
        "entries": entries,
        "now": posts.now_seconds(),
        "page": number,
        "has_newer": number > 1,
        "has_older": number * posts.DASHBOARD_PAGE < total,
    }


def _form_values(post: posts.Post | None, request: web.Request) -> dict[str, object]:
    if post is None:
        kind = request.query.get("kind", "post")
        return {
            **asdict(posts.Draft(title="", body_md="", kind=kind)),
            "tags": "",
            "publish_at": None,
        }
    conn = request.app[keys.DB]
    category = posts.category_of(conn, post)
    return {
        **asdict(post),
        "category": category.name if category else "",
        "tags": ", ".join(t.name for t in posts.tags_of(conn, post.id)),
        "publish_at": post.published_at,
    }


def parse_draft(form: Mapping[str, object], action: str) -> tuple[posts.Draft, list[str]]:
    def field(name: str) -> str:
        return text(form, name).strip()

    errors: list[str] = []
    title = field("title")
    if not title:
        errors.append("A title is required.")
    elif len(title) > MAX_TITLE:
        errors.append(f"The title is longer than {MAX_TITLE} characters.")
    kind = field("kind") or "post"
    if kind not in posts.KINDS:
        errors.append("Kind must be post or story.")
    try:
        publish_at = parse_local_input(field("publish_at"))
    except ValueError:
        errors.append("The publication time is not a valid date and time.")
        publish_at = None
    draft = posts.Draft(
        title=title,
        body_md=text(form, "body_md"),
        kind=kind,
        status="published" if action == "publish" else "draft",
        published_at=publish_at,
        slug=field("slug"),
        category=field("category")[:64],
        tags=posts.parse_tags(field("tags")),
    )
    return draft, errors


def _editor(
    request: web.Request,
    post: posts.Post | None,
    draft: posts.Draft,
    errors: list[str],
    preview: str | None,
    status: int = 400,
) -> web.Response:
    """The editor again, holding everything the author sent (nothing typed is lost)."""
    values = {
        **asdict(draft),
        "tags": ", ".join(draft.tags),
        "publish_at": draft.published_at,
    }
    context = {"post": post, "values": values, "errors": errors, "preview": preview}
    return render("editor.html", request, context, status=status if errors else 200)


async def render_body(request: web.Request, source: str) -> str:
    """Sanitized HTML from a worker process (rendering.py).

    Raises MarkupError for text over a bound, HTTPServiceUnavailable when every
    worker stays busy.
    """
    check_size(source)  # before the text is copied to a worker
    try:
        return await request.app[keys.RENDERER].render(source)
    except RenderBusy:
        raise web.HTTPServiceUnavailable(
            text="Every renderer is busy; send the form again in a minute.",
            headers={"Retry-After": "60"},
        ) from None


async def _save(request: web.Request, post: posts.Post | None) -> web.StreamResponse:
    principal = current(request)
    form = await read_form(request)
    action = text(form, "action") or "draft"
    if action not in ACTIONS:
        raise web.HTTPBadRequest(text="unknown action: use preview, draft or publish")
    draft, errors = parse_draft(form, action)
    html, status = None, 400
    if not errors:
        try:
            html = await render_body(request, draft.body_md)
        except MarkupError as exc:
            errors.append(str(exc))
            status = exc.status
    if errors or action == "preview":
        return _editor(request, post, draft, errors, html, status)
    author_id = principal.user_id if post is None else post.author_id
    saved = posts.save_post(
        request.app[keys.DB],
        draft,
        author_id=author_id,
        post_id=post.id if post else None,
        body_html=html,
    )
    return see_other(f"/dashboard/posts/{saved.id}?saved=1")


@login_required
async def new_form(request: web.Request) -> web.StreamResponse:
    context = {"post": None, "values": _form_values(None, request), "errors": [], "preview": None}
    return render("editor.html", request, context)


@login_required
async def create(request: web.Request) -> web.StreamResponse:
    return await _save(request, None)


@login_required
async def edit_form(request: web.Request) -> web.StreamResponse:
    post = _own_post(request, current(request))
    context = {
        "post": post,
        "values": _form_values(post, request),
        "errors": [],
        "preview": None,
        "saved": request.query.get("saved") == "1",
        "now": posts.now_seconds(),
    }
    return render("editor.html", request, context)


@login_required
async def update(request: web.Request) -> web.StreamResponse:
    return await _save(request, _own_post(request, current(request)))


@login_required
async def delete(request: web.Request) -> web.StreamResponse:
    post = _own_post(request, current(request))
    posts.delete_post(request.app[keys.DB], post.id)
    return see_other("/dashboard")

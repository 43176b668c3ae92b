"""Writing without fear, in a real browser (Debian's Chromium through the kit's proxy):
nothing typed is lost through an ended session, a logout in another tab, a blog or proxy
that is down when the author presses Publish; states, confirmations, the trash; an edit
conflict between two browsers; an image from the editor; every page on a 390 px phone,
in both colour schemes, with axe finding no contrast violation.

Screenshots go to test-artifacts/browser/. Session lifetimes are short only for the one
test about them (BLOG_SESSION_IDLE, through compose, as a user sets it in .env).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from .conftest import Kit
from .stack_probes import record
from .test_blog_through_proxy import STALENESS_BOUND
from .test_stack_browser import ARTIFACTS, launch, nss_home, playwright_api
from .test_stack_faults import BRING_BACK, wait_until_served

if playwright_api is not None:
    from axe_playwright_python.async_playwright import Axe

IDLE_SECONDS = 10  # the shortest BLOG_SESSION_IDLE the blog accepts
PHONE = {"width": 390, "height": 844}
TEXT = "Written for an hour.\n\nA second paragraph, with ünïcödé."
GPS_IFD = 0x8825


@pytest.fixture(autouse=True)
def _artifacts() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


@asynccontextmanager
async def browser_for(stack: Kit, tmp_path: Path) -> AsyncIterator[playwright_api.Browser]:
    async with launch(nss_home(stack, tmp_path / f"home-{uuid.uuid4().hex[:6]}")) as browser:
        yield browser


async def log_in(page: playwright_api.Page, stack: Kit, owner: tuple[str, str]) -> None:
    """Log in on the login form the page shows (it may carry an editor's text), else on
    /login."""
    if not await page.locator("form#login").count():
        await page.goto(stack.url("/login"))
    await page.fill("#username", owner[0])
    await page.fill("#password", owner[1])
    await page.click("form#login button[type=submit]")


async def until(page: playwright_api.Page, condition: str, arg: object = None) -> None:
    """Poll a JavaScript function of `arg` until it is true (at most 15 s). Not
    wait_for_function: that evaluates strings, which the blog's CSP forbids."""
    for _ in range(150):
        if await page.evaluate(condition, arg):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never true: {condition}")


async def write(page: playwright_api.Page, stack: Kit, title: str, body: str = TEXT) -> None:
    """Open a new editor and type; wait until the browser's copy holds the text."""
    await page.goto(stack.url("/dashboard/posts/new"))
    await page.fill("#title", title)
    await page.fill("#body_md", body)
    await until(
        page,
        "(title) => Object.keys(localStorage).some(k => localStorage.getItem(k).includes(title))",
        title,
    )


async def press(page: playwright_api.Page, action: str) -> None:
    await page.click(f"button[name=action][value={action}]")


async def state_of(page: playwright_api.Page) -> str:
    return (await page.get_attribute("#state", "class") or "").removeprefix("state state-")


async def public_get(stack: Kit, path: str) -> tuple[int, bytes]:
    """What a reader with no session gets (status and body)."""
    connector = aiohttp.TCPConnector(ssl=stack.ssl_context())
    async with aiohttp.ClientSession(connector=connector) as reader:
        async with reader.get(stack.url(path)) as response:
            return response.status, await response.read()


async def public_status(stack: Kit, path: str) -> int:
    return (await public_get(stack, path))[0]


async def public_status_becomes(stack: Kit, path: str, status: int) -> int:
    """Readers may be served the proxy's cached copy for up to ``STALENESS_BOUND``
    seconds (docs/proxy.md, *Cache*): poll, bounded, until ``status`` comes."""
    deadline = time.monotonic() + STALENESS_BOUND + 3
    seen = await public_status(stack, path)
    while seen != status and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        seen = await public_status(stack, path)
    return seen


def slug_of(title: str) -> str:
    return title.lower().replace(" ", "-")


# --- nothing typed is lost --------------------------------------------------------------


@contextmanager
def blog_with(stack: Kit, **settings: str) -> Iterator[None]:
    """The blog recreated with these .env settings for the block, then as it was (the data
    is on its volume; sessions live in the database)."""
    recreate = ("up", "-d", "--wait", "--no-deps", "--force-recreate", "blog")
    replace(stack, env={**stack.env, **settings}).compose(*recreate)
    try:
        yield
    finally:
        stack.compose(*recreate)


async def test_a_session_that_expires_mid_edit_loses_nothing(
    stack: Kit, owner: tuple[str, str], tmp_path: Path
) -> None:
    title = f"Expired {uuid.uuid4().hex[:8]}"
    with blog_with(stack, BLOG_SESSION_IDLE=f"{IDLE_SECONDS}s"):
        async with browser_for(stack, tmp_path) as browser:
            page = await browser.new_page()
            await log_in(page, stack, owner)
            await write(page, stack, title)
            # The server's copy is made a few seconds after typing (and uses the session);
            # then the author thinks, and the session ends.
            await until(
                page, "() => document.getElementById('keep-status').textContent.includes('server')"
            )
            await asyncio.sleep(IDLE_SECONDS + 2)
            await press(page, "publish")
            assert await page.locator("#pending-text").count() == 1  # the login, text in hand
            await page.screenshot(path=str(ARTIFACTS / "writing-1-session-ended.png"))
            await log_in(page, stack, owner)
            assert await page.input_value("#body_md") == TEXT
            await press(page, "publish")
            assert await state_of(page) == "published"
    assert await public_status(stack, f"/posts/{slug_of(title)}") == 200
    record("nothing lost (browser)", "session expired mid-edit")


async def test_a_logout_in_another_tab_loses_nothing(
    stack: Kit, owner: tuple[str, str], tmp_path: Path
) -> None:
    title = f"Two tabs {uuid.uuid4().hex[:8]}"
    async with browser_for(stack, tmp_path) as browser:
        context = await browser.new_context()
        page = await context.new_page()
        await log_in(page, stack, owner)
        await write(page, stack, title)
        other = await context.new_page()
        await other.goto(stack.url("/dashboard"))
        await other.click("form[action='/logout'] button")
        await press(page, "publish")
        await log_in(page, stack, owner)
        assert await page.input_value("#title") == title
        assert await page.input_value("#body_md") == TEXT
        await press(page, "publish")
        assert await state_of(page) == "published"
    record("nothing lost (browser)", "logout in another tab")


@pytest.mark.parametrize("service", ["blog", "proxy"])
async def test_a_save_that_cannot_reach_the_blog_loses_nothing(
    stack: Kit, owner: tuple[str, str], tmp_path: Path, service: str
) -> None:
    """Publish while the blog (502/503 from the proxy) or the proxy (no connection) is
    down; both start again; the editor offers the text back."""
    title = f"Offline {service} {uuid.uuid4().hex[:8]}"
    async with browser_for(stack, tmp_path) as browser:
        page = await browser.new_page()
        await log_in(page, stack, owner)
        await write(page, stack, title)
        await asyncio.to_thread(stack.compose, "stop", service)
        try:
            # The proxy answers 502/503 for a stopped blog; with the proxy stopped the
            # browser has no connection at all (an error page of its own).
            with contextlib.suppress(playwright_api.Error):
                await press(page, "publish")
                await page.wait_for_load_state()
                # Chromium may refuse to capture its own network-error page: best effort.
                await page.screenshot(path=str(ARTIFACTS / f"writing-0-{service}-down.png"))
        finally:
            await asyncio.to_thread(stack.compose, *BRING_BACK)
        await asyncio.to_thread(wait_until_served, stack)
        assert await public_status(stack, f"/posts/{slug_of(title)}") == 404  # not saved
        await page.goto(stack.url("/dashboard/posts/new"))
        await page.click("#browser-copy button")  # "Put it back into the form"
        assert await page.input_value("#body_md") == TEXT
        await press(page, "publish")
        assert await state_of(page) == "published"
    assert await public_status(stack, f"/posts/{slug_of(title)}") == 200
    record("nothing lost (browser)", f"{service} down on submit, then restarted")


# --- states, confirmations, the trash -------------------------------------------------


async def test_publish_update_unpublish_trash_and_restore(
    stack: Kit, owner: tuple[str, str], tmp_path: Path
) -> None:
    title = f"States {uuid.uuid4().hex[:8]}"
    path = f"/posts/{slug_of(title)}"
    async with browser_for(stack, tmp_path) as browser:
        page = await browser.new_page()
        await log_in(page, stack, owner)
        await write(page, stack, title)
        assert await state_of(page) == "new"
        await press(page, "publish")
        assert await state_of(page) == "published" and await public_status(stack, path) == 200
        await page.fill("#body_md", "Updated text.")
        await press(page, "publish")  # "Update"
        assert await state_of(page) == "published"
        assert await page.locator("button[name=action][value=draft]").count() == 0
        await press(page, "unpublish")
        assert await page.locator("#confirm").is_visible()
        assert await public_status(stack, path) == 200  # asked, not done
        await page.screenshot(path=str(ARTIFACTS / "writing-2-unpublish-asks.png"))
        await page.click("#confirm button[name=action][value=unpublish]")
        assert await state_of(page) == "draft"
        assert await public_status_becomes(stack, path, 404) == 404
        await press(page, "trash")
        await page.click("#confirm button[name=action][value=trash]")
        assert page.url.startswith(stack.url("/dashboard/trash"))
        row = page.locator("tr", has_text=title)
        await row.locator("button", has_text="Restore").click()
        assert await state_of(page) == "draft"
        assert await page.input_value("#body_md") == "Updated text."
    record("writing (browser)", "publish, update, unpublish, trash, restore")


async def test_two_browsers_editing_one_post_see_both_versions(
    stack: Kit, owner: tuple[str, str], tmp_path: Path
) -> None:
    title = f"Conflict {uuid.uuid4().hex[:8]}"
    async with browser_for(stack, tmp_path) as browser:
        laptop, phone = [await (await browser.new_context()).new_page() for _ in range(2)]
        for page in (laptop, phone):
            await log_in(page, stack, owner)
        await write(laptop, stack, title)
        await press(laptop, "publish")
        await phone.goto(laptop.url.split("?")[0])
        await laptop.fill("#body_md", "From the laptop.")
        await press(laptop, "publish")
        await phone.fill("#body_md", "From the phone.")
        await press(phone, "publish")
        assert await phone.locator("#conflict").is_visible()
        assert await phone.input_value("#body_md") == "From the phone."
        assert await phone.input_value("#saved-body") == "From the laptop."
        await phone.screenshot(path=str(ARTIFACTS / "writing-3-conflict.png"), full_page=True)
        await press(phone, "publish")  # the phone's author chose, seeing both
        assert await state_of(phone) == "published"
        assert await phone.input_value("#body_md") == "From the phone."
    record("writing (browser)", "edit conflict between two browsers")


async def test_an_admin_adds_an_author_who_sets_a_password_from_the_one_time_link(
    stack: Kit, owner: tuple[str, str], tmp_path: Path
) -> None:
    name = f"author{uuid.uuid4().hex[:8]}"
    password = "a long passphrase for the new author"
    async with browser_for(stack, tmp_path) as browser:
        admin = await (await browser.new_context()).new_page()
        await log_in(admin, stack, owner)
        await admin.goto(stack.url("/dashboard/users"))
        await admin.fill("#name", name)
        await admin.fill("#display_name", "Nell Newcomer")
        await admin.select_option("#role", "author")
        await admin.click("form#add-user button[type=submit]")
        link = await admin.input_value("#link-value")
        assert "/password-link/" in link and password not in await admin.content()
        await admin.screenshot(path=str(ARTIFACTS / "people-1-link.png"), full_page=True)
        # The author, in a browser of their own.
        author = await (await browser.new_context()).new_page()
        await author.goto(link)
        await author.fill("#password", password)
        await author.fill("#confirm_password", password)
        await author.click("form#set-password button[type=submit]")
        assert await author.locator("#password-set").is_visible()
        await author.click("text=Log in")
        await log_in(author, stack, (name, password))
        await author.wait_for_url("**/dashboard")
        assert await author.locator("a[href='/dashboard/users']").count() == 0  # an author
        # The link worked once: now it answers exactly like one that never existed.
        answers = []
        for url in (link, stack.url("/password-link/" + "A" * 43)):
            response = await author.goto(url)
            assert response is not None
            answers.append((response.status, await response.text()))
        assert answers[0] == answers[1] and answers[0][0] == 404
    record("people (browser)", "admin adds an author; the author sets a password from the link")


def photo_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif.get_ifd(GPS_IFD)[2] = (48.0, 51.0, 24.0)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


async def test_an_image_from_the_editor_is_published_without_its_gps(
    stack: Kit, owner: tuple[str, str], tmp_path: Path
) -> None:
    title = f"Picture {uuid.uuid4().hex[:8]}"
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(photo_with_gps())
    async with browser_for(stack, tmp_path) as browser:
        page = await browser.new_page()
        await log_in(page, stack, owner)
        await write(page, stack, title)
        await page.set_input_files("#image", str(photo))
        await page.fill("#image_alt", "A blue rectangle")
        await press(page, "upload")
        body = await page.input_value("#body_md")
        assert body.startswith(TEXT) and "![A blue rectangle](/media/" in body
        await press(page, "publish")
        await page.goto(stack.url(f"/posts/{slug_of(title)}"))
        image = page.locator("img[alt='A blue rectangle']")
        assert (await image.get_attribute("width"), await image.get_attribute("height")) == (
            "64",
            "48",
        )
        status, served = await public_get(stack, await image.get_attribute("src") or "")
        assert status == 200
        published = Image.open(io.BytesIO(served))
        assert not published.getexif().get_ifd(GPS_IFD) and 0x010F not in published.getexif()
    record("writing (browser)", "image from the editor, GPS removed")


# --- a phone, both colour schemes -------------------------------------------------------

CONTRAST_ONLY = {
    "runOnly": {"type": "rule", "values": ["color-contrast"]},
    "resultTypes": ["violations"],
}
PAGES = [
    "/",
    "{public}",
    "/stories/",
    "/categories",
    "/search?q=phone",
    "/login",
    "/dashboard",
    "/dashboard/posts/new",
    "/dashboard/posts/{id}",
    "/dashboard/posts/{id}/revisions",
    "/dashboard/media",
    "/dashboard/trash",
    "/dashboard/password",
    "/dashboard/security",
    "/dashboard/users",
    "/dashboard/settings",
    "/dashboard/profile",
    "/no-such-page",
]


async def contrast_violations(page: playwright_api.Page, where: str) -> list[tuple[str, str]]:
    """(where, element) for each text axe-core finds under WCAG AA contrast on the page."""
    found = await Axe().run(page, options=CONTRAST_ONLY)
    return [(where, v["nodes"][0]["html"]) for v in found.response["violations"]]


async def test_every_page_fits_a_390_px_phone_with_aa_contrast(
    stack: Kit, owner: tuple[str, str], tmp_path: Path
) -> None:
    long_word = "Supercalifragilistic" * 8
    title = f"Phone {long_word[:40]} {uuid.uuid4().hex[:8]}"
    async with browser_for(stack, tmp_path) as browser:
        context = await browser.new_context(viewport=PHONE)
        page = await context.new_page()
        await log_in(page, stack, owner)
        await write(page, stack, title, f"{long_word} https://example.org/{long_word}")
        await press(page, "publish")
        post_id = page.url.split("/")[-1].split("?")[0]
        public = await page.get_attribute("#state a", "href")  # where it is live
        paths = [p.format(public=public, id=post_id) for p in PAGES]
        overflowing, contrast = [], []
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)
            for path in paths:
                await page.goto(stack.url(path))
                widths = await page.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]"
                )
                if widths[0] > widths[1]:
                    overflowing.append((scheme, path, widths))
                contrast += await contrast_violations(page, f"{scheme} {path}")
            # Error text (it was 2.7:1 in dark mode): the editor refusing an upload.
            await page.goto(stack.url("/dashboard/posts/new"))
            await page.fill("#title", "An upload without a file")
            await press(page, "upload")
            assert await page.locator("p.error").count() == 1
            contrast += await contrast_violations(page, f"{scheme} editor error")
            await page.goto(stack.url("/no-such-page"))
            await page.screenshot(path=str(ARTIFACTS / f"writing-4-error-390-{scheme}.png"))
            await page.goto(stack.url("/dashboard"))
            await page.screenshot(path=str(ARTIFACTS / f"writing-5-dashboard-390-{scheme}.png"))
    assert overflowing == [], "pages scroll sideways at 390 px"
    assert contrast == [], "axe found text under 4.5:1"
    record("writing (browser)", f"{len(paths)} pages at 390 px, light and dark, axe contrast")

"""A real browser: Debian's headless Chromium, driven by Playwright, trusting only the kit's CA.

Trust comes from an NSS database (made with `certutil`, package libnss3-tools) in
the browser's own HOME, never from ignoring certificate errors; a control browser
without it must refuse the page. Screenshots of each step are kept in
test-artifacts/browser/ (ignored by git; CI may upload them).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from .conftest import ROOT, Kit
from .stack_probes import record

try:
    import playwright.async_api as playwright_api
except ImportError:  # reported by the fixture below: a skip here, a failure in CI
    playwright_api = None

# The real binary: /usr/bin/chromium is a wrapper script that adds Debian's flags.
CHROMIUM = next(
    (p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if os.access(p, os.X_OK)), None
)
ARTIFACTS = ROOT / "test-artifacts" / "browser"


@pytest.fixture(autouse=True)
def browser_tools() -> None:
    """Skip where the tools are missing, but fail in CI, where .ci/run installs them."""
    if CHROMIUM and shutil.which("certutil") and playwright_api:
        return
    message = "needs Debian's chromium, libnss3-tools (certutil) and playwright"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def png(width: int = 16, height: int = 16) -> bytes:
    """A small solid PNG, made here so the test needs no fixture file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\xd0\x30\x30" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


TRUST_STEPS = re.compile(r"### Linux: Chrome and Chromium\n.*?```sh\n(.*?)```", re.S)


def documented_trust_steps() -> str:
    """The shell lines docs/certificates.md gives for Chromium's NSS store."""
    found = TRUST_STEPS.search((ROOT / "docs" / "certificates.md").read_text())
    assert found, "docs/certificates.md lost its Chromium trust steps"
    return found.group(1)


def nss_home(kit: Kit, home: Path) -> Path:
    """A fresh HOME whose NSS database trusts the kit's CA, made by running the documented
    steps (docs/certificates.md) in a folder holding certs/ca.pem, as a user would."""
    home.mkdir(parents=True)
    folder = home / "kit"
    (folder / "certs").mkdir(parents=True)
    shutil.copyfile(kit.ca, folder / "certs" / "ca.pem")
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", documented_trust_steps()],
        cwd=folder,
        env={**os.environ, "HOME": str(home)},
        check=True,
        capture_output=True,
    )
    return home


@asynccontextmanager
async def launch(home: Path) -> AsyncIterator[playwright_api.Browser]:
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, env={**os.environ, "HOME": str(home)}
        )
        try:
            yield browser
        finally:
            await browser.close()


async def test_browser_without_the_kit_ca_refuses_the_blog(stack: Kit, tmp_path: Path) -> None:
    """Control: the same browser with an empty HOME does not trust the proxy."""
    async with launch(tmp_path) as browser:
        page = await browser.new_page()
        with pytest.raises(playwright_api.Error, match="ERR_CERT_AUTHORITY_INVALID"):
            await page.goto(stack.url("/"))


async def test_browser_logs_in_writes_a_post_with_an_image_sees_it_and_logs_out(
    stack: Kit, owner: tuple[str, str], tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    title = f"From Chromium {uuid.uuid4().hex[:8]}"
    image = tmp_path / f"kit-{uuid.uuid4().hex[:8]}.png"
    image.write_bytes(png())
    description = f"A red square {uuid.uuid4().hex[:8]}"

    async with launch(nss_home(stack, tmp_path / "home")) as browser:
        page = await browser.new_page()

        async def shot(step: str) -> None:
            await page.screenshot(path=str(ARTIFACTS / f"{step}.png"), full_page=True)

        await page.goto(stack.url("/login"))
        await page.fill("#username", owner[0])
        await page.fill("#password", owner[1])
        await shot("1-login")
        await page.click("form#login button[type=submit]")
        assert page.url == stack.url("/dashboard")

        await page.goto(stack.url("/dashboard/media"))
        await page.set_input_files("#file", str(image))
        await page.fill("#alt", description)
        await page.click("form[action='/dashboard/media'] button[type=submit]")
        markdown = await page.locator("code", has_text=description).first.inner_text()
        await shot("2-image-uploaded")

        await page.goto(stack.url("/dashboard/posts/new"))
        await page.fill("#title", title)
        await page.fill("#body_md", f"Written in a real browser.\n\n{markdown}")
        await page.click("button[name=action][value=publish]")
        await shot("3-published")

        await page.goto(stack.url("/"))
        assert await page.get_by_text(title).count() >= 1
        # The front page shows the first paragraph and "Read more"; the post shows all.
        await page.get_by_role("link", name=title).first.click()
        picture = page.locator(f"img[alt='{description}']").first
        assert await picture.evaluate("img => img.complete && img.naturalWidth") == 16
        await shot("4-post-page")

        feed = await page.goto(stack.url("/feed.atom"))
        assert feed is not None and feed.ok and title in await feed.text()

        await page.goto(stack.url("/"))
        await page.click("form[action='/logout'] button")
        await page.goto(stack.url("/dashboard"))
        assert page.url.startswith(stack.url("/login"))
        await shot("5-logged-out")
    record("real browser (Chromium)", "login, post with image, front page, feed, logout")


KEYHOLDER = ("keyholder", "passkeys and a password 19")
# Chromium's virtual authenticator (DevTools protocol, WebAuthn domain): a platform
# authenticator that keeps discoverable credentials and verifies its user.
VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


async def test_browser_registers_a_passkey_and_signs_in_with_it(stack: Kit, tmp_path: Path) -> None:
    """Issue 19 end to end, through the proxy over HTTPS: register a passkey, sign out,
    sign in with the passkey alone, then use it as the second factor after the password;
    blogctl removes it again (the recovery path). The relying party is the stack's
    public host name, localhost."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name, password = KEYHOLDER  # an account of its own: the owner's logins stay password-only
    stack.compose(
        "exec", "-T", "blog", "blogctl", "user", "add", name, "--password-stdin",
        stdin=password + "\n",
    )  # fmt: skip
    async with launch(nss_home(stack, tmp_path / "home")) as browser:
        page = await browser.new_page()
        devtools = await page.context.new_cdp_session(page)
        await devtools.send("WebAuthn.enable")
        added = await devtools.send(
            "WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR}
        )

        async def shot(step: str) -> None:
            await page.screenshot(path=str(ARTIFACTS / f"passkey-{step}.png"), full_page=True)

        async def password_login() -> None:
            await page.goto(stack.url("/login"))
            await page.fill("#username", name)
            await page.fill("#password", password)
            await page.click("form#login button[type=submit]")

        await password_login()
        assert page.url == stack.url("/dashboard")
        await page.goto(stack.url("/dashboard/security"))
        await page.fill("#passkey-name", "Chromium virtual key")
        # Adding a factor needs the password: without it the device is not even asked.
        await page.click("#passkey-add-button")
        error = page.locator("#passkey-add [data-passkey-error]")
        await error.filter(has_text="password").wait_for()
        unasked = await devtools.send(
            "WebAuthn.getCredentials", {"authenticatorId": added["authenticatorId"]}
        )
        assert unasked["credentials"] == []
        await page.fill("#passkey-password", password)
        await page.click("#passkey-add-button")
        await page.wait_for_url(re.compile(r".*/dashboard/security\?done=.*"))
        assert await page.locator("#passkey-list input[value='Chromium virtual key']").count() == 1
        stored = await devtools.send(
            "WebAuthn.getCredentials", {"authenticatorId": added["authenticatorId"]}
        )
        assert [c["rpId"] for c in stored["credentials"]] == ["localhost"]
        assert stored["credentials"][0]["isResidentCredential"]
        await shot("1-registered")

        await page.click("form[action='/logout'] button")
        await page.goto(stack.url("/dashboard"))
        assert page.url.startswith(stack.url("/login"))

        # A passkey alone: no name, no password.
        await page.click("#passkey-sign-in")
        await page.wait_for_url(stack.url("/dashboard"))
        assert await page.locator(f"text=Log out ({name})").count() == 1
        await shot("2-signed-in-with-passkey")

        # After the password, the passkey is the second factor.
        await page.click("form[action='/logout'] button")
        await password_login()
        assert page.url == stack.url("/login/second-factor")
        await page.click("#passkey-second-factor")
        await page.wait_for_url(stack.url("/dashboard"))
        await shot("3-passkey-as-second-factor")

        # Lost the device: blogctl removes the factors and ends the sessions.
        removed = stack.compose(
            "exec", "-T", "blog", "blogctl", "user", "remove-second-factors", name
        )
        assert f"removed the second factors of {name}" in removed.stdout
        assert "remove user=keyholder client=blogctl factor=all" in removed.stderr
        await page.goto(stack.url("/dashboard"))
        assert page.url.startswith(stack.url("/login"))  # the session ended
        await password_login()
        assert page.url == stack.url("/dashboard")  # the password alone again
    log = stack.compose("logs", "blog").stdout
    assert re.search(rf"blog\.security enrol user={name} client=\S+ factor=passkey", log)
    assert re.search(rf"blog\.security login user={name} client=\S+ method=passkey", log)
    assert re.search(rf"blog\.security login user={name} client=\S+ method=password\+passkey", log)
    record("passkeys (Chromium virtual authenticator)", "register, sign in alone, second factor")

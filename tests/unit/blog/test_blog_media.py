"""Images: type from content, size limit, alt text, re-encoding without metadata, deletion,
uploads from the editor, and safe serving headers."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from blog import imaging, keys, media, posts
from blog_testkit import add_user, csrf_from, editor_form, login, tiny_png
from PIL import Image, ImageCms

GPS_IFD, MAKE, MODEL, ORIENTATION, DATETIME = 0x8825, 0x010F, 0x0110, 0x0112, 0x0132
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_exif(orientation: int = 1) -> Image.Exif:
    """What a phone writes: where (GPS), with what (make, model), when, which way up."""
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[DATETIME] = "Canon", "EOS 5D Mark IV", "2026:11:30 09:15:00"
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 24.0), "E", (2.0, 21.0, 8.0)
    return exif


def photo(fmt: str, size: tuple[int, int] = (40, 20), orientation: int = 1) -> bytes:
    """A small image in `fmt` carrying camera EXIF (PNG: an eXIf chunk), XMP-like text where
    the format has it, and an sRGB colour profile."""
    image = Image.new("RGB", size, (200, 30, 30))
    buffer = io.BytesIO()
    options: dict[str, object] = {"exif": camera_exif(orientation), "icc_profile": SRGB}
    if fmt == "JPEG":
        options["comment"] = b"shot at home, 12 Rue Example"
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def reopened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def upload(
    client: TestClient,
    data: bytes,
    filename: str = "photo.jpg",
    alt: str = "A red square",
    **headers: str,
):
    token = await csrf_from(client, "/dashboard/media")
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("alt", alt)
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    return await client.post("/dashboard/media", data=form, headers=headers, allow_redirects=False)


def stored(client: TestClient) -> list[media.MediaFile]:
    return media.list_media(client.server.app[keys.DB])


def stored_bytes(client: TestClient, item: media.MediaFile) -> bytes:
    return (client.server.app[keys.SETTINGS].media_dir / item.name).read_bytes()


# --- metadata ------------------------------------------------------------------------

FORMATS = [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")]


@pytest.mark.parametrize(("fmt", "extension"), FORMATS)
def test_the_control_images_do_carry_gps_and_camera_data(fmt: str, extension: str) -> None:
    """Without this the tests below would prove nothing."""
    exif = reopened(photo(fmt)).getexif()
    assert exif.get(MAKE) == "Canon" and exif.get_ifd(GPS_IFD)


@pytest.mark.parametrize(("fmt", "extension"), FORMATS)
async def test_an_upload_is_published_without_gps_or_camera_data(
    admin_client: TestClient, fmt: str, extension: str
) -> None:
    response = await upload(admin_client, photo(fmt), filename=f"IMG_0001.{extension}")
    assert response.status == 303
    [item] = stored(admin_client)
    assert item.name.endswith(f".{extension}") and (item.width, item.height) == (40, 20)
    published = reopened(stored_bytes(admin_client, item))
    exif = published.getexif()
    assert not exif.get_ifd(GPS_IFD) and MAKE not in exif and MODEL not in exif
    assert not {"exif", "xmp", "comment"} & set(published.info)
    assert published.info.get("icc_profile") == SRGB  # the colour profile stays
    served = await admin_client.get(item.url)
    assert await served.read() == stored_bytes(admin_client, item)


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_turned_photo_stands_upright_and_loses_the_orientation_tag(orientation: int) -> None:
    result = imaging.reencode(photo("JPEG", size=(40, 20), orientation=orientation))
    assert (result.width, result.height) == (20, 40)
    assert ORIENTATION not in reopened(result.data).getexif()


def test_a_jpeg_keeps_its_own_quality() -> None:
    """Its quantization tables carry over: encoding again neither bloats a small photo nor
    adds a second, different loss."""
    noise = Image.effect_noise((400, 300), 40).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=30)
    result = imaging.reencode(buffer.getvalue())
    assert len(result.data) <= len(buffer.getvalue()) * 1.05
    assert reopened(result.data).quantization == reopened(buffer.getvalue()).quantization


def test_an_animation_keeps_its_frames_and_loses_its_comment() -> None:
    frames = [
        Image.new("RGB", (10, 10), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))
    ]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0,
        comment=b"made in the kitchen",
    )  # fmt: skip
    result = reopened(imaging.reencode(buffer.getvalue()).data)
    assert getattr(result, "n_frames", 1) == 3 and "comment" not in result.info


# --- refusals ------------------------------------------------------------------------


def huge_png(width: int, height: int) -> bytes:
    """Few bytes, many pixels: a decompression bomb."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


REFUSED = [
    (b"<html><script>alert(1)</script></html>", "cat.png", 400, "only PNG, JPEG"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "x.svg", 400, "only PNG"),
    (b"#!/bin/sh\nrm -rf /\n", "run.jpg", 400, "only PNG, JPEG"),
    (b"", "empty.png", 400, "empty"),
    (photo("JPEG")[:200], "cut.jpg", 400, "is it damaged"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "fake.png", 400, "is it damaged"),
    (huge_png(6000, 6000), "bomb.png", 400, "million pixels"),
]


@pytest.mark.parametrize(("data", "filename", "status", "words"), REFUSED)
async def test_what_is_not_a_sound_image_is_refused(
    admin_client: TestClient, data: bytes, filename: str, status: int, words: str
) -> None:
    response = await upload(admin_client, data, filename)
    assert response.status == status
    assert words in await response.text()
    assert stored(admin_client) == []
    media_dir: Path = admin_client.server.app[keys.SETTINGS].media_dir
    assert not any(media_dir.iterdir())  # noqa: ASYNC240 - a tmp dir listing


async def test_the_alt_text_is_asked_for_not_taken_from_the_file_name(
    admin_client: TestClient,
) -> None:
    response = await upload(admin_client, tiny_png(), "holiday.png", alt="  ")
    assert response.status == 400 and "alt text" in await response.text()
    assert stored(admin_client) == []
    response = await upload(admin_client, tiny_png(), "holiday.png", alt="A green dot")
    assert response.status == 303
    [item] = stored(admin_client)
    assert item.markdown == f"![A green dot](/media/{item.name})"
    listing = await (await admin_client.get("/dashboard/media")).text()
    assert "holiday" not in listing.split("<main>")[1].split("Markdown to paste")[1][:200]


async def test_an_image_just_over_the_limit_gets_the_blogs_own_answer(make_client) -> None:
    """Not aiohttp's bare "Maximum request body size ... exceeded" (test_blog_forms.py has
    a body far over it)."""
    client = await make_client(max_upload_bytes=1024 * 1024)
    add_user(client, "alice")
    await login(client, "alice")
    response = await upload(client, tiny_png() + b"\0" * (1024 * 1024 + 1), "big.png")
    page = await response.text()
    assert response.status == 413
    assert "larger than 1 MiB" in page
    assert '<header class="site">' in page and "Maximum request body size" not in page
    assert stored(client) == []


async def test_anonymous_cannot_upload(client: TestClient) -> None:
    token = await csrf_from(client, "/login")
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("file", tiny_png(), filename="a.png", content_type="image/png")
    response = await client.post("/dashboard/media", data=form, allow_redirects=False)
    assert response.status == 401


async def test_the_editors_script_gets_json(admin_client: TestClient) -> None:
    response = await upload(admin_client, photo("PNG"), "p.png", Accept="application/json")
    assert response.status == 201
    answer = await response.json()
    assert (answer["width"], answer["height"]) == (40, 20)
    assert answer["markdown"] == f"![A red square]({answer['url']})"
    refused = await upload(admin_client, b"nope", "p.png", Accept="application/json")
    assert refused.status == 400 and "only PNG" in (await refused.json())["error"]


# --- serving and deleting --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/media/../blog.sqlite3",
        "/media/blog.sqlite3",
        "/media/" + "a" * 32 + ".html",
        "/media/%2e%2e%2fblog.sqlite3",
        "/media/" + "0" * 32 + ".png",
    ],
)
async def test_only_stored_images_are_served(client: TestClient, path: str) -> None:
    assert (await client.get(path)).status == 404


async def test_a_stored_image_is_served_with_headers_that_run_nothing(
    admin_client: TestClient,
) -> None:
    assert (await upload(admin_client, tiny_png(), "../../etc/passwd.png")).status == 303
    [item] = stored(admin_client)
    assert len(item.name) == 36 and "passwd" not in item.name
    served = await admin_client.get(item.url)
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]


async def test_deleting_an_image_asks_first_and_names_the_entries_that_show_it(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    assert (await upload(admin_client, tiny_png(), "dot.png")).status == 303
    [item] = stored(admin_client)
    posts.create_post(db, title="Uses it", body_md=item.markdown)
    path = f"/dashboard/media/{item.name}/delete"
    token = await csrf_from(admin_client, "/dashboard/media")
    asked = await admin_client.post(path, data={"csrf_token": token})
    page = await asked.text()
    assert asked.status == 200 and "Delete this image for good?" in page and "Uses it" in page
    assert (await admin_client.get(item.url)).status == 200
    done = await admin_client.post(
        path, data={"csrf_token": token, "confirmed": "delete"}, allow_redirects=False
    )
    assert done.status == 303
    assert stored(admin_client) == [] and (await admin_client.get(item.url)).status == 404


async def test_an_author_cannot_delete_anothers_image(client: TestClient) -> None:
    add_user(client, "alice", "admin")
    add_user(client, "bob", "author")
    await login(client, "alice")
    assert (await upload(client, tiny_png(), "dot.png")).status == 303
    [item] = stored(client)
    await login(client, "bob")
    token = await csrf_from(client, "/dashboard/media")
    response = await client.post(
        f"/dashboard/media/{item.name}/delete", data={"csrf_token": token, "confirmed": "delete"}
    )
    assert response.status == 404 and stored(client) != []


# --- images in the editor and in pages -------------------------------------------------


async def editor_upload(
    client: TestClient,
    data: bytes,
    alt: str,
    action: str = "upload",
    path: str = "/dashboard/posts/new",
):
    fields = await editor_form(client, path)
    del fields["image_alt"]
    form = FormData()
    for name, value in {
        **fields,
        "title": "With a picture",
        "body_md": "My words.",
        "action": action,
    }.items():
        form.add_field(name, value)
    form.add_field("image_alt", alt)
    form.add_field("image", data, filename="IMG_0001.jpg", content_type="image/jpeg")
    return await client.post(path, data=form, allow_redirects=False)


async def test_the_editor_uploads_without_leaving_and_keeps_the_text(
    admin_client: TestClient, db: sqlite3.Connection
) -> None:
    response = await editor_upload(admin_client, photo("JPEG"), "A red square")
    page = await response.text()
    assert response.status == 200
    [item] = stored(admin_client)
    assert f"My words.\n\n![A red square](/media/{item.name})" in page
    assert db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0  # nothing saved yet


@pytest.mark.parametrize(
    ("data", "alt", "status", "words"),
    [
        (photo("JPEG"), "", 400, "alt text"),
        (b"\xff\xd8\xff" + b"\0" * (1024 * 1024 + 10), "Too big", 413, "larger than 1 MiB"),
        (b"GIF89a but not really", "Broken", 400, "is it damaged"),
    ],
)
async def test_an_image_the_editor_cannot_take_leaves_the_text_in_place(
    make_client, db, data: bytes, alt: str, status: int, words: str
) -> None:
    client = await make_client(max_upload_bytes=1024 * 1024)
    add_user(client, "alice")
    await login(client, "alice")
    response = await editor_upload(client, data, alt, action="publish")
    page = await response.text()
    assert response.status == status
    assert "The image was not added" in page and words in page
    assert ">My words.</textarea>" in page
    assert client.server.app[keys.DB].execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0


async def test_pages_write_the_images_width_and_height(admin_client: TestClient) -> None:
    response = await editor_upload(
        admin_client, photo("PNG", size=(64, 48)), "Wide", action="publish"
    )
    assert response.status == 303
    [item] = stored(admin_client)
    page = await (await admin_client.get("/posts/with-a-picture")).text()
    assert f'<img width="64" height="48" src="/media/{item.name}" alt="Wide">' in page

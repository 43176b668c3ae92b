"""Uploaded images re-encoded with Pillow: orientation applied, metadata gone, size bounded.

A photo straight from a phone carries its EXIF block: the GPS position where it was
taken, the camera's make, model and serial number, the time. The blog publishes
none of it: every upload is decoded and encoded again, writing only the pixels, the
colour profile (ICC, so colours stay right) and what animation needs (frame
durations, loop count, transparency). EXIF, XMP, IPTC, comments and PNG text chunks
are not written. The EXIF orientation is applied to the pixels first
(ImageOps.exif_transpose), so a portrait photo still stands upright.

Bounds, checked from the header before any pixel is decoded: MAX_PIXELS per frame
(Pillow's decompression-bomb guard is set to the same and its warning is an error),
MAX_FRAMES and MAX_TOTAL_PIXELS for animations. Only Pillow's PNG, JPEG, GIF and WebP
decoders are used, chosen by the file's first bytes, never anything else it can read.
The server runs `reencode` in a worker process with a time limit (rendering.py).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence, JpegImagePlugin

from .media import MediaError, sniff_extension

MAX_PIXELS = 25_000_000  # one frame: a 6000 x 4000 camera photo; about 100 MB decoded
MAX_FRAMES = 500
MAX_TOTAL_PIXELS = 30_000_000  # all frames of an animation together (each is kept decoded)
QUALITY = 90  # lossy WebP, and a JPEG whose own quantization tables are unknown
PILLOW_FORMATS = {"png": "PNG", "jpg": "JPEG", "gif": "GIF", "webp": "WEBP"}
# What may be written besides the pixels. Everything else Pillow read (exif, xmp,
# comment, PNG text, dpi...) is left behind.
KEPT_INFO = ("icc_profile", "transparency", "background", "duration", "loop")
# Pillow's decompression-bomb guard, at our bound: past twice this it refuses to open.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True, slots=True)
class Reencoded:
    """The published file: its bytes, extension and size in pixels (upright)."""

    data: bytes
    extension: str
    width: int
    height: int


def reencode(data: bytes) -> Reencoded:
    """The upload as it will be published. Raises MediaError for a file that is not a
    readable PNG, JPEG, GIF or WebP, or is over the pixel bounds."""
    extension = sniff_extension(data[:16])
    if extension is None:
        raise MediaError("only PNG, JPEG, GIF and WebP images are accepted")
    name = PILLOW_FORMATS[extension]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[name]) as image:
                check_bounds(image)
                output = _encode(image, extension, lossless=data[12:16] == b"VP8L")
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(too_many_pixels()) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError) as exc:
        raise MediaError(
            f"the file could not be read as a {name} image ({type(exc).__name__}); is it damaged?"
        ) from None
    return output


def dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image's header, without decoding it; None if unreadable.
    For files that were re-encoded already (imports of an export)."""
    extension = sniff_extension(data[:16])
    if extension is None:
        return None
    try:
        with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[extension]]) as image:
            return image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def too_many_pixels() -> str:
    return (
        f"the image has more than {MAX_PIXELS // 1_000_000} million pixels;"
        " make it smaller (for example 4000 pixels wide) and upload it again"
    )


def check_bounds(image: Image.Image) -> None:
    """Refuse what would take too much memory to decode, from the header alone."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise MediaError(too_many_pixels())
    frames = getattr(image, "n_frames", 1)
    if frames > MAX_FRAMES or frames * width * height > MAX_TOTAL_PIXELS:
        raise MediaError(
            f"the animation has too many frames ({frames}) for its size; at most"
            f" {MAX_TOTAL_PIXELS // 1_000_000} million pixels in all frames together"
        )


def _only_kept_info(image: Image.Image) -> Image.Image:
    image.info = {key: image.info[key] for key in KEPT_INFO if key in image.info}
    return image


def _upright_frames(image: Image.Image) -> list[Image.Image]:
    """Every frame with the EXIF orientation applied; a still image is turned in place
    (no second copy of a large photo in memory)."""
    if getattr(image, "n_frames", 1) == 1:
        ImageOps.exif_transpose(image, in_place=True)
        return [_only_kept_info(image)]
    return [
        _only_kept_info(ImageOps.exif_transpose(frame)) for frame in ImageSequence.Iterator(image)
    ]


def _encode(image: Image.Image, extension: str, lossless: bool) -> Reencoded:
    icc = image.info.get("icc_profile")
    frames = _upright_frames(image)
    first = frames[0]
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if len(frames) > 1:
        options.update(
            save_all=True,
            append_images=frames[1:],
            duration=[frame.info.get("duration", 100) for frame in frames],
            loop=image.info.get("loop", 0),
        )
    if extension == "jpg":
        options.update(_jpeg_options(image))
        if first.mode not in ("RGB", "L", "CMYK"):
            first = first.convert("RGB")
    elif extension == "webp":
        options.update({"lossless": True} if lossless else {"quality": QUALITY})
    buffer = io.BytesIO()
    first.save(buffer, PILLOW_FORMATS[extension], **options)
    return Reencoded(buffer.getvalue(), extension, first.width, first.height)


def _jpeg_options(original: Image.Image) -> dict[str, object]:
    """The photo's own quantization tables and chroma subsampling, so encoding again
    keeps its quality and adds little loss; QUALITY when they are unknown."""
    quantization = getattr(original, "quantization", None)
    # A quality would replace the tables (Pillow computes new ones from it).
    options: dict[str, object] = {"qtables": quantization} if quantization else {"quality": QUALITY}
    sampling = JpegImagePlugin.get_sampling(original)
    if sampling >= 0:
        options["subsampling"] = sampling
    return options

"""An attached image made small for the model with Pillow (synchronous: run it in a thread).

Only PNG, JPEG, GIF and WebP are opened (no other Pillow decoder sees the bytes). The size in
the header is checked before any pixel is decoded; a JPEG is decoded at 1/2, 1/4 or 1/8 of
its size when that still leaves enough pixels (``Image.draft``: the decoder skips the rest);
the image is turned upright by its EXIF orientation, scaled to fit, and encoded again with
nothing of the original's metadata (EXIF, GPS, ICC profile, comments). Pillow releases the
GIL while it decodes, resizes and encodes.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from slackgpt.files.image_rules import ImageCaps, draft_box, fit, formats_to_try, pixel_cap

log = logging.getLogger(__name__)

FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
MIMETYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}
NOT_AN_IMAGE = "it is not a PNG, JPEG, GIF or WebP image"


class ImageRefused(Exception):
    """An image that is not given to the model; the message says why, for the note."""


@dataclass(frozen=True)
class Scaled:
    """An image as the model gets it, and the size it came in."""

    data: bytes
    mimetype: str
    size: tuple[int, int]
    source_size: tuple[int, int]


def scale(data: bytes, caps: ImageCaps) -> Scaled:
    """``data`` (an image file's bytes) decoded, scaled and encoded again; or ImageRefused.

    A corrupt or truncated file, a format other than the four, or too many pixels (a
    decompression bomb) is refused with the reason; no error escapes as anything else.
    """
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            return _scaled(image, caps)
    except ImageRefused:
        raise
    except UnidentifiedImageError:
        raise ImageRefused(NOT_AN_IMAGE) from None
    except Image.DecompressionBombError:
        raise ImageRefused("it has too many pixels to read") from None
    except Exception as error:  # Pillow's many ways of saying "corrupt": OSError, SyntaxError…
        log.info("an image could not be decoded: %r", error)
        raise ImageRefused("it could not be read as an image") from None


def _scaled(image: Image.Image, caps: ImageCaps) -> Scaled:
    source, source_size = str(image.format), image.size
    box = draft_box(*source_size, caps)
    if box is not None:
        image.draft(None, box)  # JPEG only (others ignore it): decode fewer pixels
    cap = pixel_cap(image.mode, image.has_transparency_data, caps)
    if image.width * image.height > cap:
        width, height = source_size
        raise ImageRefused(
            f"it is {width:,} x {height:,} pixels, over the {cap / 1e6:.1f} megapixels I read"
        )
    image.load()
    ImageOps.exif_transpose(image, in_place=True)
    small = _smaller(_working(image), caps)
    alpha = small.mode == "RGBA"
    small.info = {}  # no metadata is written: EXIF, GPS, ICC profile, comments
    for name in formats_to_try(source, alpha):
        encoded = _encode(small, name, caps)
        if name == "JPEG" or len(encoded) <= caps.png_bytes:
            return Scaled(encoded, MIMETYPES[name], small.size, source_size)
    raise AssertionError("formats_to_try always ends with JPEG")  # pragma: no cover


def _working(image: Image.Image) -> Image.Image:
    """The image in L, RGB, or RGBA when some pixel is not opaque: itself when it is one of
    those already, else a converted copy (and the original's pixels are freed at once)."""
    if image.has_transparency_data:
        rgba = image if image.mode == "RGBA" else _converted(image, "RGBA")
        if rgba.getchannel("A").getextrema()[0] < 255:
            return rgba
        image = rgba  # an alpha channel that says nothing: dropped
    return image if image.mode in ("L", "RGB") else _converted(image, "RGB")


def _converted(image: Image.Image, mode: str) -> Image.Image:
    converted = image.convert(mode)
    image.close()  # its pixels go now, whatever still refers to the image
    return converted


def _smaller(image: Image.Image, caps: ImageCaps) -> Image.Image:
    """``image`` scaled to fit ``max_side`` (``image``'s own pixels freed once it is)."""
    target = fit(*image.size, caps.max_side)
    if target == image.size:
        return image
    # reducing_gap: a box reduction by a whole factor first where the image is at least
    # twice too large, then Lanczos: fewer pixels in memory at once, and faster
    smaller = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
    image.close()
    return smaller


def _encode(image: Image.Image, name: str, caps: ImageCaps) -> bytes:
    out = io.BytesIO()
    if name == "PNG":
        image.save(out, "PNG", compress_level=6)
        return out.getvalue()
    if image.mode == "RGBA":  # a JPEG has no transparency: over white, as a page shows it
        white = Image.new("RGB", image.size, "white")
        white.paste(image, mask=image.getchannel("A"))
        image = white
    image.save(out, "JPEG", quality=caps.jpeg_quality, optimize=True)
    return out.getvalue()

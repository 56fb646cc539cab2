"""The caps on attached images and the scaling decisions: pure, no I/O, no Pillow.

A phone photo is 12 megapixels in a 5 MB JPEG: decoded, 36 MB; as a data URL, 6.7 MB. The
model gains nothing from that: OpenAI scales an image to fit 2048 x 2048 (then to 768 px on
the short side), Anthropic to about 1568 px on the long side. So an image is read at most
2048 px on its long side, as a JPEG of quality 85 (or a PNG when it has transparency, or
was a lossless screenshot that stays small), with its metadata left behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MB = 1_000_000


@dataclass(frozen=True)
class ImageCaps:
    """How much image work one question, and the whole process, may cause.

    ``per_question``: images read per question (the rest get a note, never downloaded).
    ``question_bytes``: the scaled images' data URLs (base64, as the model receives them)
    per question: the request stays far below providers' caps (OpenAI's: 50 MB).
    ``in_flight``: bytes of downloaded images held at once by the process, all questions
    together (an image holds its size from its download until its scaled copy exists).
    ``wait``: seconds an image may wait for room in ``in_flight`` before it gets a note.
    ``max_side``: the long side of a scaled image; ``min_side``: how small a JPEG may be
    decoded (at 1/2, 1/4 or 1/8 of its size) before it is scaled to ``max_side``.
    ``max_pixels``: pixels decoded at most (after that reduction) for an RGB or greyscale
    image, two thirds of it for any other (see :func:`pixel_cap`); a larger image is refused
    before it is decoded (a decompression bomb is a small file of many pixels).
    ``png_bytes``: a lossless image stays a PNG when it encodes within this, else JPEG.
    """

    per_question: int = 4
    question_bytes: int = 10 * MB
    in_flight: int = 24 * MB
    wait: float = 30.0
    max_side: int = 2048
    min_side: int = 1536
    max_pixels: int = 4096 * 3072
    png_bytes: int = 1_500_000
    jpeg_quality: int = 85


def fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled down (never up) so its long side is at most ``max_side``."""
    long = max(width, height)
    if long <= max_side:
        return width, height
    return max(1, round(width * max_side / long)), max(1, round(height * max_side / long))


def draft_box(width: int, height: int, caps: ImageCaps) -> tuple[int, int] | None:
    """The size to ask a JPEG decoder for (it picks the smallest 1/2, 1/4, 1/8 reduction at
    least this big), or None when the image is decoded whole. The long side is kept at
    ``min_side`` or more, so the scaled image is between ``min_side`` and ``max_side``."""
    long = max(width, height)
    if long <= caps.max_side:
        return None
    keep = caps.min_side / long
    return max(1, int(width * keep)), max(1, int(height * keep))


def pixel_cap(mode: str, transparency: bool, caps: ImageCaps) -> int:
    """The most pixels decoded for an image of ``mode``. Pillow holds 4 bytes a pixel (RGB
    too): an RGB or greyscale image is decoded and scaled as it is, at most about 1.8 times
    its decoded size in memory (90 MB at the cap); any other (transparency, a palette, CMYK)
    is converted first and scaled with its alpha premultiplied, about 2.7 times (90 MB at
    two thirds of the cap). One image is decoded at a time in the process."""
    if mode in ("L", "RGB") and not transparency:
        return caps.max_pixels
    return caps.max_pixels * 2 // 3


def formats_to_try(source: str, alpha: bool) -> tuple[str, ...]:
    """Encodings to try in order: the first within ``png_bytes`` wins, the last always does.

    Transparency or a lossless source (a screenshot's sharp text) are kept as PNG when it
    stays small; everything else, and a PNG that would be large, becomes a JPEG (over white
    where it was transparent)."""
    if alpha or source.upper() in ("PNG", "GIF"):
        return ("PNG", "JPEG")
    return ("JPEG",)


def admitted(kinds: Sequence[bool], per_question: int) -> list[bool]:
    """Which files are read, given which are images to read: every non-image, and the first
    ``per_question`` images in the message's order."""
    seen, out = 0, []
    for is_image in kinds:
        seen += is_image
        out.append(not is_image or seen <= per_question)
    return out


def over_count_note(name: str, per_question: int) -> str:
    return (
        f"`{name}` was skipped: only the first {per_question} images of a message are read."
    )


def over_bytes_note(name: str, question_bytes: int) -> str:
    return (
        f"`{name}` was skipped: the images before it used the {question_bytes // MB} MB "
        "a message's images may take."
    )


def within_total(sizes: Sequence[int], total: int) -> list[bool]:
    """Which of the scaled images (their encoded sizes, in order) are given to the model:
    each one that still fits in what is left of ``total``."""
    room, out = total, []
    for size in sizes:
        fits = size <= room
        room -= size if fits else 0
        out.append(fits)
    return out

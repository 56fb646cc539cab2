"""Attached images: the caps' decisions, the scaling with Pillow, and the process's byte budget.

Every image here is made with Pillow in the test (no binary fixtures).
"""

from __future__ import annotations

import asyncio
import base64
import io
import struct
import zlib
from dataclasses import replace

import pytest
from PIL import Image

from slackgpt.files.attachments import Download, read_attachments
from slackgpt.files.image_reader import ByteBudget, ImageReader, NoRoom
from slackgpt.files.image_rules import (
    ImageCaps,
    admitted,
    draft_box,
    fit,
    formats_to_try,
    pixel_cap,
    within_total,
)
from slackgpt.files.images import ImageRefused, scale
from slackgpt.files.pdf_workers import Parser
from tests.helpers import until

CAPS = ImageCaps()


def jpeg(width: int, height: int, **save) -> bytes:
    """A JPEG with some detail (a gradient and a few shapes)."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **save)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_header_only(width: int, height: int, color_type: int = 2) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels (RGB; 6: RGBA) and holds none."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


# --- the decisions (pure) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "fitted"),
    [
        ((4032, 3024), (2048, 1536)),
        ((3024, 4032), (1536, 2048)),
        ((1200, 800), (1200, 800)),  # never scaled up
        ((20000, 10), (2048, 1)),
    ],
)
def test_fit_keeps_the_long_side_within_the_cap(size, fitted):
    assert fit(*size, 2048) == fitted


def test_a_jpeg_is_decoded_smaller_only_while_it_keeps_enough_pixels():
    assert draft_box(1600, 1200, CAPS) is None  # small enough: decoded whole
    width, height = draft_box(4032, 3024, CAPS)
    assert (4032 // width, 3024 // height) == (2, 2)  # 1/2: 2016 x 1512, over min_side
    width, height = draft_box(3000, 2000, CAPS)
    assert 3000 // width == 1  # 1/2 would be 1500, under min_side: decoded whole


def test_images_that_must_be_converted_may_have_fewer_pixels():
    assert pixel_cap("RGB", False, CAPS) == pixel_cap("L", False, CAPS) == 4096 * 3072
    assert pixel_cap("RGBA", True, CAPS) == pixel_cap("P", False, CAPS) == 4096 * 2048
    assert pixel_cap("RGB", True, CAPS) == 4096 * 2048  # a transparent colour (tRNS)


def test_transparency_and_lossless_sources_try_png_first():
    assert formats_to_try("JPEG", alpha=False) == ("JPEG",)
    assert formats_to_try("WEBP", alpha=True) == ("PNG", "JPEG")
    assert formats_to_try("PNG", alpha=False) == ("PNG", "JPEG")


def test_only_the_first_images_are_admitted_and_other_files_always_are():
    images = [True, False, True, True, False, True]
    assert admitted(images, 2) == [True, True, True, False, True, False]
    assert admitted([], 4) == []


def test_the_question_total_keeps_each_image_that_still_fits():
    assert within_total([4, 5, 2, 1], 8) == [True, False, True, True]


# --- scaling with Pillow ---------------------------------------------------------------


def test_a_phone_photo_is_decoded_at_half_size_and_kept_a_jpeg():
    scaled = scale(jpeg(4000, 3000), CAPS)
    assert scaled.mimetype == "image/jpeg" and scaled.source_size == (4000, 3000)
    assert scaled.size == (2000, 1500)  # Image.draft at 1/2; no resize needed
    assert opened(scaled.data).size == (2000, 1500)


def test_a_large_image_that_cannot_be_drafted_is_resized_to_the_cap():
    scaled = scale(png(Image.effect_noise((2600, 1300), 40)), CAPS)
    assert scaled.size == (2048, 1024)
    assert scaled.mimetype == "image/jpeg"  # a noisy PNG would be over png_bytes


def test_orientation_is_applied_and_metadata_left_behind():
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to show
    exif[0x010F] = "PhoneMaker"
    data = jpeg(400, 300, exif=exif.tobytes(), icc_profile=b"not really a profile",
                comment=b"taken at home")
    scaled = scale(data, CAPS)
    result = opened(scaled.data)
    assert result.size == (300, 400)
    assert not {"exif", "icc_profile", "comment"} & set(result.info)
    assert dict(result.getexif()) == {}


def test_transparency_stays_a_png():
    logo = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    logo.paste((200, 30, 30, 255), (50, 50, 250, 150))
    scaled = scale(png(logo), CAPS)
    assert scaled.mimetype == "image/png"
    assert opened(scaled.data).mode == "RGBA"


def test_an_opaque_screenshot_stays_a_small_png():
    shot = Image.new("RGBA", (1400, 900), (255, 255, 255, 255))
    shot.paste((20, 20, 20, 255), (100, 100, 900, 120))
    scaled = scale(png(shot), CAPS)
    assert scaled.mimetype == "image/png"
    assert opened(scaled.data).mode == "RGB"  # the alpha said nothing: dropped


def test_too_many_pixels_are_refused_before_decoding():
    with pytest.raises(ImageRefused, match=r"5,000 x 4,000 pixels, over the 8\.4 megapixels"):
        scale(png(Image.new("1", (5000, 4000))), CAPS)  # 20 MP in a few KB
    with pytest.raises(ImageRefused, match="too many pixels"):
        scale(png_header_only(30000, 30000), CAPS)  # Pillow's own bomb check, at open
    # 10.5 MP: decoded as RGB (and found empty), refused unread as RGBA
    with pytest.raises(ImageRefused, match="could not be read"):
        scale(png_header_only(3500, 3000), CAPS)
    with pytest.raises(ImageRefused, match=r"3,500 x 3,000 pixels, over the 8\.4 megapixels"):
        scale(png_header_only(3500, 3000, color_type=6), CAPS)


@pytest.mark.parametrize(
    "data",
    [
        jpeg(800, 600)[:3000],  # truncated
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,  # the signature, then nothing
        b"\xff\xd8\xff\xe0" + b"garbage" * 10,
    ],
)
def test_a_corrupt_image_is_refused_not_raised(data):
    with pytest.raises(ImageRefused):
        scale(data, CAPS)


# --- the byte budget -------------------------------------------------------------------


async def test_the_budget_makes_a_holder_wait_for_room_first_come_first_served():
    budget = ByteBudget(10)
    order: list[str] = []
    first_out = asyncio.Event()

    async def holder(name: str, size: int, until: asyncio.Event | None = None) -> None:
        async with budget.hold(size, timeout=10):
            order.append(name)
            if until is not None:
                await until.wait()

    first = asyncio.create_task(holder("a", 8, first_out))
    await until(lambda: order == ["a"], what="a to hold its room")
    waiting = [asyncio.create_task(holder("b", 5)), asyncio.create_task(holder("c", 1))]
    await asyncio.sleep(0)  # one loop turn: b and c reach the budget (c would fit at once)
    assert order == ["a"] and budget.held == 8  # c would fit, but b came first
    first_out.set()
    await asyncio.gather(first, *waiting)
    assert order == ["a", "b", "c"] and budget.held == 0


async def test_the_budget_gives_up_after_its_timeout_and_forgets_the_waiter():
    budget = ByteBudget(10)
    async with budget.hold(10, timeout=1):
        with pytest.raises(NoRoom):
            async with budget.hold(1, timeout=0.01):
                pass
    assert budget.held == 0
    async with budget.hold(10, timeout=0.01):
        assert budget.held == 10


async def test_a_request_larger_than_the_budget_holds_all_of_it():
    budget = ByteBudget(10)
    async with budget.hold(50, timeout=1):
        assert budget.held == 10


# --- images of a question, and of the process ------------------------------------------


def image_file(i: int, data: bytes) -> dict:
    return {"id": f"F{i}", "name": f"IMG_{i}.jpg", "mimetype": "image/jpeg", "filetype": "jpg",
            "size": len(data), "url_private_download": f"https://files.slack.test/{i}"}


class GatedDownloads:
    """Serves ``data`` for every URL once ``gate`` is open; counts downloads at once."""

    def __init__(self, data: bytes, gate: asyncio.Event | None = None) -> None:
        self.data, self.gate = data, gate
        self.urls: list[str] = []
        self.now = self.most = 0
        self.started = asyncio.Event()

    async def __call__(self, url: str, limit: int) -> Download:
        self.urls.append(url)
        self.started.set()
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0)  # a download yields to the loop, as a real one does
            return Download(self.data[:limit], complete=len(self.data) <= limit)
        finally:
            self.now -= 1


async def read(files, downloads, reader):
    async with Parser() as parser:
        return await read_attachments(files, downloads, read_pdf=parser.pdf_text,
                                      images=reader, images_allowed=True, max_chars=1000)


def decoded(part: dict) -> Image.Image:
    url = part["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    return opened(base64.b64decode(url.partition(",")[2]))


async def test_ten_photos_give_the_model_the_first_four_scaled_and_notes_for_the_rest():
    photo = jpeg(3000, 2250)
    files = [image_file(i, photo) for i in range(10)]
    downloads = GatedDownloads(photo)
    reader = ImageReader()
    result = await read(files, downloads, reader)
    await reader.aclose()
    assert len(result.image_parts) == 4
    assert all(decoded(p).size == (2048, 1536) for p in result.image_parts)
    assert downloads.urls == [f"https://files.slack.test/{i}" for i in range(4)]
    assert result.notes == [
        f"`IMG_{i}.jpg` was skipped: only the first 4 images of a message are read."
        for i in range(4, 10)
    ]


async def test_images_past_the_question_bytes_get_a_note():
    photo = jpeg(1000, 800)
    reader = ImageReader(replace(CAPS, question_bytes=1))
    result = await read([image_file(0, photo)], GatedDownloads(photo), reader)
    await reader.aclose()
    assert result.image_parts == []
    assert result.notes == [
        "`IMG_0.jpg` was skipped: the images before it used the 0 MB a message's images may "
        "take."
    ]


async def test_the_process_budget_keeps_images_of_all_questions_from_downloading_at_once():
    photo = jpeg(600, 400)
    reader = ImageReader(replace(CAPS, in_flight=len(photo) * 3 // 2))  # room for one
    downloads = GatedDownloads(photo)
    questions = [[image_file(q * 10 + i, photo) for i in range(3)] for q in range(2)]
    results = await asyncio.gather(*(read(files, downloads, reader) for files in questions))
    await reader.aclose()
    assert downloads.most == 1 and len(downloads.urls) == 6
    assert [len(r.image_parts) for r in results] == [3, 3]


async def test_an_image_that_finds_no_room_in_time_gets_a_note_and_the_rest_goes_on():
    photo = jpeg(600, 400)
    reader = ImageReader(replace(CAPS, in_flight=len(photo), wait=0.05))
    stuck = asyncio.Event()
    stalled = GatedDownloads(photo, stuck)
    blocking = asyncio.create_task(read([image_file(1, photo)], stalled, reader))
    await stalled.started.wait()  # the first image holds the whole budget, its download stalled
    result = await read([image_file(2, photo)], GatedDownloads(photo), reader)
    assert result.notes == ["`IMG_2.jpg` was skipped: I was reading too many images at once."]
    stuck.set()
    assert len((await blocking).image_parts) == 1
    await reader.aclose()


async def test_a_file_bigger_than_slack_said_is_skipped():
    photo = jpeg(600, 400)
    file = {**image_file(0, photo), "size": 100}
    reader = ImageReader()
    result = await read([file], GatedDownloads(photo), reader)
    await reader.aclose()
    assert result.notes == ["`IMG_0.jpg` was skipped: it is bigger than Slack said."]

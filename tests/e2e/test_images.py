"""End to end: a message with many large photos, through the real bot and the fakes."""

from __future__ import annotations

import base64
import io

from PIL import Image

from fakes.openai import Reply

CHANNEL = "C1"


def photo(width: int, height: int) -> bytes:
    """A JPEG the size of a phone photo's pixels (a gradient: few bytes), with EXIF."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def image_parts(body: dict) -> list[dict]:
    content = body["messages"][-1]["content"]
    return [p for p in content if p["type"] == "image_url"]


def decoded(part: dict) -> tuple[str, Image.Image]:
    mime, _, data = part["image_url"]["url"].removeprefix("data:").partition(";base64,")
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    image.load()
    return mime, image


async def test_ten_photos_the_model_gets_four_downscaled_the_rest_are_noted(slack, llm, bot):
    llm.script(Reply(text="Four whiteboards."))
    data = photo(4032, 3024)
    files = [slack.add_file(f"IMG_{i:04d}.jpg", data, "image/jpeg", "jpg") for i in range(10)]
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> what do these say?",
                                   files=files)

    replies = await slack.answered(CHANNEL, question["ts"])

    parts = image_parts(llm.requests[0])
    assert len(parts) == 4
    for part in parts:
        mime, image = decoded(part)
        assert mime == "image/jpeg" and max(image.size) <= 2048
        assert image.size == (2016, 1512) and "exif" not in image.info
    assert len(slack.downloads) == 4  # the other six were never fetched
    text = replies[0]["text"]
    assert text.startswith("Four whiteboards.")
    for i in range(4, 10):
        assert f"IMG_{i:04d}.jpg" in text
    assert "only the first 4 images" in text
    prompt = llm.requests[0]["messages"][-1]["content"][0]["text"]
    assert "`IMG_0009.jpg` was skipped: only the first 4 images of a message are read." in prompt


async def test_a_corrupt_photo_is_a_note_and_the_others_are_read(slack, llm, bot):
    llm.script(Reply(text="One photo."))
    good = slack.add_file("good.jpg", photo(800, 600), "image/jpeg", "jpg")
    broken = slack.add_file("broken.jpg", photo(800, 600)[:2000], "image/jpeg", "jpg")
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> look", files=[broken, good])

    replies = await slack.answered(CHANNEL, question["ts"])

    assert len(image_parts(llm.requests[0])) == 1
    assert replies[0]["text"].startswith("One photo.")
    assert "`broken.jpg` was skipped: it could not be read as an image." in replies[0]["text"]

"""What the bot sends Slack stays within the limits of Slack's method reference."""

from __future__ import annotations

import pytest

from slackgpt.slack.events import Target

pytestmark = pytest.mark.timeout(20)

BODY = "\n\n".join(f"Paragraph {i}: " + "words go on " * 60 for i in range(14))  # ~10,300


async def test_a_long_update_carries_the_body_in_its_block_and_a_short_text(slack, door):
    assert 10_000 < len(BODY) <= 11_000  # delivery.MESSAGE_LIMIT: 11,000
    root = slack.add_message("C1", "question")
    ts = await door.post_markdown(Target("C1", root["ts"]), "draft")
    await door.update_markdown("C1", ts, BODY)
    [update] = slack.calls_to("chat.update")
    text = update.params["text"]
    assert update.response["ok"] and len(text) <= 4_000  # chat.update: msg_too_long beyond
    assert text.endswith("…") and BODY.startswith(text[:-1].rstrip())
    assert update.params["blocks"] == [{"type": "markdown", "text": BODY}]
    assert slack.bot_text("C1", root["ts"]) == BODY


async def test_a_long_post_keeps_its_notification_text_as_short(slack, door):
    root = slack.add_message("C1", "question")
    await door.post_markdown(Target("C1", root["ts"]), BODY)
    [post] = slack.calls_to("chat.postMessage")
    assert len(post.params["text"]) <= 4_000 and post.params["text"].endswith("…")
    assert slack.bot_text("C1", root["ts"]) == BODY


async def test_an_update_without_blocks_still_fits(slack, door):
    slack.fail("chat.update", "invalid_blocks", times=1)  # the markdown block is refused
    root = slack.add_message("C1", "question")
    ts = await door.post_markdown(Target("C1", root["ts"]), "draft")
    await door.update_markdown("C1", ts, BODY)
    last = slack.calls_to("chat.update")[-1]
    assert last.response["ok"] and last.params["blocks"] == []
    assert len(last.params["text"]) <= 4_000

"""End to end: what a hostile member can post, and what it must not do to the bot or others."""

from __future__ import annotations

import re

import pytest

from fakes.openai import Reply
from slackgpt.quota import Quota

pytestmark = pytest.mark.timeout(60)

CHANNEL = "C1"
WRITES = ("chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream",
          "chat.stopStream")
LIVE = re.compile(r"<!(here|channel|everyone|subteam)|(?<![\w@])@(here|channel|everyone)\b", re.I)
BROADCASTS = "Sure <!here|all of you> and <!subteam^S0123ABCD|@oncall team> now"


def split_answer(body: dict) -> Reply:
    """The model writes BROADCASTS in two pieces, cut where the question says."""
    question = str(body["messages"][-1]["content"])
    cut = int(re.search(r"split (\d+)", question).group(1))
    return Reply(chunks=[BROADCASTS[:cut], BROADCASTS[cut:]], token_delay=0.15)


async def ask_every_split(slack) -> list[dict]:
    """One question per split, each in a channel of its own (posting is paced per channel)."""
    questions = [
        await slack.mention(f"C{cut:02d}", f"<@{slack.bot_user_id}> split {cut}")
        for cut in range(1, len(BROADCASTS))
    ]
    for question in questions:
        channel = question["channel"]
        await slack.wait_for(lambda q=question: shown(slack, q).endswith("now"), timeout=20)
        await slack.answered(channel, question["ts"])
    return questions


def shown(slack, question: dict) -> str:
    """The bot's answer as a person reads it, across its messages."""
    return "".join(m["text"] for m in slack.bot_replies(question["channel"], question["ts"]))


def sent_text(slack) -> str:
    """Everything the bot's writes carried to Slack."""
    return "\n".join(str(call.params) for call in slack.calls if call.method in WRITES)


@pytest.mark.parametrize("route", ["stream", "post-and-update"])
async def test_broadcasts_split_at_every_position_never_go_out_live(slack, llm, start_bot, route):
    llm.default = split_answer
    # The two pieces straddle an update; Slack's minute is a second here, so that every one
    # of the answers can take the route under test.
    await start_bot(stream_interval=0.05, quota=Quota(window=1))
    if route == "post-and-update":
        slack.fail("chat.startStream", "not_allowed", times=None)
    questions = await ask_every_split(slack)
    updates = [c for c in slack.calls if c.method in ("chat.appendStream", "chat.update")]
    assert len(updates) >= len(questions) // 2  # most answers really were sent in two steps
    assert not LIVE.search(sent_text(slack))
    for question in questions:
        text = shown(slack, question)
        assert not LIVE.search(text), text
        assert "here" in text and "oncall team" in text  # readable, just inert

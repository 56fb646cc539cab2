"""End to end: what a hostile member can post, and what it must not do to the bot or others."""

from __future__ import annotations

import re

import pytest

from fakes.openai import Reply

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
    questions = [
        await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> split {cut}")
        for cut in range(1, len(BROADCASTS))
    ]
    for question in questions:
        await slack.wait_for(
            lambda q=question: slack.bot_text(CHANNEL, q["ts"]).endswith("now"), timeout=20
        )
        await slack.answered(CHANNEL, question["ts"])
    return questions


def sent_text(slack) -> str:
    """Everything the bot's writes carried to Slack."""
    return "\n".join(str(call.params) for call in slack.calls if call.method in WRITES)


@pytest.mark.parametrize("route", ["stream", "post-and-update"])
async def test_broadcasts_split_at_every_position_never_go_out_live(slack, llm, start_bot, route):
    llm.default = split_answer
    await start_bot(stream_interval=0.05)  # the two pieces straddle an update
    if route == "post-and-update":
        slack.fail("chat.startStream", "not_allowed", times=None)
    questions = await ask_every_split(slack)
    updates = [c for c in slack.calls if c.method in ("chat.appendStream", "chat.update")]
    assert len(updates) >= len(questions) // 2  # most answers really were sent in two steps
    assert not LIVE.search(sent_text(slack))
    for question in questions:
        shown = slack.bot_text(CHANNEL, question["ts"])
        assert not LIVE.search(shown), shown
        assert "here" in shown and "oncall team" in shown  # readable, just inert

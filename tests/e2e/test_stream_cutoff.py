"""End to end: an answer that outlives Slack's stream. Slack ends a stream about five minutes
after it started, however busy (``message_not_in_streaming_state``); here the fake's
``stream_ttl`` is a second and the model writes for several: the answer goes on in the same
message by updates, nothing is lost, and it ends like any other (buttons, session active)."""

from __future__ import annotations

import pytest

from fakes.openai import Reply

pytestmark = pytest.mark.timeout(40)

CHANNEL = "C1"


async def test_a_long_slow_answer_survives_the_streams_cutoff(slack, llm, bot):
    slack.stream_ttl = 1.0
    chunks = [f"Sentence {i} of a long answer.\n" for i in range(40)]
    chunks[10:10] = ["```python\n", "x = 1\n", "y = 2\n"]  # a code block across the cutoff
    chunks[20:20] = ["```\n"]
    llm.script(Reply(chunks=chunks, token_delay=0.1))  # about 4 s of writing
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> tell me everything")

    await slack.wait_for(
        lambda: "Sentence 39" in slack.bot_text(CHANNEL, question["ts"]), timeout=20
    )
    [reply] = await slack.answered(CHANNEL, question["ts"])

    assert reply["text"] == "".join(chunks)  # nothing lost, nothing twice, one message
    assert slack.feedback_buttons(CHANNEL, reply["ts"]) is not None
    cut = [c for c in slack.calls if c.response.get("error") == "message_not_in_streaming_state"]
    assert cut, "the stream was cut off"
    assert len(slack.calls_to("chat.startStream")) == 1
    key = (CHANNEL, question["ts"])
    await slack.wait_for(lambda: slack.session_statuses(*key)[-1:] == ["active"])
    assert "active" not in slack.session_statuses(*key)[:-1]

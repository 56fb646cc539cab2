"""How a delivery ends besides finishing: halted by a stop click (what was shown stays, marked),
and cut off by Slack (a stream ends about five minutes after it started: the message goes on
with updates, nothing lost). Driven against the fake Slack's Web API."""

from __future__ import annotations

import asyncio

from slackgpt.answering.prompt import STOPPED
from slackgpt.formatting import open_fence
from slackgpt.slack.blocks import feedback_blocks
from slackgpt.slack.delivery import Delivery
from slackgpt.slack.events import Target


def texts(slack, root) -> list[str]:
    return [m["text"] for m in slack.bot_replies("C1", root["ts"])]


async def shown(slack, root, text: str) -> None:
    await slack.wait_for(lambda: text in "".join(texts(slack, root)))


# -- halted --------------------------------------------------------------------------------------


async def test_a_halt_keeps_what_was_shown_marks_it_and_drops_the_rest(slack, door):
    root = slack.add_message("C1", "question")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=10)
    reply.session = "active"
    reply.write("Once upon")
    await shown(slack, root, "Once upon")
    reply.write(" a time")  # queued for the next update, 10 s away: never shown
    await reply.halt(STOPPED)
    reply.write(" more")  # after the end: ignored
    assert texts(slack, root) == ["Once upon" + STOPPED]
    [stop] = slack.calls_to("chat.stopStream")
    assert stop.params["session_status"] == "active" and reply.session_ended
    assert [c.method for c in slack.calls] == ["chat.startStream", "chat.stopStream"]


async def test_a_stream_slack_stopped_is_marked_by_an_update(slack, door):
    root = slack.add_message("C1", "question")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=10)
    reply.write("Partial answer")
    await shown(slack, root, "Partial answer")
    [ts] = [m["ts"] for m in slack.bot_replies("C1", root["ts"])]
    slack.stop_by_user("C1", ts)
    await reply.halt(STOPPED, frozenset({ts}))
    assert texts(slack, root) == ["Partial answer" + STOPPED]
    assert not slack.calls_to("chat.stopStream")  # Slack said it had stopped it
    assert not reply.session_ended


async def test_a_halt_before_any_text_says_stopped_alone(slack, door):
    root = slack.add_message("C1", "question")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"))
    await reply.halt(STOPPED)
    assert texts(slack, root) == [STOPPED.strip()]


async def test_a_halt_inside_a_code_block_closes_it_first(slack, door):
    root = slack.add_message("C1", "question")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), stream=False, interval=10)
    reply.write("Here:\n```python\nx = 1\n")
    await shown(slack, root, "x = 1")
    await reply.halt(STOPPED)
    [text] = texts(slack, root)
    assert open_fence(text) == "" and text.endswith(STOPPED)


# -- cut off -------------------------------------------------------------------------------------


async def test_a_stream_cut_off_goes_on_in_the_same_message(slack, door):
    slack.stream_ttl = 0.3
    root = slack.add_message("C1", "question")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=0.05)
    words = [f"w{i} " for i in range(12)]
    for word in words:
        reply.write(word)
        await asyncio.sleep(0.05)  # the model's pace: the answer outlives the stream
    await reply.finish(blocks=feedback_blocks("gpt-test"))
    [message] = slack.bot_replies("C1", root["ts"])
    assert message["text"] == "".join(words) and not message["streaming"]
    assert slack.feedback_buttons("C1", message["ts"]) is not None
    assert len(slack.calls_to("chat.startStream")) == 1  # no second stream
    cut = [c for c in slack.calls if c.response.get("error") == "message_not_in_streaming_state"]
    assert cut and slack.calls_to("chat.update")


async def test_a_stream_cut_off_before_the_end_still_gets_its_buttons(slack, door):
    slack.stream_ttl = 0.2
    root = slack.add_message("C1", "question")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=0.05)
    reply.write("All of it.")
    await shown(slack, root, "All of it.")
    await slack.wait_for(lambda: not slack.bot_replies("C1", root["ts"])[0]["streaming"])
    await reply.finish(blocks=feedback_blocks("gpt-test"))
    [message] = slack.bot_replies("C1", root["ts"])
    assert message["text"] == "All of it."
    assert slack.feedback_buttons("C1", message["ts"]) is not None

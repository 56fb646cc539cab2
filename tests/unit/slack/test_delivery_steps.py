"""An answer's steps delivered with its words, against the fake Slack: task cards in a
stream, a context block on a posted answer."""

from __future__ import annotations

import asyncio

import pytest

from slackgpt.slack.blocks import feedback_blocks
from slackgpt.slack.delivery import Delivery
from slackgpt.slack.events import Target
from slackgpt.slack.tasks import DONE, FAILED, Step

pytestmark = pytest.mark.timeout(20)


def reply_to(slack, door, **kw) -> tuple[dict, Delivery]:
    root = slack.add_message("C1", "question", user="U1")
    return root, Delivery(door, Target("C1", root["ts"], "U1", "T1"), **kw)


async def test_steps_go_in_order_with_the_words_in_one_stream(slack, door):
    root, reply = reply_to(slack, door, interval=10)
    reply.show(Step("s1", "Searching Slack", details="deploy"))  # the first thing shown
    await slack.wait_for(lambda: slack.bot_replies("C1", root["ts"]))
    reply.write("Found it: ")
    reply.show(Step("s1", "Searched Slack", DONE, "deploy", "2 results",
                    (("#general", "https://t.slack.com/archives/C2/p1"),)))
    reply.write("Friday.")
    await reply.finish()

    [message] = slack.bot_replies("C1", root["ts"])
    assert message["text"] == "Found it: Friday."
    stored = slack.state.stored("C1", message["ts"])
    assert [c["type"] for c in stored.chunks] == [
        "task_update", "markdown_text", "task_update", "markdown_text"]
    [card] = slack.tasks("C1", message["ts"])
    assert (card["title"], card["status"], card["details"]) == ("Searched Slack", DONE, "deploy")
    assert card["sources"] == [{"type": "url", "url": "https://t.slack.com/archives/C2/p1",
                                "text": "#general"}]
    assert [c.method for c in slack.calls] == ["chat.startStream", "chat.stopStream"]


async def test_a_posted_answer_shows_its_steps_as_a_context_block(slack, door):
    slack.fail("chat.startStream", "channel_type_not_supported", times=None)
    root, reply = reply_to(slack, door, interval=0)
    reply.write("Looking.")
    await slack.wait_for(lambda: slack.bot_replies("C1", root["ts"]))
    reply.show(Step("s1", "Searching Slack"))
    await slack.wait_for(lambda: any(
        b["type"] == "context" for b in slack.bot_replies("C1", root["ts"])[0].get("blocks") or []))
    reply.show(Step("s1", "Searching Slack", FAILED, output="timed out"))
    reply.write(" Nothing found.")
    await reply.finish(blocks=feedback_blocks("gpt-test"))

    [message] = slack.bot_replies("C1", root["ts"])
    assert message["text"] == "Looking. Nothing found."
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["markdown", "context", "context_actions"]
    assert message["blocks"][1]["elements"][0]["text"] == ":warning: Searching Slack: timed out"


async def test_steps_before_any_words_wait_for_them_on_a_posted_answer(slack, door):
    slack.fail("chat.startStream", "channel_type_not_supported", times=None)
    root, reply = reply_to(slack, door, interval=0)
    reply.show(Step("s1", "Searching Slack"))
    reply.show(Step("s1", "Searched Slack", DONE, output="1 result"))
    reply.write("It is Friday.")
    await reply.finish()
    [message] = slack.bot_replies("C1", root["ts"])
    assert message["text"] == "It is Friday."
    assert message["blocks"][-1]["elements"][0]["text"] == (
        ":white_check_mark: Searched Slack: 1 result")
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_the_first_words_after_steps_go_at_once(slack, door):
    root, reply = reply_to(slack, door, interval=10)  # no second update for 10 s
    reply.show(Step("s1", "Searching Slack"))
    await slack.wait_for(lambda: slack.bot_replies("C1", root["ts"]))
    reply.show(Step("s1", "Searched Slack", DONE))  # waits for the interval
    reply.write("Friday.")  # the answer's first words: at once, with the step before them
    await slack.wait_for(lambda: slack.bot_text("C1", root["ts"]) == "Friday.")
    assert [c["status"] for c in slack.tasks("C1", slack.bot_replies("C1", root["ts"])[0]["ts"])
            ] == [DONE]
    await reply.finish()
    assert [c.method for c in slack.calls] == [
        "chat.startStream", "chat.appendStream", "chat.stopStream"]


async def test_words_written_while_the_first_ones_go_out_keep_the_pace(slack, door):
    slack.web.latency = 0.1  # the first words take a round trip to land
    root, reply = reply_to(slack, door, interval=10)
    reply.write("Hello")
    await slack.wait_for(lambda: slack.calls_to("chat.startStream"))
    reply.write(", world")  # while the stream starts: no hurry for these
    await slack.wait_for(lambda: slack.bot_text("C1", root["ts"]) == "Hello")
    await asyncio.sleep(0.3)  # a negative check: no second update within the interval
    assert not slack.calls_to("chat.appendStream")
    await reply.finish()
    assert slack.bot_text("C1", root["ts"]) == "Hello, world"

"""Delivery into a thread, driven directly against the fake Slack's Web API."""

from __future__ import annotations

import asyncio

import pytest

from slackgpt.assistant import feedback_blocks
from slackgpt.delivery import Delivery
from slackgpt.events import Target
from slackgpt.formatting import open_fence
from slackgpt.slack_api import SlackApi


@pytest.fixture
async def client(slack):
    """The bot's Slack door, pointed at the fake Slack."""
    door = SlackApi(slack.bot_token, slack.api_url)
    yield door
    await door.close()


def thread_text(slack, root) -> list[str]:
    return [m["text"] for m in slack.bot_replies("C1", root["ts"])]


async def test_short_reply_is_one_stream_ended_with_its_last_text(slack, client):
    root = slack.add_message("C1", "question")
    reply = Delivery(client, Target("C1", root["ts"], "U1", "T1"), interval=10)
    reply.write("Hello")
    await asyncio.sleep(0.05)  # the first words go out at once
    reply.write(", world")
    await reply.finish()
    assert thread_text(slack, root) == ["Hello, world"]
    methods = [c.method for c in slack.calls]
    assert methods == ["chat.startStream", "chat.stopStream"]  # no call per token
    assert slack.calls_to("chat.stopStream")[0].params["markdown_text"] == ", world"


async def test_long_code_block_is_split_and_each_message_renders(slack, client):
    root = slack.add_message("C1", "question")
    reply = Delivery(client, Target("C1", root["ts"], "U1", "T1"), interval=0, limit=600)
    code = "\n".join(f"line_{i} = {i}" for i in range(150))
    for piece in ["Here:\n\n```python\n", code, "\n```\nThat's all."]:
        reply.write(piece)
    await reply.finish()
    parts = thread_text(slack, root)
    assert len(parts) > 3
    assert all(len(p) <= 600 for p in parts)
    assert all(open_fence(p) == "" for p in parts)
    lines = [ln for p in parts for ln in p.split("\n") if ln.startswith("line_")]
    assert lines == code.split("\n")
    assert parts[-1].endswith("That's all.")


async def test_markdown_block_refused_falls_back_to_mrkdwn_text(slack, client):
    root = slack.add_message("C1", "question")
    slack.fail("chat.startStream", "not_allowed")
    slack.fail("chat.postMessage", "invalid_blocks")
    reply = Delivery(client, Target("C1", root["ts"], "U1", "T1"), interval=0)
    reply.write("**bold** and [link](https://a.io)")
    await reply.finish()
    assert thread_text(slack, root) == ["*bold* and <https://a.io|link>"]


async def test_dm_streams_without_recipient(slack, client):
    root = slack.add_message("D1", "question")
    reply = Delivery(client, Target("D1", root["ts"], "U1", "T1"))
    reply.write("hi")
    await reply.finish()
    start = slack.calls_to("chat.startStream")[0].params
    assert "recipient_user_id" not in start and "recipient_team_id" not in start


BUTTONS = feedback_blocks("gpt-test")


async def test_the_end_blocks_ride_on_the_last_stop_stream(slack, client):
    root = slack.add_message("C1", "question")
    reply = Delivery(client, Target("C1", root["ts"], "U1", "T1"), interval=10)
    reply.write("Hello")
    await asyncio.sleep(0.05)
    reply.write(", world")
    await reply.finish(blocks=BUTTONS)
    assert [c.method for c in slack.calls] == ["chat.startStream", "chat.stopStream"]
    stop = slack.calls_to("chat.stopStream")[0].params
    assert stop["markdown_text"] == ", world" and stop["blocks"] == BUTTONS
    [answer] = slack.bot_replies("C1", root["ts"])
    assert slack.feedback_buttons("C1", answer["ts"]) and answer["text"] == "Hello, world"


async def test_the_end_blocks_come_with_the_stop_when_nothing_is_left_to_send(slack, client):
    root = slack.add_message("C1", "question")
    reply = Delivery(client, Target("C1", root["ts"], "U1", "T1"), interval=0)
    reply.write("All of it.")
    await slack.wait_for(lambda: slack.calls_to("chat.startStream"))
    await reply.finish(blocks=BUTTONS)
    stop = slack.calls_to("chat.stopStream")[-1].params
    assert "markdown_text" not in stop and stop["blocks"] == BUTTONS


async def test_posted_answers_get_them_with_one_more_paced_update(slack, client):
    root = slack.add_message("C1", "question")
    slack.fail("chat.startStream", "not_allowed")
    reply = Delivery(client, Target("C1", root["ts"], "U1", "T1"), interval=0.3)
    reply.write("Posted.")
    await slack.wait_for(lambda: slack.calls_to("chat.postMessage"))
    await reply.finish(blocks=BUTTONS)
    post, update = slack.calls_to("chat.postMessage")[0], slack.calls_to("chat.update")[0]
    assert len(post.params["blocks"]) == 1  # the markdown block alone while it may grow
    assert update.params["blocks"][1:] == BUTTONS and update.at - post.at >= 0.25
    assert slack.bot_text("C1", root["ts"]) == "Posted."


async def test_refused_end_blocks_never_cost_the_answer(slack, client):
    root = slack.add_message("C1", "question")
    slack.fail("chat.stopStream", "invalid_blocks")
    reply = Delivery(client, Target("C1", root["ts"], "U1", "T1"), interval=10)
    reply.write("Kept")
    await asyncio.sleep(0.05)
    reply.write(" whole.")
    await reply.finish(blocks=BUTTONS)
    [answer] = slack.bot_replies("C1", root["ts"])
    assert (answer["text"], answer["streaming"]) == ("Kept whole.", False)
    assert slack.feedback_buttons("C1", answer["ts"]) is None
    assert [c.params.get("blocks") for c in slack.calls_to("chat.stopStream")] == [BUTTONS, None]


async def test_a_stopped_answer_gets_no_buttons(slack, client):
    root = slack.add_message("C1", "question")
    reply = Delivery(client, Target("C1", root["ts"], "U1", "T1"), interval=0)
    reply.write("Start")
    await slack.wait_for(lambda: slack.calls_to("chat.startStream"))
    slack.stop_by_user("C1", slack.bot_replies("C1", root["ts"])[0]["ts"])
    reply.write(" and more")
    await reply.finish(blocks=BUTTONS)
    assert reply.stopped_by_user
    assert not slack.calls_to("chat.update")
    assert slack.feedback_buttons("C1", slack.bot_replies("C1", root["ts"])[0]["ts"]) is None

"""Delivery into a thread, driven directly against the fake Slack's Web API."""

from __future__ import annotations

import asyncio

import pytest

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

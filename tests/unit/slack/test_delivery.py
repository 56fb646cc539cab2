"""Delivery into a thread, driven directly against the fake Slack's Web API."""

from __future__ import annotations

import asyncio

from slackgpt.formatting import open_fence
from slackgpt.slack.api import SlackApi
from slackgpt.slack.blocks import feedback_blocks
from slackgpt.slack.delivery import Delivery
from slackgpt.slack.events import Target
from slackgpt.slack.quota import Quota


def thread_text(slack, root) -> list[str]:
    return [m["text"] for m in slack.bot_replies("C1", root["ts"])]


async def test_short_reply_is_one_stream_ended_with_its_last_text(slack, door):
    root = slack.add_message("C1", "question")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=10)
    reply.write("Hello")
    await slack.wait_for(lambda: thread_text(slack, root))  # the first words go out at once
    reply.write(", world")
    await reply.finish()
    assert thread_text(slack, root) == ["Hello, world"]
    methods = [c.method for c in slack.calls]
    assert methods == ["chat.startStream", "chat.stopStream"]  # no call per token
    assert slack.calls_to("chat.stopStream")[0].params["markdown_text"] == ", world"


async def test_long_code_block_is_split_and_each_message_renders(slack, door):
    root = slack.add_message("C1", "question")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=0, limit=600)
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


async def test_markdown_block_refused_falls_back_to_mrkdwn_text(slack, door):
    root = slack.add_message("C1", "question")
    slack.fail("chat.startStream", "not_allowed")
    slack.fail("chat.postMessage", "invalid_blocks")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=0)
    reply.write("**bold** and [link](https://a.io)")
    await reply.finish()
    assert thread_text(slack, root) == ["*bold* and <https://a.io|link>"]


async def test_dm_streams_without_recipient(slack, door):
    root = slack.add_message("D1", "question")
    reply = Delivery(door, Target("D1", root["ts"], "U1", "T1"))
    reply.write("hi")
    await reply.finish()
    start = slack.calls_to("chat.startStream")[0].params
    assert "recipient_user_id" not in start and "recipient_team_id" not in start


BUTTONS = feedback_blocks("gpt-test")


async def test_the_end_blocks_ride_on_the_last_stop_stream(slack, door):
    root = slack.add_message("C1", "question")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=10)
    reply.write("Hello")
    await slack.wait_for(lambda: thread_text(slack, root))
    reply.write(", world")
    await reply.finish(blocks=BUTTONS)
    assert [c.method for c in slack.calls] == ["chat.startStream", "chat.stopStream"]
    stop = slack.calls_to("chat.stopStream")[0].params
    assert stop["markdown_text"] == ", world" and stop["blocks"] == BUTTONS
    [answer] = slack.bot_replies("C1", root["ts"])
    assert slack.feedback_buttons("C1", answer["ts"]) and answer["text"] == "Hello, world"


async def test_the_end_blocks_come_with_the_stop_when_nothing_is_left_to_send(slack, door):
    root = slack.add_message("C1", "question")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=0)
    reply.write("All of it.")
    await slack.wait_for(lambda: slack.calls_to("chat.startStream"))
    await reply.finish(blocks=BUTTONS)
    stop = slack.calls_to("chat.stopStream")[-1].params
    assert "markdown_text" not in stop and stop["blocks"] == BUTTONS


async def test_posted_answers_get_them_with_one_more_paced_update(slack, door):
    root = slack.add_message("C1", "question")
    slack.fail("chat.startStream", "not_allowed")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=0.3)
    reply.write("Posted.")
    await slack.wait_for(lambda: slack.calls_to("chat.postMessage"))
    await reply.finish(blocks=BUTTONS)
    post, update = slack.calls_to("chat.postMessage")[0], slack.calls_to("chat.update")[0]
    assert len(post.params["blocks"]) == 1  # the markdown block alone while it may grow
    assert update.params["blocks"][1:] == BUTTONS
    done = [c.method for c in slack.calls if c.response.get("ok")]
    assert done == ["chat.postMessage", "chat.update"]  # the buttons: one update, after
    assert slack.bot_text("C1", root["ts"]) == "Posted."


async def test_refused_end_blocks_never_cost_the_answer(slack, door):
    root = slack.add_message("C1", "question")
    slack.fail("chat.stopStream", "invalid_blocks")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=10)
    reply.write("Kept")
    await slack.wait_for(lambda: thread_text(slack, root))
    reply.write(" whole.")
    await reply.finish(blocks=BUTTONS)
    [answer] = slack.bot_replies("C1", root["ts"])
    assert (answer["text"], answer["streaming"]) == ("Kept whole.", False)
    assert slack.feedback_buttons("C1", answer["ts"]) is None
    assert [c.params.get("blocks") for c in slack.calls_to("chat.stopStream")] == [BUTTONS, None]


async def test_a_stopped_answer_gets_no_buttons(slack, door):
    root = slack.add_message("C1", "question")
    reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=0)
    reply.write("Start")
    await slack.wait_for(lambda: slack.calls_to("chat.startStream"))
    slack.stop_by_user("C1", slack.bot_replies("C1", root["ts"])[0]["ts"])
    reply.write(" and more")
    await reply.finish(blocks=BUTTONS)
    assert reply.stopped_by_user
    assert not slack.calls_to("chat.update")
    assert slack.feedback_buttons("C1", slack.bot_replies("C1", root["ts"])[0]["ts"]) is None


# Slack's budgets ------------------------------------------------------------------------------


def tight(slack, **per_minute: int) -> SlackApi:
    """A door whose budgets are the given per-minute counts (names with _ for .)."""
    budgets = {name.replace("_", "."): count for name, count in per_minute.items()}
    return SlackApi(slack.bot_token, slack.api_url, quota=Quota(per_minute=budgets, per_channel={}))


async def test_with_streams_used_up_the_answer_is_posted_and_updated(slack):
    door = tight(slack, chat_startStream=1, chat_stopStream=1)
    try:
        first, second = (slack.add_message("C1", q) for q in ("one", "two"))
        for root in (first, second):
            reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=0)
            reply.write("Hello")
            await slack.wait_for(lambda r=root: thread_text(slack, r))
            reply.write(", world")
            await reply.finish()
            assert thread_text(slack, root) == ["Hello, world"]
    finally:
        await door.close()
    assert len(slack.calls_to("chat.startStream")) == 1  # the second never tried to stream
    assert slack.calls_to("chat.postMessage") and slack.calls_to("chat.update")


async def test_the_last_update_is_reserved_when_the_answer_is_posted(slack):
    door = tight(slack, chat_startStream=0, chat_stopStream=0, chat_update=1)
    try:
        root = slack.add_message("C1", "question")
        reply = Delivery(door, Target("C1", root["ts"], "U1", "T1"), interval=0)
        reply.write("First words")
        await slack.wait_for(lambda: thread_text(slack, root))
        reply.write(" and the rest.")
        # A negative check: no budget for an update in between, so none goes out in this
        # moment (with budget, it would within a loop turn or two) and the text gathers.
        await asyncio.sleep(0.1)
        assert thread_text(slack, root) == ["First words"]
        await reply.finish()  # the reserved update carries the end without waiting
    finally:
        await door.close()
    assert thread_text(slack, root) == ["First words and the rest."]
    assert len(slack.calls_to("chat.update")) == 1


async def test_with_no_update_left_the_rest_goes_in_a_new_message(slack):
    door = tight(slack, chat_startStream=0, chat_stopStream=0, chat_update=1)
    try:
        first = slack.add_message("C1", "first")
        await door.quota.take("chat.update")  # someone else used the minute's only update
        reply = Delivery(door, Target("C1", first["ts"], "U1", "T1"), interval=0)
        reply.write("Start")
        await slack.wait_for(lambda: thread_text(slack, first))
        reply.write(" and end.")
        await reply.finish()
    finally:
        await door.close()
    assert "".join(thread_text(slack, first)) == "Start and end."
    assert not slack.calls_to("chat.update")


async def test_a_429_that_comes_anyway_is_waited_out_and_remembered(slack):
    door = SlackApi(slack.bot_token, slack.api_url)
    try:
        root = slack.add_message("C1", "question")
        slack.fail("chat.update", status=429, retry_after=1)
        message = await door.post_markdown(Target("C1", root["ts"]), "one")
        await door.update_markdown("C1", message, "one two")
    finally:
        await door.close()
    assert thread_text(slack, root) == ["one two"]
    assert [c.status for c in slack.calls_to("chat.update")] == [429, 200]
    assert door.quota.interval("chat.update", 0.0) == 0.0 and door.quota.cost("chat.update") == 2

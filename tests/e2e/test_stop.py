"""End to end: the agent session's stop button. A click (by anyone in the thread) ends the
answer in progress: what was shown stays, marked stopped; the model's request is closed (no
more tokens paid); the session leaves processing. Order is asserted, never wall-clock time
(the time it takes is bench/stop.py's figure)."""

from __future__ import annotations

import logging

import pytest

from fakes.openai import Reply
from slackgpt.answering.prompt import STOPPED
from tests.helpers import until_handled, watch

pytestmark = pytest.mark.timeout(30)

CHANNEL = "C1"
SLOW = Reply(chunks=[f"word{i} " for i in range(200)], token_delay=0.05)  # 10 s of words


async def processing(slack, channel: str, thread_ts: str) -> None:
    await slack.wait_for(lambda: slack.session_statuses(channel, thread_ts)[-1:] == ["processing"])


async def test_a_stop_click_ends_the_answer_keeps_its_text_and_closes_the_model(
    slack, llm, bot, caplog
):
    caplog.set_level(logging.INFO, logger="slackgpt")
    answers = watch([bot.answerer], "answer")
    llm.script(SLOW)
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> talk for a while")
    thread = (CHANNEL, question["ts"])
    await processing(slack, *thread)
    await slack.wait_for(lambda: "word3 " in slack.bot_text(*thread))

    shown = slack.bot_text(*thread)
    clicked = len(slack.calls)
    await slack.acked(await slack.click_stop(*thread, user="U2"))  # not the asker: anyone
    await until_handled(answers, 1)

    [reply] = slack.bot_replies(*thread)
    assert reply["text"] == shown + STOPPED and not reply["streaming"]
    await llm.wait_for_requests(1)
    await slack.wait_for(lambda: llm.streams)
    [model] = llm.streams
    assert model.outcome == "aborted" and model.content_chunks < 200  # no more tokens paid
    assert slack.session_statuses(*thread)[-1] == "active"
    after = slack.calls[clicked:]
    assert not [c for c in after if c.method == "chat.appendStream" and c.response["ok"]]
    assert {c.method for c in after} <= {
        "chat.appendStream", "chat.update", "agents.sessions.setStatus", "chat.stopStream"
    }
    said = [r.getMessage() for r in caplog.records if "stopped the answer" in r.getMessage()]
    assert said == [f"U2 stopped the answer to U1 in {CHANNEL}/{question['ts']}"]


async def test_a_stop_while_the_model_thinks_ends_before_any_words(slack, llm, bot):
    answers = watch([bot.answerer], "answer")
    llm.script(Reply(text="Too late.", first_token_delay=20))
    question = await slack.dm("think hard", channel=slack.im_of("U1"))
    thread = (question["channel"], question["ts"])
    await processing(slack, *thread)
    await llm.wait_for_requests(1)

    await slack.acked(await slack.click_stop(*thread))
    await until_handled(answers, 1)

    assert [r["text"] for r in slack.bot_replies(*thread)] == [STOPPED.strip()]
    await slack.wait_for(lambda: llm.streams)
    assert [(s.outcome, s.content_chunks) for s in llm.streams] == [("aborted", 0)]
    assert slack.session_statuses(*thread)[-1] == "active"


async def test_slack_stopping_the_stream_first_ends_the_answer_the_same_way(slack, llm, bot):
    """The click stops the stream at once; the bot may see its next append refused before
    the event arrives: the answer ends all the same, marked, the session active."""
    answers = watch([bot.answerer], "answer")
    llm.script(SLOW)
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> talk")
    thread = (CHANNEL, question["ts"])
    await processing(slack, *thread)
    await slack.wait_for(lambda: "word3 " in slack.bot_text(*thread))
    [ts] = [m["ts"] for m in slack.bot_replies(*thread)]
    shown = slack.bot_text(*thread)
    slack.stop_by_user(CHANNEL, ts)  # the event is not sent (yet)
    await until_handled(answers, 1)
    assert slack.bot_text(*thread) == shown + STOPPED
    assert slack.session_statuses(*thread)[-1] == "active"
    await slack.wait_for(lambda: llm.streams)
    assert llm.streams[0].outcome == "aborted"


async def test_a_stop_with_no_answer_here_still_ends_processing(slack, llm, bot):
    """The answer runs in another copy (or is over): this one moves the session on."""
    root = slack.add_message(CHANNEL, "a thread")
    await bot.slack.call("agents.sessions.setStatus", channel_id=CHANNEL,
                         thread_ts=root["ts"], status="processing")
    await slack.acked(await slack.click_stop(CHANNEL, root["ts"]))
    await slack.wait_for(lambda: slack.session_statuses(CHANNEL, root["ts"])[-1] == "active")
    assert not slack.bot_replies(CHANNEL, root["ts"])

"""End to end: Slack's agent sessions around each answer. Where the app is declared as an
agent, the thread's session is processing while the bot works (the stop button shows) and
active once the answer is done, and the question that opens it names it; elsewhere answers
go on exactly as before, and the log says why once."""

from __future__ import annotations

import logging

import pytest

from fakes.openai import Reply
from slackgpt.answering.stream import STATUS

pytestmark = pytest.mark.timeout(30)

CHANNEL = "C1"


def session_calls(slack) -> list[dict]:
    return [c.params for c in slack.calls if c.method.startswith("agents.sessions.")]


async def test_a_session_is_processing_while_the_bot_answers_then_active(slack, llm, bot):
    llm.script(Reply(chunks=["One ", "two ", "three."], token_delay=0.1))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> count to three\nslowly")
    await slack.answered(CHANNEL, question["ts"])

    key = (CHANNEL, question["ts"])
    await slack.wait_for(lambda: slack.session_statuses(*key)[-1:] == ["active"])
    assert slack.session_statuses(*key) == ["processing", "active"]
    assert slack.sessions[key].title == "count to three"  # its first line, as pane titles
    [processing] = session_calls(slack)  # active came with the stream's stop: no extra call
    assert processing["status"] == "processing" and processing["thread_ts"] == question["ts"]
    methods = [c.method for c in slack.calls]
    assert methods.index("agents.sessions.setStatus") < methods.index("chat.startStream")
    [stop] = slack.calls_to("chat.stopStream")
    assert stop.params["session_status"] == "active"
    assert slack.statuses[0].status == STATUS  # the "is thinking…" line as before


async def test_a_follow_up_works_in_the_same_session_without_renaming_it(slack, llm, bot):
    llm.script(Reply(text="First."), Reply(text="Second."))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> first question")
    await slack.answered(CHANNEL, question["ts"])
    key = (CHANNEL, question["ts"])
    await slack.wait_for(lambda: slack.session_statuses(*key)[-1:] == ["active"])
    follow_up = slack.add_message(CHANNEL, "and then?", thread_ts=question["ts"])
    await slack.send_event({**follow_up, "type": "message", "channel_type": "channel",
                            "event_ts": follow_up["ts"]})
    await slack.answered(CHANNEL, question["ts"], count=2)
    await slack.wait_for(lambda: len(slack.session_statuses(*key)) == 4)
    assert slack.session_statuses(*key) == ["processing", "active"] * 2
    assert slack.sessions[key].title == "first question"
    assert not slack.calls_to("agents.sessions.rename")


async def test_a_long_answer_keeps_the_session_processing_until_its_last_message(
    slack, llm, bot
):
    slack.stream_max_chars = 40  # Slack refuses more in one stream: the rest, a new message
    llm.script(Reply(chunks=[f"word{i:02d} " for i in range(20)], token_delay=0.02))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> many words")
    await slack.wait_for(lambda: "word19" in slack.bot_text(CHANNEL, question["ts"]), timeout=10)
    await slack.answered(CHANNEL, question["ts"])

    key = (CHANNEL, question["ts"])
    await slack.wait_for(lambda: slack.session_statuses(*key)[-1:] == ["active"])
    statuses = slack.session_statuses(*key)
    assert statuses[0] == "processing" and statuses[-1] == "active"
    assert "active" not in statuses[:-1]  # no stop button lost half-way


async def test_an_answer_posted_instead_of_streamed_still_ends_the_session(slack, llm, bot):
    slack.fail("chat.startStream", "channel_type_not_supported", times=None)
    llm.script(Reply(text="Posted answer."))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> post it")
    [reply] = await slack.answered(CHANNEL, question["ts"])
    assert reply["text"] == "Posted answer."
    key = (CHANNEL, question["ts"])
    await slack.wait_for(lambda: slack.session_statuses(*key)[-1:] == ["active"])
    assert [c["status"] for c in session_calls(slack)] == ["processing", "active"]


async def test_a_failed_answer_ends_the_session_too(slack, llm, bot):
    llm.script(Reply(status=500))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> fail")
    [reply] = await slack.answered(CHANNEL, question["ts"])
    assert reply["text"].startswith(":warning:")
    key = (CHANNEL, question["ts"])
    await slack.wait_for(lambda: slack.session_statuses(*key)[-1:] == ["active"])
    assert slack.session_statuses(*key) == ["processing", "active"]


@pytest.mark.parametrize("refusal", ["feature_disabled", "not_agent_app"])
async def test_a_workspace_without_agents_gets_the_old_status_and_one_log_line(
    slack, llm, bot, caplog, refusal
):
    slack.agent, slack.agent_refusal = False, refusal
    caplog.set_level(logging.INFO, logger="slackgpt")
    questions = []
    for i in range(3):
        llm.script(Reply(text=f"Answer {i}."))
        questions.append(await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> q{i}"))
        replies = await slack.answered(CHANNEL, questions[-1]["ts"])
        assert [r["text"] for r in replies] == [f"Answer {i}."]

    assert len(slack.calls_to("agents.sessions.setStatus")) == 1  # learned from the first
    assert [s.thread_ts for s in slack.statuses] == [q["ts"] for q in questions]
    assert all(s.status == STATUS for s in slack.statuses)
    assert "session_status" not in slack.calls_to("chat.stopStream")[-1].params
    said = [r for r in caplog.records if "no agent sessions" in r.getMessage()]
    assert len(said) == 1 and refusal in said[0].getMessage()
    assert slack.sessions == {}


async def test_without_the_stop_event_the_log_says_so_once(slack, llm, bot, caplog):
    slack.events.discard("agent_session_stopped")
    caplog.set_level(logging.INFO, logger="slackgpt")
    for i in range(2):
        llm.script(Reply(text=f"Answer {i}."))
        question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> q{i}")
        await slack.answered(CHANNEL, question["ts"])
        key = (CHANNEL, question["ts"])
        await slack.wait_for(lambda k=key: slack.session_statuses(*k)[-1:] == ["active"])
    said = [r for r in caplog.records if "agent_session_stopped" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "WARNING"

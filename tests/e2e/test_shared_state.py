"""End to end: two copies of the real bot on one fake Slack, sharing one Redis (REDIS_URL).

The fake Slack hands consecutive events to the two sockets in turn, so a question and its
follow-up land on different copies. What each copy did is seen through a spy on its memory
(the real RedisState underneath; the Redis server is a real one the test starts).
"""

from __future__ import annotations

import logging
import socket

import pytest
import redis.asyncio as aioredis

from fakes.openai import Reply
from fakes.redis_server import HOST, start_redis
from slackgpt.config.values import AccessRules
from slackgpt.runtime import Runtime, StartupError
from slackgpt.slack.quota import PER_MINUTE, Quota
from tests.helpers import (
    Watched,
    ask,
    env_for,
    finished,
    mention_event,
    open_pane,
    run_app,
    thread_reply,
    until,
    until_handled,
    watch,
)

pytestmark = pytest.mark.timeout(30)

CHANNEL = "C1"


async def two_copies(start_bot, redis_url: str | None, **changes: object) -> list[Runtime]:
    """Two copies of the bot; with ``redis_url`` they share a memory."""
    return [await start_bot(redis_url=redis_url, **changes) for _ in range(2)]


def spy(copies: list[Runtime], method: str) -> list[tuple[int, object]]:
    """Record (copy, result) of every call of the memory's ``method`` on each copy."""
    seen: list[tuple[int, object]] = []
    for number, runtime in enumerate(copies):
        real = getattr(runtime.state, method)

        async def recorded(*args: object, _number: int = number, _real=real) -> object:
            result = await _real(*args)
            seen.append((_number, result))
            return result

        setattr(runtime.state, method, recorded)
    return seen


def answers_of(copies: list[Runtime]) -> Watched:
    """The events each copy takes as a question, watched (see tests.helpers.watch)."""
    return watch([copy.answerer for copy in copies], "answer")


def dead_url() -> str:
    """A Redis URL where nothing listens."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return f"redis://{HOST}:{probe.getsockname()[1]}/0"


# -- exactly once -----------------------------------------------------------------------------


async def test_a_redelivered_event_is_answered_once_and_claimed_once(
    slack, llm, start_bot, redis_url
):
    copies = await two_copies(start_bot, redis_url)
    claims, handled = spy(copies, "claim"), answers_of(copies)
    llm.script(Reply(text="exactly once", first_token_delay=0.2))
    message = slack.add_message(CHANNEL, f"<@{slack.bot_user_id}> once?")
    event = mention_event(slack, message)
    await slack.send_event(event, event_id="Ev1")
    await slack.send_event(event, event_id="Ev1", retry_attempt=1, retry_reason="timeout")
    await slack.answered(CHANNEL, message["ts"])
    await until_handled(handled, 2)  # both deliveries are over
    assert sorted(claims) == [(0, True), (1, False)] or sorted(claims) == [(0, False), (1, True)]
    assert len(llm.requests) == 1  # the loser stopped before asking the model
    assert slack.bot_text(CHANNEL, message["ts"]) == "exactly once"
    assert len(slack.calls_to("chat.startStream")) == 1
    assert len(slack.calls_to("reactions.add")) == 1  # the 👀 is still shown, once
    assert slack.reactions[(CHANNEL, message["ts"])] == {"eyes"}


async def test_one_message_as_two_events_is_answered_once(slack, llm, start_bot, redis_url):
    copies = await two_copies(start_bot, redis_url)
    handled = answers_of(copies)
    message = slack.add_message(CHANNEL, f"<@{slack.bot_user_id}> twin events")
    await slack.send_event(mention_event(slack, message), event_id="EvA")
    await slack.send_event({**mention_event(slack, message), "type": "message",
                            "channel_type": "im"}, event_id="EvB")
    await slack.answered(CHANNEL, message["ts"])
    await until_handled(handled, 2)
    assert len(llm.requests) == 1
    assert len(slack.bot_replies(CHANNEL, message["ts"])) == 1
    assert len(slack.calls_to("reactions.add")) == 1


async def test_with_the_reaction_budget_spent_the_answer_goes_on_without_the_eyes(
    slack, llm, start_bot, redis_url
):
    tight = Quota(per_minute={**PER_MINUTE, "reactions.add": 1})
    await start_bot(redis_url=redis_url, quota=tight)
    first = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> one")
    await slack.answered(CHANNEL, first["ts"])
    second = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> two")
    replies = await slack.answered(CHANNEL, second["ts"], timeout=5)  # no wait for a minute
    assert replies[0]["text"].startswith("You said")
    assert slack.reactions.get((CHANNEL, first["ts"])) == {"eyes"}
    assert not slack.reactions.get((CHANNEL, second["ts"]))
    assert len(slack.calls_to("reactions.add")) == 1


async def test_redis_down_mid_run_neither_drops_nor_doubles_a_question(
    slack, llm, start_bot, caplog
):
    server = start_redis()
    try:
        copies = await two_copies(start_bot, server.url)
    finally:
        server.stop()  # the store goes away while both copies run
    handled = answers_of(copies)
    caplog.set_level(logging.WARNING)
    # Both copies may ask the model at once (the loser's request is cancelled once the 👀
    # says the other has it), in either order: every request gets the same reply.
    llm.default = lambda body: Reply(text="still here", first_token_delay=0.2)
    message = slack.add_message(CHANNEL, f"<@{slack.bot_user_id}> anyone?")
    await slack.send_event(mention_event(slack, message), event_id="EvA")
    await slack.send_event({**mention_event(slack, message), "type": "message",
                            "channel_type": "im"}, event_id="EvB")
    await slack.answered(CHANNEL, message["ts"], timeout=10)
    await until_handled(handled, 2)
    assert [r["text"] for r in slack.bot_replies(CHANNEL, message["ts"])] == ["still here"]
    assert len(slack.calls_to("chat.startStream")) == 1  # the 👀 claimed it, as without Redis
    assert slack.reactions[(CHANNEL, message["ts"])] == {"eyes"}
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("REDIS_URL" in line and "cannot be reached" in line for line in said)


# -- memory -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "no-store"])
async def test_a_thread_learned_by_one_copy_costs_the_other_no_read(
    slack, llm, start_bot, redis_url, shared
):
    copies = await two_copies(start_bot, redis_url if shared else None)
    looked, handled = spy(copies, "thread_has_bot"), answers_of(copies)
    theirs = slack.add_message(CHANNEL, "lunch?", user="U2")
    for n, text in enumerate(("sure", "noon?"), start=1):
        await thread_reply(slack, theirs, text)
        await until_handled(handled, n)  # its read, if any, is done
    reads = [c for c in slack.calls_to("conversations.replies") if c.params["ts"] == theirs["ts"]]
    assert {copy for copy, _ in looked} == {0, 1}  # each reply reached another copy
    assert len(reads) == (1 if shared else 2)
    assert [known for _, known in looked] == ([None, False] if shared else [None, None])
    assert not llm.requests and not slack.bot_replies(CHANNEL, theirs["ts"])


async def test_a_follow_up_on_the_other_copy_knows_the_thread_is_the_bots(
    slack, llm, start_bot, redis_url
):
    copies = await two_copies(start_bot, redis_url)
    looked, claims = spy(copies, "thread_has_bot"), spy(copies, "claim")
    llm.script(Reply(text="Paris."), Reply(text="About 2.1 million."))
    root = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> capital of France?")
    await slack.answered(CHANNEL, root["ts"])
    reads_before = len(slack.calls_to("conversations.replies"))
    await thread_reply(slack, root, "and its population?")
    replies = await slack.answered(CHANNEL, root["ts"], count=2)
    assert replies[-1]["text"] == "About 2.1 million."
    assert len(looked) == 1 and looked[0][1] is True  # known, not learned
    assert len(slack.calls_to("conversations.replies")) == reads_before + 1  # the answer's read
    assert [result for _, result in claims] == [True, True]
    assert claims[0][0] != claims[1][0] == looked[0][0]  # answered by the other copy


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "no-store"])
async def test_the_hourly_limit_counts_across_copies(slack, llm, start_bot, redis_url, shared):
    copies = await two_copies(
        start_bot, redis_url if shared else None, access=AccessRules(requests_per_hour=2)
    )
    counted = spy(copies, "count_request")
    for i in range(2):
        question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> q{i}")
        await slack.answered(CHANNEL, question["ts"])
    third = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> q2")
    if shared:
        await slack.wait_for(lambda: slack.ephemerals)  # told privately
        assert len(llm.requests) == 2
        refusal = slack.ephemerals[0].text
        assert "limit of 2 questions an hour" in refusal and "ask again in about" in refusal
    else:  # each copy counted on its own: the third question got through
        answer = (await slack.answered(CHANNEL, third["ts"]))[0]["text"]
        assert len(llm.requests) == 3 and answer.startswith("You said")
    assert {copy for copy, _ in counted} == {0, 1}
    other = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> me too", user="U2")
    assert (await slack.answered(CHANNEL, other["ts"]))[0]["text"].startswith("You said")


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "no-store"])
async def test_the_channel_in_view_reaches_the_copy_that_answers(
    slack, llm, start_bot, redis_url, shared
):
    copies = await two_copies(start_bot, redis_url if shared else None)
    noted, asked = spy(copies, "remember_context"), spy(copies, "context_of")
    slack.add_channel("C1", name="general")
    slack.add_message("C1", "We ship the release on Friday.", user="U2")
    llm.script(Reply(text="Friday."))
    thread = await open_pane(slack, context_channel="C1")
    [answer] = await ask(slack, thread, "When do we ship?")
    assert answer["text"] == "Friday."
    assert [copy for copy, _ in noted] != [copy for copy, _ in asked]  # two copies
    read = " ".join(str(m["content"]) for m in llm.requests[0]["messages"])
    if shared:
        assert asked[0][1] == "C1" and "We ship the release on Friday." in read
        assert len(slack.calls_to("conversations.history")) == 1
    else:  # the copy that saw the pane open is not the one that answered
        assert asked[0][1] is None and "We ship the release" not in read
        assert not slack.calls_to("conversations.history")


# -- start-up ---------------------------------------------------------------------------------


async def test_redis_down_at_start_up_stops_the_bot_with_a_fix(slack, llm, start_bot):
    with pytest.raises(StartupError) as caught:
        await start_bot(redis_url=dead_url())
    message = str(caught.value)
    assert "could not reach the store at REDIS_URL (redis://127.0.0.1:" in message
    assert "correct REDIS_URL" in message and "unset REDIS_URL" in message
    assert caught.value.exit_code == 2
    assert not slack.calls  # nothing was started in Slack


async def test_app_py_with_redis_down_exits_2_with_the_message(slack, llm, tmp_path):
    env = {**env_for(slack, llm), "REDIS_URL": dead_url().replace("//", "//:pa55word-xyz@")}
    code, err = await finished(await run_app(env, tmp_path))
    assert code == 2, err
    assert "slackgpt cannot start: could not reach the store at REDIS_URL" in err
    assert "Traceback" not in err and "pa55word-xyz" not in err


async def test_app_py_answers_with_redis_and_says_so(slack, llm, tmp_path, redis_url):
    process = await run_app({**env_for(slack, llm), "REDIS_URL": redis_url}, tmp_path)
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> hello")
    await slack.answered(CHANNEL, question["ts"], timeout=15)
    process.terminate()
    code, err = await finished(process)
    assert code == 0, err
    assert "share their memory and Slack budgets through" in err


async def test_closing_the_bot_closes_its_redis_connections(slack, llm, start_bot, redis_url):
    raw = aioredis.from_url(redis_url)
    try:
        runtime = await start_bot(redis_url=redis_url)
        question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> hi")
        await slack.answered(CHANNEL, question["ts"])
        assert len(await raw.client_list()) > 1  # the bot's pool (memory and budgets)
        await runtime.close()
        async def only_ours() -> bool:  # the server notices closed sockets within a moment
            return len(await raw.client_list()) == 1

        await until(only_ours, timeout=2, what="the bot's Redis connections closed")
        assert len(await raw.client_list()) == 1  # only this test's own
    finally:
        await raw.aclose()

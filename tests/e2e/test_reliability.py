"""End to end with injected faults: exactly once, Slack errors, reconnects, shutdown, bad input."""

from __future__ import annotations

import asyncio
import signal

from fakes.openai import Reply
from slackgpt.slack.quota import PER_MINUTE, Quota
from tests.helpers import env_for, finished, mention_event, run_app, until_handled, watch

CHANNEL = "C1"


# Exactly once ---------------------------------------------------------------------------


async def test_two_copies_of_the_bot_answer_a_redelivered_event_once(slack, llm, start_bot):
    copies = [await start_bot(), await start_bot()]  # Slack alternates between the sockets
    assert slack.sockets_open == 2
    handled = watch([copy.answerer for copy in copies], "answer")
    same = Reply(text="exactly once", first_token_delay=0.2)
    llm.script(same, same)  # whichever copy asks, the model says the same
    message = slack.add_message(CHANNEL, f"<@{slack.bot_user_id}> once?")
    event = mention_event(slack, message)
    await slack.send_event(event, event_id="Ev1")
    await slack.send_event(event, event_id="Ev1", retry_attempt=1, retry_reason="timeout")
    await slack.answered(CHANNEL, message["ts"])
    await until_handled(handled, 2)  # both deliveries are over: no second answer can come
    # The copy that lost the claim may have asked the model, but shows nothing.
    assert len(llm.requests) <= 2
    assert slack.bot_text(CHANNEL, message["ts"]) == "exactly once"
    assert len(slack.calls_to("chat.startStream")) == 1
    assert slack.reactions[(CHANNEL, message["ts"])] == {"eyes"}


async def test_one_message_as_two_events_on_two_copies_is_answered_once(slack, llm, start_bot):
    copies = [await start_bot(), await start_bot()]
    handled = watch([copy.answerer for copy in copies], "answer")
    message = slack.add_message(CHANNEL, f"<@{slack.bot_user_id}> twin events")
    await slack.send_event(mention_event(slack, message), event_id="EvA")
    await slack.send_event({**mention_event(slack, message), "type": "message",
                            "channel_type": "im"}, event_id="EvB")
    await slack.answered(CHANNEL, message["ts"])
    await until_handled(handled, 2)
    assert len(llm.requests) <= 2
    assert len(slack.bot_replies(CHANNEL, message["ts"])) == 1
    assert len(slack.calls_to("chat.startStream")) == 1


# Slack errors -----------------------------------------------------------------------------


async def test_past_the_reaction_budget_an_answer_goes_on_without_the_eyes(slack, llm, start_bot):
    # No shared store: the 👀 is the claim, but an answer never waits a minute for it.
    bot = await start_bot(quota=Quota(per_minute={**PER_MINUTE, "reactions.add": 1}))
    handled = watch([bot.answerer], "answer")
    first = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> one")
    await slack.answered(CHANNEL, first["ts"])
    second = slack.add_message(CHANNEL, f"<@{slack.bot_user_id}> two")
    event = mention_event(slack, second)
    await slack.send_event(event, event_id="Ev2")
    await slack.send_event(event, event_id="Ev2", retry_attempt=1, retry_reason="timeout")
    replies = await slack.answered(CHANNEL, second["ts"], timeout=5)
    await until_handled(handled, 3)  # the first question, the second and its redelivery
    assert replies[0]["text"].startswith("You said")
    assert len(slack.bot_replies(CHANNEL, second["ts"])) == 1  # this copy's memory guards it
    assert slack.reactions.get((CHANNEL, first["ts"])) == {"eyes"}
    assert not slack.reactions.get((CHANNEL, second["ts"]))
    assert len(slack.calls_to("reactions.add")) == 1


async def test_a_name_or_an_eyes_slack_holds_back_does_not_hold_the_answer(slack, llm, bot):
    # Slack answers 429 with a long Retry-After: a nicety (a name) and a sign (the 👀) are
    # given up after a couple of seconds, not waited for through three retries.
    slack.fail("users.info", status=429, retry_after=30, times=None)
    slack.fail("reactions.add", status=429, retry_after=30, times=None)
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> still there?")
    replies = await slack.answered(CHANNEL, question["ts"], timeout=8)
    assert replies[0]["text"].startswith("You said")
    assert "U1:" in str(llm.requests[-1]["messages"][-1]["content"])  # unnamed, not held


async def test_rate_limits_and_server_errors_are_retried_with_the_servers_delay(slack, llm, bot):
    slack.fail("chat.startStream", "internal_error", status=500)
    slack.fail("chat.appendStream", "ratelimited", status=429, retry_after=1)
    slack.fail("chat.stopStream", "ratelimited", status=429, retry_after=0)
    llm.script(Reply(chunks=["one ", "two ", "three ", "four ", "five"], token_delay=0.5))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> count")

    replies = await slack.answered(CHANNEL, question["ts"], timeout=10)

    assert [r["text"] for r in replies] == ["one two three four five"]
    appends = slack.calls_to("chat.appendStream")
    refused = [c for c in appends if c.response.get("error") == "ratelimited"]
    assert len(refused) == 1
    retry = appends[appends.index(refused[0]) + 1]
    assert retry.at - refused[0].at >= 1.0  # waited Retry-After


async def test_stream_ended_by_slack_continues_in_the_same_message_without_repeats(
    slack, llm, start_bot
):
    await start_bot(stream_interval=0.1)
    slack.fail("chat.appendStream", "message_not_in_streaming_state")
    llm.script(Reply(chunks=["alpha ", "beta ", "gamma ", "delta"], token_delay=0.2))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> greek")

    await slack.wait_for(lambda: "delta" in slack.bot_text(CHANNEL, question["ts"]), timeout=8)
    await slack.answered(CHANNEL, question["ts"])

    [reply] = slack.bot_replies(CHANNEL, question["ts"])  # updated from there on
    assert reply["text"] == "alpha beta gamma delta"


async def test_user_stopping_the_stream_stops_the_answer(slack, llm, start_bot):
    slack.agent = False  # Slack's stop of a stream, without agent sessions (see test_agent.py)
    bot = await start_bot(stream_interval=0.1)
    handled = watch([bot.answerer], "answer")
    chunks = [f"part{i} " for i in range(40)]
    llm.script(Reply(chunks=chunks, token_delay=0.05))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> go on and on")
    await slack.wait_for(lambda: slack.calls_to("chat.startStream"))
    slack.stop_by_user(CHANNEL, slack.calls_to("chat.startStream")[0].response["ts"])
    await slack.wait_for(
        lambda: any(c.response.get("error") == "stopped_by_user"
                    for c in slack.calls_to("chat.appendStream"))
    )
    await until_handled(handled, 1)  # the answer is over: nothing more can be sent
    errors = [c.response.get("error") for c in slack.calls]
    assert errors.index("stopped_by_user") == len(errors) - 1  # nothing more was sent
    assert len(slack.bot_replies(CHANNEL, question["ts"])) == 1
    assert "part39" not in slack.bot_text(CHANNEL, question["ts"])


# Connection -------------------------------------------------------------------------------


async def test_reconnects_after_disconnect_message(slack, llm, bot):
    opened = slack.connections_opened
    await slack.disconnect("refresh_requested", close_after=0.2)
    await slack.wait_for(lambda: slack.connections_opened > opened and slack.sockets_open == 1)
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> still there?")
    assert (await slack.answered(CHANNEL, question["ts"]))[0]["text"].startswith("You said")


async def test_reconnects_after_a_dropped_socket_without_spinning(slack, llm, bot):
    slack.ack_timeout = 1.0  # as Slack does, redeliver what was not acknowledged
    opened, tickets = slack.connections_opened, len(slack.calls_to("apps.connections.open"))
    await slack.drop()
    # An event sent while the socket is down is redelivered on the new connection.
    sending = asyncio.ensure_future(
        slack.mention(CHANNEL, f"<@{slack.bot_user_id}> did you miss me?")
    )
    await slack.wait_for(lambda: slack.connections_opened > opened, timeout=15)
    question = await sending
    replies = await slack.answered(CHANNEL, question["ts"])
    assert replies[0]["text"].startswith("You said")
    # One new connection for one drop: no reconnecting in a loop. (The bot's CPU while idle
    # is a figure of bench/, burst's idle_cpu_before and idle_cpu_after.)
    assert slack.connections_opened == opened + 1 and slack.sockets_open == 1
    assert len(slack.calls_to("apps.connections.open")) == tickets + 1


# Shutdown ---------------------------------------------------------------------------------


async def test_sigterm_finishes_the_answer_in_flight_then_exits_0(slack, llm, tmp_path):
    chunks = [f"w{i} " for i in range(20)]
    llm.script(Reply(chunks=chunks, token_delay=0.1))
    process = await run_app(env_for(slack, llm), tmp_path)
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> slow answer")
    await slack.wait_for(lambda: slack.calls_to("chat.startStream"), timeout=15)
    process.send_signal(signal.SIGTERM)
    code, err = await finished(process)
    assert code == 0, err
    assert slack.bot_text(CHANNEL, question["ts"]) == "".join(chunks)
    assert not slack.bot_replies(CHANNEL, question["ts"])[0]["streaming"]
    assert "finishing answers in flight" in err


async def test_second_signal_exits_at_once(slack, llm, tmp_path):
    llm.script(Reply(chunks=["slow "] * 50, token_delay=0.5))
    process = await run_app(env_for(slack, llm), tmp_path)
    await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> very slow")
    await slack.wait_for(lambda: slack.calls_to("chat.startStream"), timeout=15)
    process.send_signal(signal.SIGTERM)
    await slack.wait_for(lambda: slack.sockets_open == 0)  # the first signal is being obeyed
    process.send_signal(signal.SIGINT)
    code, err = await finished(process, timeout=15)  # the slow answer needs 25 s
    assert code == 130 and "exiting now" in err


async def test_answers_cut_by_the_grace_period_say_so(slack, llm, tmp_path):
    llm.script(Reply(chunks=["slow "] * 50, token_delay=0.3))
    process = await run_app(env_for(slack, llm, SHUTDOWN_GRACE="0.5"), tmp_path)
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> very slow")
    await slack.wait_for(lambda: slack.calls_to("chat.startStream"), timeout=15)
    process.send_signal(signal.SIGTERM)
    code, err = await finished(process)
    assert code == 0, err
    assert "restarting" in slack.bot_text(CHANNEL, question["ts"])


# Bad input ----------------------------------------------------------------------------------


async def test_a_40000_character_message_is_answered(slack, llm, bot):
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> " + "가나다 " * 10_000)
    await slack.answered(CHANNEL, question["ts"])
    assert len(llm.requests[0]["messages"][-1]["content"]) > 39_000


async def test_odd_unicode_and_slack_markup_reach_the_model_readably(slack, llm, bot):
    text = (
        f"<@{slack.bot_user_id}> <!channel> in <#C9|ops>: compare <https://a.io|this> "
        "שלום 👨‍👩‍👧 e\u0301 &amp; done"
    )
    question = await slack.mention(CHANNEL, text)
    await slack.answered(CHANNEL, question["ts"])
    assert llm.requests[0]["messages"][-1]["content"] == (
        "user-u1: @channel in #ops: compare this (https://a.io) שלום 👨‍👩‍👧 e\u0301 & done"
    )


async def test_only_mentions_get_the_hint(slack, llm, bot):
    await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> <@{slack.bot_user_id}|gpt>")
    await slack.wait_for(lambda: slack.ephemerals)
    assert "Ask me something" in slack.ephemerals[0].text and not llm.requests


# Secrets ------------------------------------------------------------------------------------


async def test_secrets_never_reach_the_logs_even_at_debug(slack, llm, tmp_path):
    llm.script(Reply(status=401, error_type="invalid_request_error", error_code="invalid_api_key"))
    process = await run_app(env_for(slack, llm, LOG_LEVEL="DEBUG"), tmp_path)
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> hello")
    await slack.answered(CHANNEL, question["ts"], timeout=15)
    process.send_signal(signal.SIGTERM)
    code, err = await finished(process)
    assert code == 0
    assert "apps.connections.open" in err or "auth.test" in err  # debug logging was on
    for secret in (slack.bot_token, slack.app_token, llm.api_key):
        assert secret not in err
    assert "Bearer xox" not in err and "Bearer sk-" not in err
    thread = slack.bot_text(CHANNEL, question["ts"])
    assert llm.api_key not in thread and slack.bot_token not in thread


async def test_replies_and_reactions_down_the_bot_answers_the_message_alone(slack, llm, bot):
    slack.fail("conversations.replies", "internal_error", status=503, times=None)
    slack.fail("reactions.add", "internal_error", status=503, times=None)
    root = slack.add_message(CHANNEL, "root")
    llm.script(Reply(text="answered anyway"))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> hi", thread_ts=root["ts"])
    replies = await slack.answered(CHANNEL, root["ts"], timeout=15)
    # Slack's replies and reactions are down: the bot answers from the message alone.
    assert replies[0]["text"] == "answered anyway"
    assert llm.requests[0]["messages"][-1]["content"] == "user-u1: hi"
    assert question["thread_ts"] == root["ts"]

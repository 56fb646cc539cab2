"""End to end: answers people can trust, against models and proxies that misbehave."""

from __future__ import annotations

import logging

import pytest

from fakes.openai import Reply

pytestmark = pytest.mark.timeout(60)

CHANNEL = "C1"


async def ask(slack, text="question", **kw):
    return await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> {text}", **kw)


async def text_of(slack, question, timeout=10.0) -> str:
    await slack.answered(CHANNEL, question["ts"], timeout=timeout)
    return slack.bot_text(CHANNEL, question["ts"])


def answer_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "answer"]


# A stream that ends unfinished ---------------------------------------------------------------


async def test_a_stream_that_ends_without_finishing_is_marked_cut(slack, llm, bot, caplog):
    caplog.set_level(logging.INFO)
    llm.script(Reply(chunks=["Hello! ", "You ", "asked ", "about"], eof_after=2))
    text = await text_of(slack, await ask(slack))
    assert text.startswith("Hello! You")
    assert "interrupted" in text and "stopped before it was finished" in text
    assert "asked" not in text
    await slack.wait_for(lambda: answer_lines(caplog))  # logged just after the last call
    assert answer_lines(caplog)[-1].outcome == "error:StreamCut"


async def test_a_stream_that_ends_before_any_word_says_the_model_stopped(slack, llm, bot):
    llm.script(Reply(text="never sent", eof_after=0))
    text = await text_of(slack, await ask(slack))
    assert "stopped before it was finished" in text and "rephras" not in text


async def test_a_connection_dropped_mid_answer_is_not_blamed_on_the_url(slack, llm, bot):
    llm.script(Reply(chunks=["The first ", "half ", "and more"], cut_after=2))
    text = await text_of(slack, await ask(slack))
    assert text.startswith("The first half") and "broke off mid-answer" in text
    assert "OPENAI_BASE_URL" not in text


# Thinking ------------------------------------------------------------------------------------


async def test_thinking_longer_than_the_first_token_timeout_is_waited_for(slack, llm, start_bot):
    await start_bot(first_token_timeout=1.0)
    for field in ("reasoning_content", "reasoning"):
        llm.script(Reply(text="Forty-two.", reasoning_chunks=["Let me think. "] * 8,
                         reasoning_delay=0.25, reasoning_field=field))
        text = await text_of(slack, await ask(slack, "the answer?"))
        assert text == "Forty-two."  # 2 s of thought, with a 1 s first-token timeout


async def test_a_long_thought_shows_in_the_status_with_its_time(slack, llm, bot):
    llm.script(Reply(text="Done.", reasoning_chunks=["hmm "] * 14, reasoning_delay=0.5))
    question = await ask(slack, "think hard")
    assert await text_of(slack, question, timeout=20) == "Done."
    statuses = [s.status for s in slack.statuses if s.thread_ts == question["ts"]]
    assert statuses[0] == "is thinking…"
    assert any(s.startswith("is thinking… (") and s.endswith(" s)") for s in statuses[1:])
    assert len(statuses) <= 3  # a modest pace, not one per thought


# Context overflow ----------------------------------------------------------------------------


def long_thread(slack, messages: int) -> dict:
    root = slack.add_message(CHANNEL, "ROOT: we are planning the launch", user="U2")
    for i in range(messages):
        korean = f"message {i}: 출시 일정은 다음 주입니다. "
        text = korean + "We should check the rollout plan. " * 12
        slack.add_message(CHANNEL, text, user=f"U{3 + i % 4}", thread_ts=root["ts"])
    return root


async def test_a_thread_longer_than_the_models_context_is_trimmed_and_answered(
    slack, llm, start_bot
):
    await start_bot(context_tokens=16_000)
    llm.context_limit = 4_000  # a quarter of CONTEXT_TOKENS
    root = long_thread(slack, 400)
    question = await ask(slack, "NEWEST: summarize the plan", thread_ts=root["ts"])
    replies = await slack.answered(CHANNEL, root["ts"], timeout=20)
    text = slack.bot_text(CHANNEL, root["ts"])
    assert text.startswith("You said: ")  # answered, not refused
    assert "I left out" in text and "earlier messages" in text
    sent = [r for r in llm.requests if r.get("stream")]
    final = sent[-1]["messages"]
    assert "ROOT:" in final[1]["content"] and "NEWEST:" in final[-1]["content"]
    assert 2 <= len(sent) <= 3 and len(replies) == 1
    assert question["ts"]

    # The next question fits on the first try: the limit was learned.
    before = len(llm.requests)
    await ask(slack, "NEWEST: and the dates?", thread_ts=root["ts"])
    await slack.answered(CHANNEL, root["ts"], count=2, timeout=20)
    assert len(llm.requests) == before + 1


# Proxies' wordings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected", "not_expected"),
    [
        (Reply.litellm_quota_exceeded(), "run out of quota", "busy"),
        (Reply.litellm_invalid_model(), "OPENAI_MODEL", "refused this request"),
        (Reply(chunks=["Fine ", "so ", "far"], corrupt_after=1), "garbled", "Something went"),
    ],
    ids=["litellm-quota", "litellm-unknown-model", "corrupted-chunk"],
)
async def test_proxy_failures_are_read_right(slack, llm, bot, reply, expected, not_expected):
    llm.script(reply)
    text = await text_of(slack, await ask(slack))
    assert expected in text and not_expected not in text


async def test_a_server_that_refuses_stream_options_still_answers(slack, llm, bot, caplog):
    llm.rejects = {"stream_options"}
    first = await text_of(slack, await ask(slack, "one"))
    second = await text_of(slack, await ask(slack, "two"))
    assert first.endswith("one") and second.endswith("two")
    assert "refused stream_options" in caplog.text
    assert "stream_options" not in llm.requests[-1]
    assert len(llm.requests) == 3  # refused once, then never sent again


# People by name ------------------------------------------------------------------------------


async def test_the_model_sees_names_and_never_slack_markup(slack, llm, bot):
    root = slack.add_message(CHANNEL, "<@U2> can you review?", user="U3")
    llm.script(Reply(text="Sure, I'll ask <@U0123ABCD> and @user-u2 to help."))
    await ask(slack, "who should review, <@U2|old-label> or <@U4>?", thread_ts=root["ts"])
    await slack.answered(CHANNEL, root["ts"])
    sent = str(llm.requests[0]["messages"])
    assert "<@" not in sent
    assert "user-u3: @user-u2 can you review?" in sent
    assert "user-u1: who should review, @old-label or @user-u4?" in sent
    shown = slack.bot_text(CHANNEL, root["ts"])
    assert "<@U0123ABCD>" not in shown and "U0123ABCD" in shown  # written, but pings no one
    assert "@user-u2" in shown  # plain text in Slack
    lookups = [c.params["user"] for c in slack.calls_to("users.info")]
    assert sorted(lookups) == ["U1", "U2", "U3", "U4"]  # once each


async def test_names_are_cached_across_answers(slack, llm, bot):
    for text in ("one", "two", "three"):
        await text_of(slack, await ask(slack, text))
    assert len(slack.calls_to("users.info")) == 1

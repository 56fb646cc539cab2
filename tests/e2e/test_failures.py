"""End to end: each model failure ends in a plain explanation in the thread; the bot goes on."""

from __future__ import annotations

import socket

import pytest

from fakes.openai import Reply

CHANNEL = "C1"


async def ask(slack, text="question"):
    return await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> {text}")




async def text_of(slack, question, timeout=8.0) -> str:
    await slack.answered(CHANNEL, question["ts"], timeout=timeout)
    return slack.bot_text(CHANNEL, question["ts"])


FAILURES = [
    (Reply(status=401, error_type="invalid_request_error", error_code="invalid_api_key",
           error_message="Incorrect API key provided"), "OPENAI_API_KEY"),
    (Reply(status=429, error_type="insufficient_quota", error_code="insufficient_quota",
           error_message="You exceeded your current quota"), "run out of quota"),
    (Reply(status=429, error_type="requests", error_code="rate_limit_exceeded",
           error_message="Rate limit reached", headers={"retry-after": "0"}), "rate limit"),
    (Reply(status=404, error_type="invalid_request_error", error_code="model_not_found",
           error_message="The model does not exist"), "OPENAI_MODEL"),
    (Reply(status=500, error_type="server_error", error_message="boom"), "internal error"),
    (Reply(status=403, error_type="permission_error", error_message="no access"), "allowed"),
]


@pytest.mark.parametrize(("failure", "explanation"), FAILURES,
                         ids=["auth", "quota", "rate", "model", "server", "denied"])
async def test_model_failure_is_explained_and_the_next_mention_works(
    slack, llm, bot, failure, explanation
):
    llm.script(failure, Reply(text="Back to normal."))
    first = await ask(slack)
    text = await text_of(slack, first)
    assert explanation in text
    assert ":warning:" in text
    assert "Traceback" not in text and llm.api_key not in text

    second = await ask(slack, "again")
    assert await text_of(slack, second) == "Back to normal."


async def test_model_that_never_starts_answering_times_out(slack, llm, start_bot):
    await start_bot(first_token_timeout=1.0)
    llm.script(Reply(text="never", first_token_delay=30))
    question = await ask(slack)
    text = await text_of(slack, question, timeout=10)
    assert "didn't start answering within 1 seconds" in text


async def test_model_that_goes_quiet_midway_times_out_and_keeps_the_text(slack, llm, start_bot):
    await start_bot(openai_timeout=0.5)
    llm.script(Reply(chunks=["Half an ", "answer", " and more"], stall_after=2))
    question = await ask(slack)
    text = await text_of(slack, question, timeout=10)
    assert text.startswith("Half an answer")
    assert "interrupted" in text and "stopped sending for 0.5 seconds" in text
    assert "and more" not in text


async def test_stream_cut_midway_keeps_the_text_and_says_so(slack, llm, bot):
    llm.script(Reply(chunks=["The first ", "half is ", "here"], cut_after=2))
    question = await ask(slack)
    text = await text_of(slack, question)
    assert text.startswith("The first half is")
    assert "interrupted" in text
    assert len(slack.bot_replies(CHANNEL, question["ts"])) == 1


async def test_model_endpoint_down(slack, llm, start_bot):
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await start_bot(openai_base_url=f"http://127.0.0.1:{port}/v1")
    question = await ask(slack)
    text = await text_of(slack, question)
    assert "couldn't reach the model service" in text
    assert "OPENAI_BASE_URL" in text


async def test_empty_answer_at_the_token_limit_is_explained(slack, llm, bot):
    llm.script(Reply(text="", chunks=[], finish_reason="length"))
    question = await ask(slack)
    assert "MAX_COMPLETION_TOKENS" in await text_of(slack, question)


async def test_answer_cut_at_the_token_limit_says_so(slack, llm, bot):
    llm.script(Reply(text="Partial answer", finish_reason="length"))
    question = await ask(slack)
    text = await text_of(slack, question)
    assert text.startswith("Partial answer") and "token limit" in text


async def test_model_rate_limit_is_retried_after_its_delay(slack, llm, start_bot):
    await start_bot(openai_max_retries=2)
    llm.script(
        Reply(status=429, error_type="requests", error_code="rate_limit_exceeded",
              headers={"retry-after": "1"}),
        Reply(status=503, error_type="server_error"),
        Reply(text="Third time lucky."),
    )
    question = await ask(slack)
    assert await text_of(slack, question, timeout=15) == "Third time lucky."
    assert len(llm.requests) == 3


OVERFLOW = Reply(
    status=400,
    error_type="invalid_request_error",
    error_code="context_length_exceeded",
    error_message="This model's maximum context length is 128000 tokens",
)


async def test_a_context_the_model_keeps_refusing_ends_in_too_long(slack, llm, bot):
    llm.script(OVERFLOW, OVERFLOW, OVERFLOW, Reply(text="Back to normal."))
    first = await ask(slack)
    text = await text_of(slack, first)
    assert "too long" in text and ":warning:" in text
    assert len(llm.requests) == 3  # the first try and two smaller ones
    assert await text_of(slack, await ask(slack)) == "Back to normal."

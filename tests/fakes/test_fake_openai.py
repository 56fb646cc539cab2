"""FakeOpenAI misbehaves like real models, servers and proxies, as the real openai SDK sees it.

Every test drives the fake with ``openai.AsyncOpenAI`` (3.x, on httpx2) over 127.0.0.1 and
asserts what the client observes: exception class, status, ``code``, message, chunks, timing.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time
from typing import Any

import aiohttp
import openai
import pytest
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import ChoiceDelta

from fakes.openai import FakeOpenAI, Reply, StreamRecord, estimate_tokens, prompt_tokens

pytestmark = pytest.mark.timeout(20)

MSGS: list[Any] = [{"role": "user", "content": "x"}]


def oai(fake: FakeOpenAI, **kw: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, **kw)


async def stream_chunks(
    fake: FakeOpenAI, got: list[tuple[float, ChatCompletionChunk]], **kw: Any
) -> None:
    """Stream one answer, appending (arrival time, chunk) to ``got`` as chunks come."""
    kw = {"model": "gpt-test", "messages": MSGS, **kw}
    async with oai(fake) as client:
        stream = await client.chat.completions.create(stream=True, **kw)
        async for chunk in stream:
            got.append((time.monotonic(), chunk))


def contents(got: list[tuple[float, ChatCompletionChunk]]) -> list[str]:
    return [c.choices[0].delta.content for _, c in got if c.choices and c.choices[0].delta.content]


async def complete(fake: FakeOpenAI, **kw: Any) -> Any:
    kw = {"model": "gpt-test", "messages": MSGS, **kw}
    async with oai(fake) as client:
        return await client.chat.completions.create(**kw)


async def failure(fake: FakeOpenAI, exc: type[BaseException], **kw: Any) -> Any:
    """The exception a request raises, whether it streams or not."""
    with pytest.raises(exc) as info:
        if kw.pop("stream", False):
            await stream_chunks(fake, [], **kw)
        else:
            await complete(fake, **kw)
    return info.value


# -- 1. a stream that ends cleanly without a finish reason ----------------------------------


async def test_clean_eof_ends_iteration_quietly_without_finish_or_usage(llm: FakeOpenAI) -> None:
    llm.script(Reply("one two three four", eof_after=2))
    got: list[tuple[float, ChatCompletionChunk]] = []
    await stream_chunks(llm, got, stream_options={"include_usage": True})  # no exception
    assert contents(got) == ["one", " two"]
    assert all(c.choices and c.choices[0].finish_reason is None for _, c in got)
    assert all(c.usage is None for _, c in got)
    assert llm.streams[0].outcome == "eof" and llm.streams[0].content_chunks == 2


async def test_clean_eof_is_a_complete_http_body_without_done(llm: FakeOpenAI) -> None:
    llm.script(Reply("one two three", eof_after=1))
    body = {"model": "gpt-test", "messages": MSGS, "stream": True}
    headers = {"Authorization": f"Bearer {llm.api_key}"}
    async with aiohttp.ClientSession() as http:  # an incomplete chunked body would raise here
        url = f"{llm.base_url}/chat/completions"
        async with http.post(url, json=body, headers=headers) as res:
            raw = (await res.read()).decode()
    events = [line for line in raw.split("\n\n") if line]
    assert len(events) == 2 and "[DONE]" not in raw and '"finish_reason": "stop"' not in raw


async def test_eof_after_leaves_non_streaming_answers_whole(llm: FakeOpenAI) -> None:
    llm.script(Reply("one two three", eof_after=1))
    res = await complete(llm)
    assert res.choices[0].message.content == "one two three"
    assert res.choices[0].finish_reason == "stop"


# -- 2. reasoning before content -------------------------------------------------------------


@pytest.mark.parametrize(("field", "empty"), [("reasoning_content", None), ("reasoning", "")])
async def test_reasoning_streams_first_with_its_own_pacing(
    llm: FakeOpenAI, field: str, empty: str | None
) -> None:
    thought = "Let me think about it"  # 5 pieces, 0.1 s apart: 0.5 s of thinking
    llm.script(Reply("The answer.", reasoning=thought, reasoning_field=field, reasoning_delay=0.1))
    got: list[tuple[float, ChatCompletionChunk]] = []
    start = time.monotonic()
    await stream_chunks(llm, got, stream_options={"include_usage": True})
    deltas = [(t, c.choices[0].delta) for t, c in got if c.choices]
    thinking = [(t, d) for t, d in deltas if d.model_extra]
    # The SDK's ChoiceDelta declares neither field; pydantic keeps unknown ones (extra="allow"):
    # readable as attributes and listed in model_extra, never mixed into .content.
    assert field not in ChoiceDelta.model_fields
    pieces = ["Let", " me", " think", " about", " it"]
    assert [d.model_extra for _, d in thinking] == [{field: p} for p in pieces]
    assert "".join(getattr(d, field) for _, d in thinking) == thought
    assert all(d.content == empty for _, d in thinking)
    # lower bounds follow from when the fake sends; upper ones are generous
    for i, (arrived, _) in enumerate(thinking):  # steady pieces, 0.1 s apart
        assert arrived - start >= 0.1 * i - 0.02
    first_content = next(t for t, c in got if c.choices and c.choices[0].delta.content)
    assert first_content >= thinking[-1][0]
    assert 0.48 <= first_content - start < 2.5
    assert contents(got) == ["The", " answer."]
    counted = got[-1][1].usage
    assert counted is not None and counted.completion_tokens_details is not None
    assert counted.completion_tokens_details.reasoning_tokens == estimate_tokens(thought)
    assert counted.completion_tokens == estimate_tokens(thought) + estimate_tokens("The answer.")


async def test_non_streaming_reasoning_is_in_the_message_and_takes_its_time(
    llm: FakeOpenAI,
) -> None:
    llm.script(Reply("Yes.", reasoning_chunks=["Hm", "m."], reasoning_delay=0.2))
    start = time.monotonic()
    res = await complete(llm)
    message = res.choices[0].message
    assert time.monotonic() - start >= 0.35
    assert (message.content, message.model_extra) == ("Yes.", {"reasoning_content": "Hmm."})
    assert message.reasoning_content == "Hmm."  # type: ignore[attr-defined]
    assert res.usage is not None and res.usage.completion_tokens_details is not None
    assert res.usage.completion_tokens_details.reasoning_tokens == 1


# -- 3. a context window the fake enforces ---------------------------------------------------


def long_message(chars: int) -> list[Any]:
    return [{"role": "user", "content": "y" * chars}]


@pytest.mark.parametrize("stream", [False, True])
async def test_context_limit_answers_openais_400(stream: bool) -> None:
    async with FakeOpenAI(context_limit=50) as fake:
        fake.script(Reply("kept for the next request"))
        err = await failure(
            fake, openai.BadRequestError, messages=long_message(400), stream=stream
        )  # 4 + 400 / 4 = 104 tokens
        fits = await complete(fake, messages=long_message(120))
    assert (err.status_code, err.code, err.param, err.type) == (
        400,
        "context_length_exceeded",
        "messages",
        "invalid_request_error",
    )
    assert err.message == (
        "Error code: 400 - This model's maximum context length is 50 tokens. However, your "
        "messages resulted in 104 tokens. Please reduce the length of the messages."
    )
    assert fits.choices[0].message.content == "kept for the next request"  # script untouched
    assert fits.usage is not None and fits.usage.prompt_tokens == 34


async def test_context_limit_counts_images_and_can_be_changed() -> None:
    def with_image(detail: str) -> list[Any]:
        image = {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64,AA", "detail": detail},
        }
        return [{"role": "user", "content": [{"type": "text", "text": "see"}, image]}]

    async with FakeOpenAI(context_limit=500) as fake:
        err = await failure(fake, openai.BadRequestError, messages=with_image("high"))
        low = await complete(fake, messages=with_image("low"))
        fake.context_limit = None
        high = await complete(fake, messages=with_image("auto"))
    assert "your messages resulted in 770 tokens" in err.message  # 4 + 1 + 765
    assert low.usage is not None and low.usage.prompt_tokens == 90  # 4 + 1 + 85
    assert high.usage is not None and high.usage.prompt_tokens == 770
    assert prompt_tokens({"messages": with_image("low")}) == 90


@pytest.mark.parametrize("stream", [False, True])
async def test_vllm_context_wording_counts_the_completion_too(stream: bool) -> None:
    async with FakeOpenAI(context_limit=100, context_style="vllm") as fake:
        msgs = long_message(184)  # 4 + 46 = 50 tokens
        over = await failure(
            fake, openai.BadRequestError, messages=msgs, max_completion_tokens=60, stream=stream
        )
        full = await failure(fake, openai.BadRequestError, messages=long_message(400))
        fits = await complete(fake, messages=msgs, max_tokens=50)
    # vLLM's top-level {"object": "error", ...}: the SDK takes the whole body as the error
    assert over.body == {
        "object": "error",
        "message": "This model's maximum context length is 100 tokens. However, you requested "
        "110 tokens (50 in the messages, 60 in the completion). Please reduce the length of the "
        "messages or completion.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    assert (over.code, over.type, over.param) == ("400", "BadRequestError", None)  # code: a str
    assert full.message == (
        "Error code: 400 - This model's maximum context length is 100 tokens. However, you "
        "requested 104 tokens in the messages, Please reduce the length of the messages."
    )
    assert fits.choices[0].message.content == "You said: " + "y" * 184


# -- 4. a LiteLLM proxy in front of OpenAI ---------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_litellm_quota_is_a_429_without_insufficient_quota(
    llm: FakeOpenAI, stream: bool
) -> None:
    llm.script(Reply.litellm_quota_exceeded())
    err = await failure(llm, openai.RateLimitError, stream=stream)
    assert (err.status_code, err.code, err.type, err.param) == (
        429,
        "429",
        "throttling_error",
        None,
    )
    assert err.message.startswith(
        "Error code: 429 - litellm.RateLimitError: RateLimitError: OpenAIException - You "
        "exceeded your current quota, please check your plan and billing details."
    )
    assert err.message.endswith(
        "api-errors.. Received Model Group=gpt-test\nAvailable Model Group Fallbacks=None"
    )
    assert "insufficient_quota" not in json.dumps(err.body)


@pytest.mark.parametrize("stream", [False, True])
async def test_litellm_unknown_model_is_a_400_naming_the_model(
    llm: FakeOpenAI, stream: bool
) -> None:
    llm.script(Reply.litellm_invalid_model())
    err = await failure(llm, openai.BadRequestError, model="gpt-4o-mini", stream=stream)
    assert (err.status_code, err.code, err.type, err.param) == (400, "400", "None", "None")
    assert err.message == (
        "Error code: 400 - /chat/completions: Invalid model name passed in model=gpt-4o-mini. "
        "Call `/v1/models` to view available models for your key."
    )


async def test_error_body_is_sent_verbatim(llm: FakeOpenAI) -> None:
    llm.script(Reply(status=503, error_body={"detail": "upstream down"}, headers={"x-a": "1"}))
    err = await failure(llm, openai.InternalServerError)
    assert (err.status_code, err.body, err.code) == (503, {"detail": "upstream down"}, None)
    assert err.message == "Error code: 503"  # no "message" field: the SDK says only the status
    assert err.response.headers["x-a"] == "1"


# -- 5. a corrupted chunk --------------------------------------------------------------------


async def test_corrupt_chunk_raises_a_bare_json_error_after_the_good_ones(
    llm: FakeOpenAI,
) -> None:
    llm.script(Reply("one two three", corrupt_after=1))
    got: list[tuple[float, ChatCompletionChunk]] = []
    with pytest.raises(json.JSONDecodeError) as info:
        await stream_chunks(llm, got)
    # not wrapped: `except openai.OpenAIError` does not catch it
    assert not isinstance(info.value, openai.OpenAIError)
    assert contents(got) == ["one"]


async def test_corrupt_non_streaming_body_raises_a_json_error(llm: FakeOpenAI) -> None:
    llm.script(Reply("one two", corrupt_after=0))
    err = await failure(llm, json.JSONDecodeError)
    assert not isinstance(err, openai.OpenAIError)


# -- 6. a server that rejects optional fields ------------------------------------------------

INCLUDE_USAGE = {"include_usage": True}


@pytest.mark.parametrize("stream", [False, True])
async def test_rejected_stream_options_azure_wording(stream: bool) -> None:
    async with FakeOpenAI(rejects={"stream_options"}) as fake:
        err = await failure(
            fake, openai.BadRequestError, stream=stream, stream_options=INCLUDE_USAGE
        )
        plain: list[tuple[float, ChatCompletionChunk]] = []
        await stream_chunks(fake, plain)
    assert err.message == "Error code: 400 - Unrecognized request argument supplied: stream_options"
    assert (err.code, err.param, err.type) == (None, None, "invalid_request_error")
    assert contents(plain) == ["You", " said:", " x"]


async def test_rejected_fields_are_named_together_and_max_completion_tokens_too() -> None:
    async with FakeOpenAI(rejects={"stream_options", "max_completion_tokens"}) as fake:
        both = await failure(
            fake,
            openai.BadRequestError,
            stream=True,
            stream_options=INCLUDE_USAGE,
            max_completion_tokens=10,
        )
        one = await failure(fake, openai.BadRequestError, max_completion_tokens=10)
        fake.rejects_style = "openai"
        openai_style = await failure(fake, openai.BadRequestError, max_completion_tokens=10)
        fake.rejects.clear()
        ok = await complete(fake, max_completion_tokens=10)
    assert both.message == (
        "Error code: 400 - Unrecognized request arguments supplied: max_completion_tokens, "
        "stream_options"
    )
    assert one.message.endswith("argument supplied: max_completion_tokens")
    assert openai_style.message == "Error code: 400 - Unknown parameter: 'max_completion_tokens'."
    assert (openai_style.code, openai_style.param) == ("unknown_parameter", "max_completion_tokens")
    assert ok.choices[0].message.content == "You said: x"


async def test_rejected_field_vllm_wording() -> None:
    async with FakeOpenAI(rejects={"stream_options"}, rejects_style="vllm") as fake:
        err = await failure(fake, openai.BadRequestError, stream=True, stream_options=INCLUDE_USAGE)
    assert err.message == (
        "Error code: 400 - [{'type': 'extra_forbidden', 'loc': ('body', 'stream_options'), "
        "'msg': 'Extra inputs are not permitted', 'input': {'include_usage': True}}]"
    )
    assert (err.code, err.type) == ("400", "BadRequestError")


def test_unknown_styles_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="context_style"):
        FakeOpenAI(context_style="azure")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rejects_style"):
        FakeOpenAI(rejects_style="litellm")  # type: ignore[arg-type]


# -- 7. public hooks for the benchmark -------------------------------------------------------


async def test_on_request_sees_each_body_as_it_arrives() -> None:
    seen: list[tuple[float, dict[str, Any]]] = []
    async with FakeOpenAI(on_request=lambda body: seen.append((time.monotonic(), body))) as fake:
        fake.script(Reply("slow", first_token_delay=0.3))
        await complete(fake, messages=[{"role": "user", "content": "first"}])
        answered = time.monotonic()
        bad_key = openai.AsyncOpenAI(api_key="sk-no", base_url=fake.base_url, max_retries=0)
        async with bad_key:
            with pytest.raises(openai.AuthenticationError):
                await bad_key.chat.completions.create(model="gpt-test", messages=MSGS)
    assert [body["messages"][0]["content"] for _, body in seen] == ["first", "x"]
    assert answered - seen[0][0] >= 0.28  # called on arrival, not once answered
    assert seen[0][1] is fake.requests[0]


async def test_on_stream_end_records_every_stream_with_times_and_outcome() -> None:
    ended: list[StreamRecord] = []
    async with FakeOpenAI(on_stream_end=ended.append) as fake:
        fake.script(
            Reply(chunks=["a", "b"], first_token_delay=0.2, token_delay=0.1),
            Reply("one two", eof_after=1),
            Reply("one two", cut_after=1),
            Reply("one two", error_after=1),
        )
        got: list[tuple[float, ChatCompletionChunk]] = []
        await stream_chunks(fake, got)
        await stream_chunks(fake, [])
        with pytest.raises(openai.APIConnectionError):
            await stream_chunks(fake, [])
        with pytest.raises(openai.APIError):
            await stream_chunks(fake, [])
        await complete(fake)  # not a stream: not recorded
    assert ended == fake.streams
    assert [(r.outcome, r.content_chunks) for r in ended] == [
        ("done", 2),
        ("eof", 1),
        ("cut", 1),
        ("error", 1),
    ]
    first = ended[0]
    assert first.body is fake.requests[0]
    assert 0.28 <= first.ended_at - first.arrived_at < 2.0  # 0.2 s + 0.1 s scripted
    assert abs(first.ended_at - got[-1][0]) < 0.25  # about when the client got the last chunk


async def test_a_stream_the_client_abandons_is_recorded_as_aborted() -> None:
    async with FakeOpenAI() as fake:
        fake.script(Reply(chunks=["a", "b", "c"], token_delay=0.2))
        async with oai(fake) as client:
            stream = await client.chat.completions.create(
                model="gpt-test", messages=MSGS, stream=True
            )
            async for _ in stream:
                break
            await stream.close()
        deadline = time.monotonic() + 5
        while not fake.streams and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    assert fake.streams[0].outcome == "aborted" and fake.streams[0].content_chunks < 3


async def test_a_client_leaving_between_chunks_is_seen_at_once() -> None:
    """The stream is recorded as aborted when the client closes it, not at the next chunk
    (30 s away here: the record arrives long before)."""
    async with FakeOpenAI() as fake:
        fake.script(Reply(chunks=["a", "b"], token_delay=30))
        async with oai(fake) as client:
            stream = await client.chat.completions.create(
                model="gpt-test", messages=MSGS, stream=True
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    break
            await stream.close()
            deadline = time.monotonic() + 5
            while not fake.streams and time.monotonic() < deadline:
                await asyncio.sleep(0.02)  # polling period
    assert [(s.outcome, s.content_chunks) for s in fake.streams] == [("aborted", 1)]


async def test_stop_ends_a_stalled_stream_as_stalled() -> None:
    fake = FakeOpenAI()
    await fake.start()
    fake.script(Reply("one two", stall_after=1))
    task = asyncio.create_task(stream_chunks(fake, []))
    await fake.wait_for_requests(1)
    await asyncio.sleep(0.1)
    await fake.stop()
    with pytest.raises(openai.APIConnectionError):
        await task
    assert [r.outcome for r in fake.streams] == ["stalled"]


def connected_after_burst(port: int, n: int) -> int:
    """Open ``n`` connections while the event loop is blocked (nothing is accepted): how many
    complete their handshake, that is, fit in the listen backlog."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
        time.sleep(0.3)  # blocks the loop on purpose
        _, writable, _ = select.select([], socks, [], 0)
        return sum(1 for s in writable if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
    finally:
        for s in socks:
            s.close()


async def test_backlog_lets_a_burst_of_connections_queue() -> None:
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            somaxconn = int(f.read())
    except OSError:
        pytest.skip("needs Linux's /proc/sys/net/core/somaxconn")
    if somaxconn < 300:
        pytest.skip(f"net.core.somaxconn is {somaxconn}: the kernel caps any backlog to it")
    async with FakeOpenAI(backlog=1024) as big, FakeOpenAI() as default:
        queued_big = connected_after_burst(big.port, 300)
        queued_default = connected_after_burst(default.port, 300)
        assert (await complete(big)).choices[0].message.content == "You said: x"
    assert queued_big == 300
    assert queued_default < 200  # aiohttp's default backlog is 128

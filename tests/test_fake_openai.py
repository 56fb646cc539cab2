"""FakeOpenAI misbehaves like real models, servers and proxies, as the real openai SDK sees it.

Every test drives the fake with ``openai.AsyncOpenAI`` (3.x, on httpx2) over 127.0.0.1 and
asserts what the client observes: exception class, status, ``code``, message, chunks, timing.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from fakes.openai import FakeOpenAI, Reply

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

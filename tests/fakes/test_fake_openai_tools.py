"""FakeOpenAI's tool calls as the real openai SDK sees them: fragments by index, arguments in
pieces, OpenAI's checks of tools and tool messages, servers that take no tools."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState

from fakes.openai import Call, FakeOpenAI, Reply

pytestmark = pytest.mark.timeout(20)

TOOL = {"type": "function", "function": {"name": "search_slack", "parameters": {"type": "object"}}}
MSGS: list[Any] = [{"role": "user", "content": "x"}]


def client(fake: FakeOpenAI) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)


async def chunks(fake: FakeOpenAI, **kw: Any) -> list[Any]:
    async with client(fake) as oai:
        stream = await oai.chat.completions.create(
            model="gpt-test", messages=kw.pop("messages", MSGS), stream=True, **kw
        )
        return [chunk async for chunk in stream]


async def test_calls_stream_interleaved_in_pieces_and_the_sdk_puts_them_together():
    calls = [Call("search_slack", {"query": "deploy freeze"}, id="c1"),
             Call("search_slack", {"query": "release"}, id="c2")]
    async with FakeOpenAI() as fake:
        fake.script(Reply("Looking.", tool_calls=calls, tool_call_pieces=3))
        got = await chunks(fake, tools=[TOOL])
    fragments = [c.choices[0].delta.tool_calls[0] for c in got
                 if c.choices and c.choices[0].delta.tool_calls]
    assert [f.index for f in fragments[:4]] == [0, 1, 0, 1]  # interleaved
    assert fragments[0].id == "c1" and fragments[0].function.name == "search_slack"
    assert all(f.id is None and f.function.name is None for f in fragments[2:])
    assert len(fragments) == 2 + 2 * 3  # a first fragment, then three pieces, per call
    state = ChatCompletionStreamState()
    for chunk in got:
        state.handle_chunk(chunk)
    final = state.get_final_completion().choices[0]
    assert final.finish_reason == "tool_calls"
    assert final.message.content == "Looking."
    assert [(t.id, t.function.arguments) for t in final.message.tool_calls] == [
        ("c1", '{"query": "deploy freeze"}'), ("c2", '{"query": "release"}')]


async def test_malformed_calls_go_out_as_scripted():
    async with FakeOpenAI() as fake:
        fake.script(Reply("", tool_calls=[Call("nope", '{"a": ', id=None)], same_index=True))
        got = await chunks(fake, tools=[TOOL])
    first = got[1].choices[0].delta.tool_calls[0]
    assert first.id is None and first.function.name == "nope"
    pieces = "".join(c.choices[0].delta.tool_calls[0].function.arguments or "" for c in got
                     if c.choices and c.choices[0].delta.tool_calls)
    assert pieces == '{"a": '


async def test_a_non_streamed_answer_carries_its_calls():
    async with FakeOpenAI() as fake:
        fake.script(Reply("", tool_calls=[Call("search_slack", {"query": "x"}, id="c9")]))
        async with client(fake) as oai:
            done = await oai.chat.completions.create(model="gpt-test", messages=MSGS,
                                                     tools=[TOOL])
    choice = done.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.tool_calls[0].id == "c9"


async def test_every_call_must_be_answered_by_a_tool_message():
    asked = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "search_slack", "arguments": "{}"}},
        {"id": "c2", "type": "function", "function": {"name": "search_slack", "arguments": "{}"}},
    ]}
    answered = {"role": "tool", "tool_call_id": "c1", "content": "none"}
    async with FakeOpenAI() as fake:
        with pytest.raises(openai.BadRequestError) as unanswered:
            await chunks(fake, messages=[*MSGS, asked, answered], tools=[TOOL])
        with pytest.raises(openai.BadRequestError) as stray:
            await chunks(fake, messages=[*MSGS, answered], tools=[TOOL])
        fake.script(Reply("fine"))
        both = [answered, {"role": "tool", "tool_call_id": "c2", "content": "none"}]
        ok = await chunks(fake, messages=[*MSGS, asked, *both], tools=[TOOL])
    assert "did not have response messages: c2" in str(unanswered.value)
    assert "must be a response to a preceeding message" in str(stray.value)
    assert "".join(c.choices[0].delta.content or "" for c in ok if c.choices) == "fine"


async def test_a_function_name_openai_refuses():
    bad = {"type": "function", "function": {"name": "search slack!", "parameters": {}}}
    async with FakeOpenAI() as fake:
        with pytest.raises(openai.BadRequestError) as refused:
            await chunks(fake, tools=[bad])
    assert refused.value.param == "tools[0].function.name"


@pytest.mark.parametrize(
    ("style", "words"),
    [("ollama", "does not support tools"), ("vllm", "--enable-auto-tool-choice"),
     ("litellm", "UnsupportedParamsError")],
)
async def test_servers_without_tools_refuse_them_in_their_words(style, words):
    async with FakeOpenAI(no_tools=style) as fake:
        with pytest.raises(openai.BadRequestError) as refused:
            await chunks(fake, tools=[TOOL])
        fake.script(Reply("plain"))
        plain = await chunks(fake)
    assert words in str(refused.value.body) or words in str(refused.value)
    assert "".join(c.choices[0].delta.content or "" for c in plain if c.choices) == "plain"

"""Tool calls: fragments gathered into calls, calls checked, servers that take no tools; and
the model client offering tools to the fake model."""

from __future__ import annotations

import logging
from dataclasses import replace

import httpx2
import openai
import pytest

from fakes.openai import Call, Reply
from fakes.openai_tools import call_fragments, no_tools_error, tools_problem
from slackgpt.model.client import Completion, ModelClient, build_openai_client
from slackgpt.model.tool_calls import CallParts, ToolCall, check_calls, refuses_tools

pytestmark = pytest.mark.timeout(20)

TOOLS = [{"type": "function", "function": {"name": "search_slack", "parameters": {}}}]


def gathered(*fragment_lists: list[dict]) -> list[ToolCall]:
    parts = CallParts()
    for fragments in fragment_lists:
        parts.add(fragments)
    return parts.calls


def test_interleaved_fragments_make_whole_calls():
    calls = [Call("a", {"q": "one two"}, id="c1"), Call("b", {"n": 3}, id="c2")]
    got = gathered(*call_fragments(calls, pieces=4))
    assert [(c.id, c.name, c.arguments) for c in got] == [
        ("c1", "a", '{"q": "one two"}'),
        ("c2", "b", '{"n": 3}'),
    ]


def test_one_index_for_every_call_is_told_apart_by_id():
    calls = [Call("a", {"q": 1}, id="c1"), Call("a", {"q": 2}, id="c2")]
    got = gathered(*call_fragments(calls, same_index=True))
    assert [(c.id, c.arguments) for c in got] == [("c1", '{"q": 1}'), ("c2", '{"q": 2}')]


def test_fragments_of_no_known_shape_are_ignored():
    got = gathered("nonsense", [None, {"index": "x", "function": "?"}])  # type: ignore[arg-type]
    assert [(c.index, c.name, c.arguments) for c in got] == [(0, "", "")]


def test_checked_calls_say_what_was_wrong():
    calls = [
        ToolCall(0, "c1", "search_slack", '{"query": "x"}'),
        ToolCall(1, "c2", "search_slack", '{"query": '),
        ToolCall(2, "c3", "delete_everything", "{}"),
        ToolCall(3, "", "search_slack", "{}"),
        ToolCall(4, "c5", "search_slack", "[1, 2]"),
        ToolCall(5, "c6", "search_slack", ""),
    ]
    checked = check_calls(calls, {"search_slack"}, "made_")
    assert [c.id for c in checked] == ["c1", "c2", "c3", "made_3", "c5", "c6"]
    assert checked[0].arguments == {"query": "x"} and checked[0].problem is None
    assert "not a JSON object" in (checked[1].problem or "")
    assert "no tool named 'delete_everything'" in (checked[2].problem or "")
    assert "search_slack" in (checked[2].problem or "")  # the tools there are
    assert "no id" in (checked[3].problem or "")
    assert "not a JSON object" in (checked[4].problem or "")
    assert checked[5].arguments == {} and checked[5].problem is None


def status_error(status: int, body: dict) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://model/v1/chat/completions")
    response = httpx2.Response(status, json=body, request=request)
    kind = openai.BadRequestError if status == 400 else openai.UnprocessableEntityError
    inner = body.get("error", body)
    return kind(f"Error code: {status} - {inner.get('message')}", response=response, body=body)


@pytest.mark.parametrize("style", ["ollama", "vllm", "litellm"])
def test_servers_without_tools_are_recognised(style):
    body = no_tools_error(style, {"model": "llama3"})  # type: ignore[arg-type]
    assert refuses_tools(status_error(400, body))


def test_other_refusals_are_not_about_tools():
    context = {"error": {"message": "This model's maximum context length is 8192 tokens.",
                         "type": "invalid_request_error", "param": "messages", "code": None}}
    unanswered = {"error": {"message": "An assistant message with 'tool_calls' must be "
                            "followed by tool messages", "param": "messages.[3].role"}}
    assert not refuses_tools(status_error(400, context))
    assert not refuses_tools(status_error(400, unanswered))
    assert refuses_tools(status_error(422, {"error": {"message": "x", "param": "tools"}}))
    too_many = tools_problem({"tools": TOOLS * 129, "messages": []})
    assert not refuses_tools(status_error(400, too_many))  # a server that takes 128 of them


async def streamed(model: ModelClient, tools: list[dict] | None) -> tuple[str, Completion]:
    completion = Completion()
    text = ""
    async for piece in model.stream([{"role": "user", "content": "hi"}], completion, tools):
        text += piece if isinstance(piece, str) else ""
    return text, completion


async def test_the_client_offers_tools_and_gathers_the_calls(settings, llm):
    llm.script(Reply("Let me look.", tool_calls=[Call("search_slack", {"query": "q"}, id="c1"),
                                                 Call("search_slack", '{"que', id="c2")]))
    model = ModelClient(build_openai_client(settings), settings)
    try:
        text, completion = await streamed(model, TOOLS)
    finally:
        await model.close()
    assert text == "Let me look."
    assert completion.finish_reason == "tool_calls"
    calls = completion.tool_calls.calls
    assert [(c.id, c.arguments) for c in calls] == [("c1", '{"query": "q"}'), ("c2", '{"que')]
    assert llm.requests[0]["tools"] == TOOLS


@pytest.mark.parametrize("style", ["ollama", "vllm", "litellm"])
async def test_a_server_without_tools_answers_plainly_and_is_told_once(
    settings, llm, caplog, style
):
    llm.no_tools = style
    llm.script(Reply("plain"), Reply("again"))
    model = ModelClient(build_openai_client(settings), replace(settings))
    caplog.set_level(logging.WARNING, "slackgpt.model.client")
    try:
        first, _ = await streamed(model, TOOLS)
        second, _ = await streamed(model, TOOLS)
    finally:
        await model.close()
    assert (first, second) == ("plain", "again")
    assert ["tools" in r for r in llm.requests] == [True, False, False]
    lines = [r.getMessage() for r in caplog.records if "does not take tools" in r.getMessage()]
    assert len(lines) == 1 and "gpt-test" in lines[0]
    assert model.takes_tools is False

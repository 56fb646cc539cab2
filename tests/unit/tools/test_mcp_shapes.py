"""MCP tools and results as the answerer sees them: names, titles, writes, results."""

from __future__ import annotations

import base64
import re

from mcp import Client
from mcp_types import (
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
    ToolAnnotations,
)
from mcp_types import Tool as Spec

from fakes.mcp_server import build
from slackgpt.tools.base import Source
from slackgpt.tools.mcp_shapes import (
    description_of,
    model_names,
    parameters_of,
    title_of,
    to_result,
    writes,
)

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def spec(name: str = "create_issue", **fields) -> Spec:
    return Spec(name=name, input_schema=fields.pop("input_schema", {"type": "object"}), **fields)


def test_names_fit_the_models_alphabet_and_stay_unique_across_servers():
    tools = [("linear", "issues.list"), ("linear", "issues_list"), ("github", "issues.list"),
             ("a" * 30, "b" * 60), ("x", "y/z é")]
    names = model_names(tools)
    assert all(NAME.match(n) for n in names.values())
    assert len(set(names.values())) == len(tools)
    assert names[("github", "issues.list")] == "github_issues_list"
    assert len(names[("a" * 30, "b" * 60)]) == 64
    assert model_names(reversed(tools)) == names  # the same names, whatever the order


def test_the_title_comes_from_the_tool_then_its_annotations_then_its_name():
    assert title_of(spec(title="Create an issue"), "linear") == "Create an issue (linear)"
    annotated = spec(annotations=ToolAnnotations(title="New issue"))
    assert title_of(annotated, "linear") == "New issue (linear)"
    assert title_of(spec(), "linear") == "create_issue (linear)"


def test_a_tool_writes_unless_its_server_says_it_only_reads():
    assert writes(spec())  # no annotations: MCP's defaults say it may destroy
    assert writes(spec(annotations=ToolAnnotations(destructive_hint=False)))
    assert writes(spec(annotations=ToolAnnotations(read_only_hint=False)))
    assert not writes(spec(annotations=ToolAnnotations(read_only_hint=True)))


def test_the_schema_and_description_fit_chat_completions():
    assert parameters_of(spec(input_schema={})) == {"type": "object", "properties": {}}
    assert description_of(spec(description="x" * 5000), "s").endswith("… (MCP server s)")
    assert description_of(spec(), "s") == "create_issue (MCP server s)"


def test_text_is_joined_and_other_content_is_described_in_a_line():
    png = base64.b64encode(b"\x89PNG" + b"0" * 4096).decode()
    result = CallToolResult(content=[
        TextContent(text="two tickets"),
        ImageContent(data=png, mime_type="image/png"),
        ResourceLink(name="TCK-1", uri="https://tickets.example/1", title="Login fails"),
        EmbeddedResource(resource=TextResourceContents(uri="file:///notes.md", text="# Notes")),
    ])
    converted = to_result(result)
    assert converted.text.splitlines() == [
        "two tickets",
        "[image: image/png, 4 KB, not shown to you]",
        "[link: Login fails <https://tickets.example/1>]",
        "[resource file:///notes.md]",
        "# Notes",
    ]
    assert converted.sources == (Source("Login fails", "https://tickets.example/1"),)
    assert not converted.error


def test_an_error_result_is_an_error_and_empty_output_says_so():
    failed = to_result(CallToolResult(content=[TextContent(text="no such team")], is_error=True))
    assert failed.error and failed.text == "The tool failed: no such team"
    assert to_result(CallToolResult(content=[])).text == "(no output)"


def test_structured_content_is_compact_json_said_once():
    pretty = '{\n  "open": 2,\n  "closed": 0\n}'
    both = CallToolResult(content=[TextContent(text=pretty)],
                          structured_content={"open": 2, "closed": 0})
    assert to_result(both).text == '{"open":2,"closed":0}'
    alone = CallToolResult(content=[], structured_content={"ids": [1, 2]})
    assert to_result(alone).text == '{"ids":[1,2]}'
    wrapped = CallToolResult(content=[TextContent(text="5")], structured_content={"result": 5})
    assert to_result(wrapped).text == "5"


async def test_results_of_a_real_server_convert():
    async with Client(build()) as client:
        stats = to_result(await client.call_tool("tickets.stats", {}))
        found = to_result(await client.call_tool("search_tickets", {"query": "login"}))
        broken = to_result(await client.call_tool("broken", {}))
    assert stats.text == '{"open":0,"closed":0}'
    assert found.text == "TCK-1 Login fails (login)"
    assert broken.error and "the ticket database is on fire" in broken.text


def test_a_schema_a_model_server_would_refuse_is_named():
    from slackgpt.tools.mcp_shapes import schema_problem

    good = {"type": "object", "properties": {"title": {"type": "string"}}}
    assert schema_problem(good) is None
    bad = {"type": "object", "properties": {"title": {"type": "text"}}}
    said = schema_problem(bad)
    assert said is not None and "properties/title/type" in said
    assert schema_problem({"type": "object", "required": "title"}) is not None

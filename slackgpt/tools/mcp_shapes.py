"""What an MCP server's tools and results become for the answerer: names the model accepts,
titles, whether a tool writes, and a :class:`~slackgpt.tools.base.ToolResult` from a
``CallToolResult``. Pure.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

import jsonschema
from mcp_types import (
    AudioContent,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)
from mcp_types import Tool as McpToolSpec

from slackgpt.tools.base import NAME, Source, ToolResult

MAX_NAME = 64  # Chat Completions' limit on a function name
DESCRIPTION_CHARS = 1_000  # of a server's description of a tool, sent with every question
_OUTSIDE = re.compile(r"[^A-Za-z0-9_-]+")


def model_names(tools: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """A name the model accepts (``^[A-Za-z0-9_-]{1,64}$``) for each (server, tool), unique
    across servers and the same whenever the same tools are listed: ``server_tool``, with
    other characters made ``_`` and a short hash when cut or taken."""
    names: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for server, tool in sorted(set(tools)):
        name = _OUTSIDE.sub("_", f"{server}_{tool}").strip("_") or "tool"
        if len(name) > MAX_NAME or name in taken:
            digest = hashlib.sha1(f"{server}/{tool}".encode()).hexdigest()[:8]
            name = f"{name[: MAX_NAME - 9]}_{digest}"
        while name in taken:  # a hash taken too: vanishingly rare, still never a duplicate
            name = f"{name[: MAX_NAME - 2]}_{len(taken) % 10}"
        assert NAME.match(name), name
        names[(server, tool)] = name
        taken.add(name)
    return names


def title_of(tool: McpToolSpec, server: str) -> str:
    """What a person sees for the tool: its title (or its annotations' title, or its name),
    and the server's name."""
    annotated = tool.annotations.title if tool.annotations else None
    shown = " ".join((tool.title or annotated or tool.name).split())[:80]
    return f"{shown} ({server})"


def writes(tool: McpToolSpec) -> bool:
    """True unless the server says the tool only reads: by MCP's defaults (``readOnlyHint``
    false, ``destructiveHint`` true) a tool without annotations changes something."""
    return not (tool.annotations is not None and tool.annotations.read_only_hint is True)


def description_of(tool: McpToolSpec, server: str) -> str:
    """The tool's description for the model, capped, with where it comes from."""
    text = " ".join((tool.description or tool.title or tool.name).split())
    if len(text) > DESCRIPTION_CHARS:
        text = text[: DESCRIPTION_CHARS - 1] + "…"
    return f"{text} (MCP server {server})"


def parameters_of(tool: McpToolSpec) -> dict:
    """The tool's input schema as Chat Completions takes it: an object with properties."""
    schema = dict(tool.input_schema or {})
    schema["type"] = "object"
    schema.setdefault("properties", {})
    return schema


def schema_problem(parameters: dict) -> str | None:
    """Why a tool's input schema is not a JSON Schema the model's server would take (a
    request offering it would be refused whole), or None."""
    try:
        jsonschema.Draft202012Validator.check_schema(parameters)
    except jsonschema.SchemaError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "the top"
        return f"{error.message[:200]} (at {where})"
    return None


def to_result(result: CallToolResult) -> ToolResult:
    """The model's view of a tool's result: its text, a line for each image, sound or
    resource, the structured content as compact JSON (unless the text already says it)."""
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    lines: list[str] = []
    sources: list[Source] = []
    for block in result.content:
        if isinstance(block, TextContent):
            lines.append(block.text)
        else:
            lines.append(_describe(block))
            source = _source(block)
            if source is not None:
                sources.append(source)
    structured = result.structured_content
    if structured is not None and not any(_wraps(structured, t) for t in texts):
        lines = [line for line in lines if not _same(line, structured)]
        lines.append(compact(structured))
    text = "\n".join(line for line in lines if line.strip()) or "(no output)"
    if result.is_error:
        return ToolResult(f"The tool failed: {text}", tuple(sources), error=True)
    return ToolResult(text, tuple(sources))


def compact(value: Any) -> str:
    """JSON without spaces (unknown types as text)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _describe(block: Any) -> str:
    if isinstance(block, (ImageContent, AudioContent)):
        kind = "image" if isinstance(block, ImageContent) else "audio"
        size = len(block.data) * 3 // 4
        return f"[{kind}: {block.mime_type}, {_size(size)}, not shown to you]"
    if isinstance(block, ResourceLink):
        name = block.title or block.name
        return f"[link: {name} <{block.uri}>{_kind(block.mime_type)}]"
    if isinstance(block, EmbeddedResource):
        resource = block.resource
        if isinstance(resource, TextResourceContents):
            return f"[resource {resource.uri}{_kind(resource.mime_type)}]\n{resource.text}"
        size = len(resource.blob) * 3 // 4
        return f"[resource {resource.uri}{_kind(resource.mime_type)}, {_size(size)}, not shown]"
    return f"[{getattr(block, 'type', 'content')} not shown]"


def _source(block: Any) -> Source | None:
    """A link to show under the task, for a resource link to a web page."""
    if isinstance(block, ResourceLink) and str(block.uri).startswith(("https://", "http://")):
        return Source(title=(block.title or block.name)[:200], url=str(block.uri))
    return None


def _kind(mime: str | None) -> str:
    return f", {mime}" if mime else ""


def _size(size: int) -> str:
    return f"{size} bytes" if size < 1024 else f"{size // 1024} KB"


def _wraps(structured: Any, text: str) -> bool:
    """True when ``structured`` is a plain return value wrapped as ``{"result": …}``, which
    ``text`` already says (how the SDK's servers return a string or a number)."""
    if not isinstance(structured, dict) or set(structured) != {"result"}:
        return False
    return structured["result"] == text or _same(text, structured["result"])


def _same(text: str, value: Any) -> bool:
    """True when ``text`` is ``value`` serialized as JSON (in any layout)."""
    try:
        return json.loads(text) == value
    except ValueError:
        return False

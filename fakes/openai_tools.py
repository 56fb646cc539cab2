"""Tool calls on FakeOpenAI's wire: scripted calls streamed as servers stream them, the checks
OpenAI makes of ``tools`` and of tool messages, and how servers without tools refuse them.

Sources: the SDK's ``ChoiceDeltaToolCall`` (``openai/types/chat/chat_completion_chunk.py``): the
first fragment of a call carries ``index``, ``id``, ``type`` and ``function.name``, later ones
``index`` and pieces of ``function.arguments``; the wording of OpenAI's 400s as users quote them
(BerriAI/litellm#10083, agno-agi/agno#3105); Ollama (ollama/ollama#6027, #14795), vLLM
(vllm-project/vllm#9986) and LiteLLM (``UnsupportedParamsError``, BerriAI/litellm#10791).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from fakes.openai_wire import Json, openai_error, vllm_error

NoTools = Literal["ollama", "vllm", "litellm"]
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MOST_TOOLS = 128  # functions in one request


@dataclass
class Call:
    """One tool call the fake model makes: ``arguments`` as a dict (sent as JSON) or as the
    exact text (malformed on purpose, e.g. ``'{"query": '``); ``id=None`` sends none."""

    name: str
    arguments: Json | str = field(default_factory=dict)
    id: str | None = field(default_factory=lambda: "call_" + secrets.token_hex(8))

    @property
    def text(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


def call_fragments(
    calls: list[Call], *, pieces: int = 3, interleave: bool = True, same_index: bool = False
) -> list[list[Json]]:
    """The ``delta.tool_calls`` of each chunk a server streams for ``calls``: per call a first
    fragment (id, type, name, empty arguments), then its arguments in ``pieces`` parts;
    ``interleave``: the calls' fragments alternate (round robin), else one call after the
    other. ``same_index``: every call at index 0, told apart by its id (Ollama-compatible
    servers)."""
    per_call: list[list[Json]] = []
    for index, call in enumerate(calls):
        at = 0 if same_index else index
        first: Json = {"index": at, "type": "function", "function": {"name": call.name}}
        first["function"]["arguments"] = ""
        if call.id is not None:
            first["id"] = call.id
        size = max(1, -(-len(call.text) // max(1, pieces)))
        rest = [
            {"index": at, "function": {"arguments": call.text[i : i + size]}}
            for i in range(0, len(call.text), size)
        ]
        per_call.append([first, *rest])
    if not interleave or same_index:  # one index for all: a call's pieces must stay together
        return [[fragment] for fragments in per_call for fragment in fragments]
    longest = max((len(f) for f in per_call), default=0)
    return [[f[i]] for i in range(longest) for f in per_call if i < len(f)]


def message_calls(calls: list[Call]) -> list[Json]:
    """The calls as a non-streamed ``message.tool_calls``."""
    return [
        {"id": c.id or "", "type": "function", "function": {"name": c.name, "arguments": c.text}}
        for c in calls
    ]


def tools_problem(body: Json) -> Json | None:
    """OpenAI's 400 body for malformed ``tools`` or tool messages, or None when all is well:
    every function named as OpenAI allows, every ``tool_calls`` answered by a ``tool``
    message, no ``tool`` message that answers nothing."""
    tools = body.get("tools")
    if isinstance(tools, list) and len(tools) > MOST_TOOLS:  # OpenAI's words and code
        message = (f"Invalid 'tools': array too long. Expected an array with maximum length "
                   f"{MOST_TOOLS}, but got an array with length {len(tools)} instead.")
        return openai_error(message, "invalid_request_error", "array_above_max_length", "tools")
    if tools is not None:
        for i, tool in enumerate(tools if isinstance(tools, list) else [None]):
            function = tool.get("function") if isinstance(tool, dict) else None
            name = function.get("name") if isinstance(function, dict) else None
            if not isinstance(name, str) or not NAME.match(name):
                return _invalid(
                    f"Invalid 'tools[{i}].function.name': string does not match pattern. "
                    "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                    f"tools[{i}].function.name",
                )
    return _unanswered(body.get("messages") or [])


def _unanswered(messages: list[Any]) -> Json | None:
    waiting: list[str] = []  # ids of the last assistant message's calls not answered yet
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "tool":
            if message.get("tool_call_id") not in waiting:
                return _invalid(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",  # sic: OpenAI's spelling
                    f"messages.[{i}].role",
                )
            waiting.remove(message["tool_call_id"])
            continue
        if waiting:
            return _unanswered_error(waiting, i)
        if role == "assistant":
            waiting = [c.get("id") for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    return _unanswered_error(waiting, len(messages)) if waiting else None


def _unanswered_error(waiting: list[str], at: int) -> Json:
    return _invalid(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        f"{', '.join(waiting)}",
        f"messages.[{at}].role",
    )


def _invalid(message: str, param: str) -> Json:
    return openai_error(message, "invalid_request_error", None, param)


def no_tools_error(style: NoTools, body: Json) -> Json:
    """The 400 body of a server that takes no tools, as each words it."""
    model = body.get("model")
    if style == "ollama":
        message = f"registry.ollama.ai/library/{model} does not support tools"
        return openai_error(message, "api_error", None)
    if style == "vllm":
        return vllm_error(
            '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser '
            "to be set"
        )
    if style == "litellm":
        message = (
            f"litellm.UnsupportedParamsError: ollama does not support parameters: ['tools'], "
            f"for model={model}. To drop these, set `litellm.drop_params=True` or for proxy:"
            "\n\n`litellm_settings:\n drop_params: true`\n"
        )
        return {"error": {"message": message, "type": "None", "param": None, "code": "400"}}
    raise ValueError(f"unknown no-tools style {style!r}")

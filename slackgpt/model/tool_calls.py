"""The model's tool calls as a stream carries them, and servers that take no tools. Pure.

A streamed call comes in fragments (``delta.tool_calls``), keyed by ``index``: the first
carries the ``id``, ``type`` and ``function.name``, later ones pieces of ``function.arguments``;
several calls may be interleaved. Some Ollama-compatible servers give every call of a batch
index 0 and tell them apart by ``id`` only, so a new ``id`` at a used index starts a new call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import openai


@dataclass
class ToolCall:
    """One call as the model made it: ``arguments`` is raw text (JSON when well formed)."""

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class CallParts:
    """The calls of one streamed answer, gathered fragment by fragment."""

    calls: list[ToolCall] = field(default_factory=list)
    _open: dict[int, ToolCall] = field(default_factory=dict)  # index -> the call it names now

    def add(self, fragments: object) -> None:
        """Take one delta's ``tool_calls``; fragments of no known shape are ignored."""
        for fragment in fragments if isinstance(fragments, list) else ():
            if not isinstance(fragment, dict):
                continue
            index = fragment.get("index")
            index = index if isinstance(index, int) and not isinstance(index, bool) else 0
            new_id = fragment.get("id") if isinstance(fragment.get("id"), str) else ""
            call = self._open.get(index)
            if call is None or (new_id and call.id and new_id != call.id):
                call = ToolCall(index)
                self._open[index] = call
                self.calls.append(call)
            call.id = call.id or new_id
            function = fragment.get("function")
            if isinstance(function, dict):
                if isinstance(function.get("name"), str):
                    call.name += function["name"]
                if isinstance(function.get("arguments"), str):
                    call.arguments += function["arguments"]

    def __bool__(self) -> bool:
        return bool(self.calls)


@dataclass(frozen=True)
class Checked:
    """A call ready to answer: its id (made up when the model gave none), its name, its
    parsed ``arguments``, and ``problem`` when it cannot run (then told to the model)."""

    id: str
    name: str
    raw: str
    arguments: dict | None = None
    problem: str | None = None


def check_calls(calls: list[ToolCall], known: set[str], prefix: str) -> list[Checked]:
    """Each call checked against the tools ``known``; ids made up as ``prefix`` + n where
    the model gave none (or gave one twice), so that every call can be answered."""
    checked: list[Checked] = []
    seen: set[str] = set()
    for n, call in enumerate(calls):
        problem = None
        call_id = call.id
        if not call_id or call_id in seen:
            call_id = f"{prefix}{n}"
            problem = "the call had no id of its own, so it was not run"
        seen.add(call_id)
        arguments = _parsed(call.arguments)
        if problem is None and call.name not in known:
            names = ", ".join(sorted(known)) or "none"
            problem = f"there is no tool named {call.name!r} (the tools are: {names})"
        elif problem is None and arguments is None:
            problem = "its arguments were not a JSON object, so it was not run"
        checked.append(Checked(call_id, call.name, call.arguments, arguments, problem))
    return checked


def _parsed(raw: str) -> dict | None:
    """The arguments as a dict; an empty text is an empty object (a tool without parameters)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# How servers that take no tools say so (see docs/operations.md): Ollama "<model> does not
# support tools"; vLLM '"auto" tool choice requires --enable-auto-tool-choice…'; LiteLLM
# "UnsupportedParamsError: … does not support parameters: ['tools', …]"; servers that know
# no such field ("Unrecognized request argument supplied: tools", "Unknown parameter:
# 'tools'", pydantic's "extra_forbidden" at ('body', 'tools')).
_NO_TOOLS = re.compile(
    r"does not support tools|support(?:s)? (?:function|tool) call"
    r"|tool.choice requires|enable-auto-tool-choice|tool-call-parser"
    r"|unsupportedparamserror[^\n]*tool|argument(?:s)? supplied:[^\n]*\btools\b"
    r"|unknown parameter: '(?:tools|tool_choice)'|'body', 'tools'",
    re.IGNORECASE,
)


def refuses_tools(error: BaseException) -> bool:
    """True when a server refused a request because of its ``tools`` (400/422)."""
    if not isinstance(error, (openai.BadRequestError, openai.UnprocessableEntityError)):
        return False
    body = error.body if isinstance(error.body, dict) else {}
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    if inner.get("code") == "array_above_max_length":  # too many of them: it takes tools
        return False
    if str(inner.get("param") or "") in ("tools", "tool_choice"):
        return True
    return bool(_NO_TOOLS.search(f"{error} {json.dumps(body, default=str)}"))

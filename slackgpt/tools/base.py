"""What a tool is to the answerer: the name and schema the model sees, whether it writes (and
so needs the asker's approval), how it runs for one asker, and what it returns. Pure.

Built-in tools (Slack search, a linked message) and MCP servers' tools all take this shape;
the answerer's tool loop knows nothing else of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

# What Chat Completions accepts as a function name.
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Source:
    """Something a result came from, shown as a link under the task (a Slack permalink…)."""

    title: str
    url: str


@dataclass(frozen=True)
class ToolResult:
    """What a tool gave back: ``text`` for the model (untrusted: the loop caps it and counts
    it in the context budget), ``sources`` to show, ``error`` when it failed (``text`` says
    why, for the model), ``summary``: a few words for the person when it is done ("3
    results"; shown beside the tool's title, untrusted like the rest)."""

    text: str
    sources: tuple[Source, ...] = ()
    error: bool = False
    summary: str = ""


@dataclass(frozen=True)
class Asker:
    """Who a tool runs for: its results must be what this person may see."""

    user: str
    channel: str
    thread_ts: str
    team: str | None = None
    action_token: str | None = None  # Slack's token to search as this person (their message)
    message_ts: str | None = None  # the question's own message


class Tool(Protocol):
    """One tool the model may call."""

    name: str  # as the model sees it (NAME)
    title: str  # what the person sees while it runs ("Searching Slack")
    description: str
    parameters: dict  # JSON Schema of the arguments (an object)
    writes: bool  # changes something: runs only after the asker approves

    async def run(self, arguments: dict, asker: Asker) -> ToolResult:
        """Run with the model's (parsed) ``arguments``; never raises for a failed call."""
        ...


class Approver(Protocol):
    """Asks the asker whether a writing tool may run (Slack buttons only they can press)."""

    async def approve(self, tool: Tool, arguments: dict, asker: Asker) -> bool:
        """True once the asker approved; False when they refused or did not answer in time."""
        ...


def function_specs(tools: Iterable[Tool]) -> list[dict]:
    """The Chat Completions ``tools`` field for ``tools``."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in tools
    ]

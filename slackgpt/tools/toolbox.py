"""Which tools one question gets: the process's :class:`Toolkit` (sources of tools and the
approver for writing ones) makes a :class:`Toolbox` per question, for its asker. Pure.

A source is anything with ``tools_for(asker, text)``: the built-in Slack tools, and MCP
servers' tools (added with :meth:`Toolkit.add`). The first tool of a name wins; a name the
model could not call (not ``[A-Za-z0-9_-]{1,64}``) is left out, with one log line, and so are
the tools past the 128 a request may offer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from slackgpt.slack.events import Question
from slackgpt.tools.base import NAME, Approver, Asker, Tool, function_specs

log = logging.getLogger(__name__)
MOST_TOOLS = 128  # functions one Chat Completions request may offer (OpenAI refuses more)


class ToolSource(Protocol):
    """Offers tools for a question."""

    def tools_for(self, asker: Asker, text: str) -> Iterable[Tool]:
        """The tools for one question, asked by ``asker``; ``text``: the question and its
        thread as the model reads them (a source may offer a tool only when it is of use).
        Quick and without I/O: a source that needs I/O keeps its list ready."""
        ...


@dataclass(frozen=True)
class Toolbox:
    """The tools one question may use, who asks, and who approves writing ones (None: no
    one can, so writing tools are refused)."""

    asker: Asker
    tools: Mapping[str, Tool] = field(default_factory=dict)
    approver: Approver | None = None

    def __bool__(self) -> bool:
        return bool(self.tools)

    def specs(self) -> list[dict]:
        """The Chat Completions ``tools`` field."""
        return function_specs(self.tools.values())

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)


class Toolkit:
    """The process's tools: sources, and the approver of writing tools."""

    def __init__(self, sources: Iterable[ToolSource] = (), approver: Approver | None = None):
        self.sources: list[ToolSource] = list(sources)
        self.approver = approver
        self._told: set[str] = set()  # names already logged as left out

    def add(self, source: ToolSource) -> None:
        """Offer ``source``'s tools too (after those already there)."""
        self.sources.append(source)

    def toolbox(
        self, asker: Asker, text: str = "", offered: Callable[[Tool], bool] | None = None
    ) -> Toolbox:
        """The tools for one question (see :meth:`ToolSource.tools_for`); ``offered``: which
        of them its conversation's profile offers (None: all)."""
        tools: dict[str, Tool] = {}
        for source in self.sources:
            for tool in source.tools_for(asker, text):
                if offered is not None and not offered(tool):
                    continue
                if not NAME.match(tool.name) or tool.name in tools:
                    self._leave_out(tool.name)
                    continue
                tools[tool.name] = tool
        return Toolbox(asker, self._within_most(tools), self.approver)

    def _within_most(self, tools: dict[str, Tool]) -> dict[str, Tool]:
        """The first :data:`MOST_TOOLS` (the built-ins come first): a request with more is
        refused, and that refusal would read as a server that takes no tools."""
        if len(tools) <= MOST_TOOLS:
            return tools
        if "too many" not in self._told:
            self._told.add("too many")
            log.warning("%d tools left out: more tools than a model takes in one request (%d); "
                        "offer fewer (an MCP server's allow_tools or deny_tools, a profile's "
                        "mcp_servers)", len(tools) - MOST_TOOLS, MOST_TOOLS)
        return dict(list(tools.items())[:MOST_TOOLS])

    def _leave_out(self, name: str) -> None:
        if name not in self._told:
            self._told.add(name)
            log.warning("tool %r left out: its name is taken or not one a model can call", name)


def asker_of(question: Question) -> Asker:
    """Who a question's tools run for: results must be what this person may see."""
    return Asker(
        user=question.user,
        channel=question.channel,
        thread_ts=question.thread_ts or question.ts,
        team=question.team,
        action_token=question.action_token,
        message_ts=question.ts,
    )

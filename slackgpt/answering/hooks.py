"""The hooks the answerer offers to Slack surfaces (the AI pane fills them): what a surface
adds to an answer."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from slackgpt.slack.events import Question


@dataclass(frozen=True)
class Addition:
    """What a surface adds to one answer: the bot's own words for the system prompt;
    ``quoted`` material written by anyone (e.g. the channel in view), which the model sees
    as a user message marked as quotes, never as instructions; notes under the answer."""

    system: str = ""
    quoted: str = ""
    notes: tuple[str, ...] = ()


class Extras(Protocol):
    """What a Slack surface adds to an answer (the AI pane and the agent view: the channel in
    view, titles)."""

    async def addition(self, question: Question, thread: Awaitable[list[dict]]) -> Addition:
        """Read alongside the thread (``thread`` resolves to it); never raises."""
        ...

    def session_title(self, question: Question) -> str | None:
        """The title of an agent session that ``question`` opens (no I/O)."""
        ...

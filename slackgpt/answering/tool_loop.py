"""The tool loop's decisions: what the model is sent each round (the thread, then the calls
and their results, all within the context budget), how much of a tool's output it sees, and
what the person is shown of a call. Pure.

A round is one model request; when the model calls tools, their results go back as ``tool``
messages (one per call id, always) and the model is asked again, at most ``rounds`` times;
the last request offers no tools, so it must answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from slackgpt.answering.prompt import Prompt
from slackgpt.model import failures
from slackgpt.model.tokens import estimate_tokens, messages_tokens, truncate_text
from slackgpt.model.tool_calls import Checked

CUT = "\n\n[… the rest of this tool's output was cut to fit the model's context]"
DROPPED = "[this tool's output was dropped to fit the model's context]"
TURNS_SHARE = 2  # tool calls and results take at most 1/2 of the context budget
ROUND_SHARE = 4  # one round's results at most 1/4 of it
DETAILS_CHARS = 120


@dataclass(frozen=True)
class Limits:
    """``rounds`` of tool calls at most; ``timeout`` seconds per call; ``output_tokens`` of a
    call's output at most; ``approvals``: requests one answer may post for the asker's
    approval (more writing calls are refused: the thread is not flooded with buttons)."""

    rounds: int = 6
    timeout: float = 30.0
    output_tokens: int = 4_000
    approvals: int = 5


@dataclass
class Tally:
    """What the tools did in one answer (for its log line)."""

    rounds: int = 0
    calls: int = 0
    failed: int = 0  # errors, time-outs, refusals and malformed calls
    timed_out: int = 0


@dataclass
class Talk:
    """What the model is sent: the thread (``build(budget)``), then the rounds' calls and
    results, within ``budget`` tokens with the ``tools`` field's own cost."""

    build: Callable[[int], Prompt]
    budget: int
    tools_tokens: int = 0
    turns: list[dict] = field(default_factory=list)
    base: Prompt | None = None

    def messages(self) -> list[dict]:
        """The request's messages: the thread within what the turns leave of the budget."""
        turns = fit_turns(self.turns, self.budget // TURNS_SHARE)
        room = self.budget - self.tools_tokens - (messages_tokens(turns) if turns else 0)
        self.base = self.build(max(1, room))
        return [*self.base.messages, *turns]

    @property
    def notes(self) -> tuple[str, ...]:
        return self.base.notes if self.base else ()

    def shrink(self, error: BaseException) -> int:
        """A smaller budget after the model refused the request as too long (the thread and
        the turns each fit it again at the next :meth:`messages`)."""
        sent = messages_tokens(self.messages()) + self.tools_tokens
        self.budget = failures.smaller_budget(error, sent, self.budget)
        return self.budget

    def add(self, asked: dict, answered: list[dict]) -> None:
        self.turns += [asked, *answered]


def tools_tokens(specs: list[dict]) -> int:
    """What offering ``specs`` costs of the context."""
    return estimate_tokens(json.dumps(specs, ensure_ascii=False)) if specs else 0


def output_cap(limits: Limits, budget: int, calls: int) -> int:
    """Tokens one call's output may take: ``limits.output_tokens``, and a round's results
    within a quarter of the context budget."""
    return max(100, min(limits.output_tokens, budget // (ROUND_SHARE * max(1, calls))))


def capped(text: str, tokens: int) -> str:
    """A tool's output as the model sees it: whole, or cut with a note that it was."""
    return truncate_text(text, tokens, CUT)


def asked(text: str, calls: list[Checked]) -> dict:
    """The model's turn that made ``calls`` (with the words it wrote before them)."""
    return {
        "role": "assistant",
        "content": text or None,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.raw}}
            for c in calls
        ],
    }


def answered(call_id: str, text: str) -> dict:
    """A call's result, as the model reads it."""
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def fit_turns(turns: list[dict], room: int) -> list[dict]:
    """The turns within ``room`` tokens: the oldest results give way first (each call still
    answered, by a note that its output was dropped)."""
    fitted = list(turns)
    for i, turn in enumerate(fitted):
        if messages_tokens(fitted) <= room:
            break
        if turn.get("role") == "tool" and turn.get("content") != DROPPED:
            fitted[i] = {**turn, "content": DROPPED}
    return fitted


def problem_text(problem: str) -> str:
    """The result of a call that could not run, for the model."""
    return f"Not run: {problem}."


def refused_text(approver: bool) -> str:
    """The result of a writing call that was not approved."""
    if not approver:
        return (
            "Not run: this tool changes things, which needs the approval of the person "
            "asking, and this bot has no way to ask for it."
        )
    return "Not run: the person asking did not approve it."


def too_many_text(most: int) -> str:
    """The result of a writing call past the approvals one answer may ask for."""
    return (
        f"Not run: this answer already asked the person for their approval {most} times, "
        f"at most {most} per answer. Tell them what is left to do; they can ask again."
    )


def details_of(arguments: dict | None) -> str:
    """What a call is about, for the person: its first text argument (a query, a link)."""
    for value in (arguments or {}).values():
        if isinstance(value, str) and value.strip():
            text = " ".join(value.split())
            return text if len(text) <= DETAILS_CHARS else text[: DETAILS_CHARS - 1] + "…"
    return ""


def status_of(titles: list[str]) -> str:
    """The line under the thread while tools run: ``is searching Slack…``."""
    if not titles:
        return ""
    first = titles[0][:1].lower() + titles[0][1:]
    more = f" (and {len(titles) - 1} more)" if len(titles) > 1 else ""
    return f"is {first.rstrip('.…')}{more}…"

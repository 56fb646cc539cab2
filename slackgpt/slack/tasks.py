"""An answer's steps (the tools it used) as a person sees them: task cards in a streamed
answer (``task_update`` chunks), or a compact context block on a posted one. Pure.

Slack updates a task card by its ``id``: title, status and output are replaced, ``details``
appended and ``sources`` added, so each is sent once (details when the step starts, the
output and sources when it ends). Every text here is untrusted (a tool's words): the door
makes pings inert in chunks, and this module escapes the context block's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from slackgpt.formatting import clip, neutralize_pings

RUNNING, DONE, FAILED = "in_progress", "complete", "error"
SOURCES = 5  # links shown under one step
BLOCK_STEPS = 10  # a context block holds 10 elements at most
LINE_CHARS = 300
TASK_TEXT_LIMIT = 256  # Slack's guidance for a task's title, details and output
_TASK_TEXTS = ("title", "details", "output")
_ICONS = {RUNNING: ":hourglass_flowing_sand:", DONE: ":white_check_mark:", FAILED: ":warning:"}


@dataclass(frozen=True)
class Step:
    """One step: ``title`` (what it does, or did), ``status``, ``details`` (what it is about),
    ``output`` (how it ended: "3 results"), ``sources`` as (text, url)."""

    id: str
    title: str
    status: str = RUNNING
    details: str = ""
    output: str = ""
    sources: tuple[tuple[str, str], ...] = ()


class Steps:
    """The steps of one answer so far, in the order they started."""

    def __init__(self) -> None:
        self._steps: dict[str, Step] = {}
        self._sent: dict[str, Step] = {}  # what was sent of each, as a card

    def __bool__(self) -> bool:
        return bool(self._steps)

    def update(self, step: Step) -> None:
        self._steps[step.id] = step

    def running(self) -> list[Step]:
        """The steps not ended yet."""
        return [step for step in self._steps.values() if step.status == RUNNING]

    def chunk(self, step: Step) -> dict:
        """The ``task_update`` chunk for ``step``: details, output and sources only once."""
        before = self._sent.get(step.id)
        self._sent[step.id] = step
        chunk: dict = {"type": "task_update", "id": step.id, "title": step.title}
        chunk["status"] = step.status
        if step.details and not (before and before.details):
            chunk["details"] = step.details
        if step.output and not (before and before.output):
            chunk["output"] = step.output
        if step.sources and not (before and before.sources):
            chunk["sources"] = [
                {"type": "url", "url": url, "text": text} for text, url in step.sources[:SOURCES]
            ]
        return chunk

    def blocks(self) -> list[dict]:
        """A context block listing the steps (none when there are none)."""
        if not self._steps:
            return []
        steps = list(self._steps.values())
        lines = [_line(s) for s in steps[-(BLOCK_STEPS - 1) :]] if len(steps) > BLOCK_STEPS else []
        if lines:
            earlier = len(steps) - (BLOCK_STEPS - 1)
            lines.insert(0, f"_{earlier} earlier steps_")
        else:
            lines = [_line(s) for s in steps]
        return [{"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in lines]}]


def _line(step: Step) -> str:
    """``✅ Searched Slack: 3 results · <url|#general>``, escaped, pings inert."""
    text = _safe(step.title) + (f": {_safe(step.output)}" if step.output else "")
    links = ", ".join(f"<{_safe(url)}|{_safe(name)}>" for name, url in step.sources[:SOURCES]
                      if url.startswith("https://"))
    line = f"{_ICONS.get(step.status, '')} {text}" + (f" · {links}" if links else "")
    return line if len(line) <= LINE_CHARS else clip(f"{_ICONS.get(step.status, '')} {text}",
                                                      LINE_CHARS)


def _safe(text: str) -> str:
    """Text for mrkdwn: no markup of its own (``&<>`` escaped, ``|`` unable to end a link's
    label), no pings."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return neutralize_pings(escaped.replace("|", "¦"))


def sources_of(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """(text, url) pairs with an https URL, in order, without repeats."""
    seen: dict[str, tuple[str, str]] = {}
    for text, url in pairs:
        if url.startswith("https://") and url not in seen:
            seen[url] = (text, url)
    return tuple(seen.values())


def safe_chunks(chunks: list[dict] | None) -> list[dict] | None:
    """Stream chunks as they may be shown: pings inert in every text, a task's texts within
    Slack's 256 characters."""
    if not chunks:
        return None
    return [_safe_chunk(chunk) for chunk in chunks]


def _safe_chunk(chunk: dict) -> dict:
    safe = dict(chunk)
    if isinstance(safe.get("text"), str):
        safe["text"] = neutralize_pings(safe["text"])
    for name in _TASK_TEXTS:
        if isinstance(safe.get(name), str):
            safe[name] = clip(neutralize_pings(safe[name]), TASK_TEXT_LIMIT)
    if isinstance(safe.get("sources"), list) and all(isinstance(s, dict) for s in safe["sources"]):
        texts = [str(s.get("text") or s.get("url")) for s in safe["sources"]]
        safe["sources"] = [
            {**source, "text": clip(neutralize_pings(text), TASK_TEXT_LIMIT)}
            for source, text in zip(safe["sources"], texts, strict=True)
        ]
    return safe

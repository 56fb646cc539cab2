"""The steps of an answer that uses tools, delivered with its words: part of
:class:`~slackgpt.slack.delivery.Delivery` (a mixin on its state).

A step is queued after the words written so far (:meth:`StepsDelivery.show`); the pump sends
steps and words in order, in one stream call of chunks (task cards, timeline mode) when they
fit the message, else the words and then the cards; a posted answer carries its steps as a
context block, updated with them. The answer's first words after steps shown alone go at
once, never waiting for the pace of updates.
"""

from __future__ import annotations

import time

from slackgpt.formatting import unsafe_tail
from slackgpt.slack.tasks import Step


class StepsDelivery:
    """Delivery's part for steps (uses its queue, messages and calls)."""

    def show(self, step: Step) -> None:
        """Queue a step's progress, after the text written so far; never waits on Slack."""
        if self.stopped_by_user:
            return
        self.steps.update(step)
        self._before += [self._pending, step] if self._pending else [step]
        self._pending = ""
        self._wake_pump()

    def _first_words(self) -> bool:
        """The answer's first words are waiting after steps shown alone: they go at once."""
        return bool(self.steps) and not self._words_out and bool(self._pending.strip())

    async def _flush_steps(self, *, final: bool) -> None:
        """Steps with the text around them, in one stream call when they fit the message;
        else the text, then the cards (posted: the context block, updated)."""
        hold = 0 if final else unsafe_tail(self._pending)
        tail = self._pending[len(self._pending) - hold :]
        parts = [*self._before, self._pending[: len(self._pending) - hold]]
        self._before, self._pending, self._last_flush = [], tail, time.monotonic()
        text = "".join(p for p in parts if isinstance(p, str))
        self._words_out = self._words_out or bool(text.strip())
        current = self._current()
        if self.stream and (current.ts is None or current.streaming):
            if len(current.text) + len(text) > self.limit:
                await self._deliver(text, last=final)
                parts, text = [p for p in parts if isinstance(p, Step)], ""
                current = self._current()
            chunks = [self.steps.chunk(p) if isinstance(p, Step) else _text(p) for p in parts if p]
            if await self._add(current, text, last=final, chunks=chunks):
                return
        await self._deliver(text, last=final)
        message = self.messages[-1]
        if not text and message.ts and not message.streaming and not self.stopped_by_user:
            await self._update(message, "", self._blocks(final), last=final)

    def _blocks(self, last: bool) -> list[dict] | None:
        """The blocks of a posted message's next post or update: its steps, then (with its
        last text) the end blocks."""
        return [*self.steps.blocks(), *((self._end_blocks or []) if last else [])] or None


def _text(text: str) -> dict:
    return {"type": "markdown_text", "text": text}

"""Delivery of an answer into a Slack thread: what goes out when.

Text is handed over as the model writes it (:meth:`Delivery.write`); a background pump sends
it to Slack at most once per ``interval`` (the first text at once), so model reading never
waits on Slack and Slack is never called per token. The steps of an answer that uses tools
(:meth:`Delivery.show`) go in order with its text: task cards in a stream, a context block on
a posted message (see :mod:`~slackgpt.slack.tasks`); the first words after steps shown alone
never wait. How it is written into Slack is the :class:`~slackgpt.slack.outbox.Outbox`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from slackgpt.formatting import unsafe_tail
from slackgpt.slack.api import SlackApi
from slackgpt.slack.events import Target
from slackgpt.slack.outbox import MESSAGE_LIMIT, Message, Outbox
from slackgpt.slack.tasks import Step, Steps

log = logging.getLogger(__name__)
HALT_PATIENCE = 2.0  # seconds a halt waits for the Slack call in flight, then cuts it


class Delivery:
    """One answer being delivered into a thread."""

    def __init__(
        self,
        slack: SlackApi,
        target: Target,
        interval: float = 1.0,
        *,
        stream: bool = True,
        limit: int = MESSAGE_LIMIT,
        metadata: str | None = None,  # on every message of the answer (e.g. marks a summary)
    ):
        self.out = Outbox(
            slack, target, interval=interval, stream=stream, limit=limit, metadata=metadata
        )
        self.slack, self.target, self.interval = slack, target, interval
        self._pending = ""  # words not handed to Slack yet
        self._before: list[str | Step] = []  # words and steps queued ahead of _pending
        self._words_out = False  # some of the answer's text was handed to Slack
        self._written = self._closing = False
        self._wake, self._hurry = asyncio.Event(), asyncio.Event()  # hurry: ends a pace wait
        self._pump: asyncio.Task[None] | None = None
        self._last_flush = float("-inf")

    # -- what the answer sees ---------------------------------------------------------------

    @property
    def steps(self) -> Steps:
        return self.out.steps

    @property
    def messages(self) -> list[Message]:
        return self.out.messages

    @property
    def stopped_by_user(self) -> bool:
        """Slack's own stop of a stream (the person stopped it)."""
        return self.out.stopped_by_user

    @property
    def session(self) -> str | None:
        """The agent session's status once the answer ends (None: no session)."""
        return self.out.session

    @session.setter
    def session(self, status: str | None) -> None:
        self.out.session = status

    @property
    def session_ended(self) -> bool:
        """The call that ended the answer set the session's status too."""
        return self.out.session_ended

    @session_ended.setter
    def session_ended(self, ended: bool) -> None:
        self.out.session_ended = ended

    @property
    def shown(self) -> str:
        """Everything Slack has accepted so far, across messages."""
        return self.out.shown

    @property
    def has_text(self) -> bool:
        """True once any text was written, whether Slack has it yet or not."""
        return self._written

    @property
    def started(self) -> bool:
        """True once any text of the answer is visible."""
        return any(m.ts for m in self.messages)

    # -- handed over ------------------------------------------------------------------------

    def write(self, text: str) -> None:
        """Queue text for delivery; never waits on Slack."""
        if self.out.stopped_by_user or self.out.halted or not text:
            return
        self._pending += text
        self._written = True
        if self._first_words():  # after steps shown alone: no wait for the next update
            self._hurry.set()
        self._wake_pump()

    def show(self, step: Step) -> None:
        """Queue a step's progress, after the text written so far; never waits on Slack."""
        if self.out.stopped_by_user:
            return
        self.steps.update(step)
        self._before += [self._pending, step] if self._pending else [step]
        self._pending = ""
        self._wake_pump()

    async def finish(self, blocks: list[dict] | None = None) -> None:
        """Deliver everything queued at once, then end the current message.

        ``blocks`` (e.g. feedback buttons) go on the answer's last message, with the call
        that ends it: ``chat.stopStream``, or the last post or update.
        """
        out = self.out
        out.end_blocks = blocks or None
        await self._close_pump()
        if (self._pending or self._before) and self.messages and not self.messages[-1].streaming:
            await self._keep_pace()  # the last chat.update keeps the pace too
        await self._flush(final=True)
        if self.messages and self.messages[-1].streaming:
            await out.stop(self.messages[-1], blocks=out.end_blocks, final=True)
        last = self.messages[-1] if self.messages else None
        if out.end_blocks and last is not None and last.ts and not out.stopped_by_user:
            await self._keep_pace()  # posted and updated: one more paced update adds them
            await out.attach_end_blocks()
        if self.messages:
            self.messages[-1].pace.done()

    async def halt(self, mark: str, stopped: frozenset[str] = frozenset()) -> None:
        """End the answer now (someone stopped it): what Slack shows stays, followed by
        ``mark``; what is still queued is dropped. ``stopped``: messages whose stream Slack
        has ended already (no ``chat.stopStream`` is tried on them)."""
        self._pending, self._before, self.out.end_blocks = "", [], None
        self.out.halted = True
        self._closing = True
        self._hurry.set()
        self._wake.set()
        if self._pump is not None and not await _settled(self._pump):
            log.info("a Slack call was still on its way when the answer was stopped")
        await self.out.mark(mark, stopped)

    # -- the pump ---------------------------------------------------------------------------

    def _wake_pump(self) -> None:
        self._wake.set()
        if self._pump is None:
            self._pump = asyncio.create_task(self._run())

    async def _close_pump(self) -> None:
        self._closing = True
        self._hurry.set()
        self._wake.set()
        if self._pump is not None:
            await self._pump

    async def _keep_pace(self) -> None:
        await asyncio.sleep(max(0.0, self._last_flush + self.interval - time.monotonic()))

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            if not (self._pending or self._before):  # woken by what a flush took already
                continue
            wait = self._last_flush + self._interval() - time.monotonic()
            if wait > 0 and not self._first_words():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), wait)
            if self._closing:
                return
            self._hurry.clear()
            if await self._budget_now():
                await self._flush(final=False)
            else:  # the text gathers; the budget is asked again after an interval, not per word
                self._last_flush = time.monotonic()

    def _interval(self) -> float:
        """The pace of updates: ``interval``, stretched while many messages share a budget."""
        return self.messages[-1].pace.interval() if self.messages else self.interval

    async def _budget_now(self) -> bool:
        """True when the next update would not wait for Slack's budget (else text gathers)."""
        return not self.messages or await self.messages[-1].pace.ready()

    def _first_words(self) -> bool:
        """The answer's first words are waiting after steps shown alone: they go at once."""
        return bool(self.steps) and not self._words_out and bool(self._pending.strip())

    def _take(self, final: bool) -> tuple[list[str | Step], str]:
        """What goes out now: the queued steps and words, the words held back removed (a
        trailing fragment that could still become a ping); and the words alone."""
        hold = 0 if final else unsafe_tail(self._pending)
        parts = [*self._before, self._pending[: len(self._pending) - hold]]
        self._before, self._pending = [], self._pending[len(self._pending) - hold :]
        self._last_flush = time.monotonic()
        text = "".join(p for p in parts if isinstance(p, str))
        self._words_out = self._words_out or bool(text.strip())
        return [p for p in parts if p], text

    async def _flush(self, *, final: bool) -> None:
        if self.out.stopped_by_user:
            return
        if self._before:
            await self._flush_steps(*self._take(final), final=final)
            return
        hold = 0 if final else unsafe_tail(self._pending)
        text = self._pending[: len(self._pending) - hold]
        if not text:
            return
        self._pending = self._pending[len(text) :]
        self._last_flush, self._words_out = time.monotonic(), True
        await self.out.deliver(text, last=final)

    async def _flush_steps(self, parts: list[str | Step], text: str, *, final: bool) -> None:
        """Steps with the text around them, in one stream call when they fit the message;
        else the text, then the cards (posted: the context block, updated)."""
        out = self.out
        current = out.current()
        if out.stream and (current.ts is None or current.streaming):
            if len(current.text) + len(text) > out.limit:
                await out.deliver(text, last=final)
                parts, text, current = [p for p in parts if isinstance(p, Step)], "", out.current()
            chunks = [self.steps.chunk(p) if isinstance(p, Step) else _text(p) for p in parts]
            if await out.add(current, text, last=final, chunks=chunks):
                return
        await out.deliver(text, last=final)
        message = self.messages[-1]
        if not text and message.ts and not message.streaming and not out.stopped_by_user:
            await out.update(message, "", out.blocks(final), last=final)


def _text(text: str) -> dict:
    return {"type": "markdown_text", "text": text}


async def _settled(task: asyncio.Task[None]) -> bool:
    """Let ``task`` end by itself within HALT_PATIENCE seconds, else cancel it; True when it
    ended by itself."""
    done, _ = await asyncio.wait({task}, timeout=HALT_PATIENCE)
    if not done:
        task.cancel()
        await asyncio.wait({task})
    return bool(done)

"""Delivery of an answer into a Slack thread: streamed, or posted and updated as a fallback.

Text is handed over as the model writes it (:meth:`Delivery.write`); a background pump sends
it to Slack at most once per ``interval`` (the first text at once), so model reading never
waits on Slack and Slack is never called per token. An answer longer than one message
continues in the next, never cut inside a code block or a visible character. The steps of an
answer that uses tools (:meth:`Delivery.show`) go in order with its text: task cards in a
stream, a context block on a posted message (see :mod:`~slackgpt.slack.tasks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError

from slackgpt.formatting import split_off, unsafe_tail
from slackgpt.slack.api import SlackApi, error_code
from slackgpt.slack.delivery_steps import StepsDelivery
from slackgpt.slack.events import Target
from slackgpt.slack.pacing import Pace
from slackgpt.slack.tasks import Step, Steps

log = logging.getLogger(__name__)

# Slack: markdown_text ≤ 12,000 per call and markdown blocks ≤ 12,000 per message; staying a
# little under leaves room for the closing fence of a cut code block.
MESSAGE_LIMIT = 11_000


@dataclass
class _Message:
    pace: Pace
    ts: str | None = None
    text: str = ""  # what Slack has confirmed for this message
    streaming: bool = False


@dataclass
class Delivery(StepsDelivery):
    """One answer being delivered into a thread (its steps: :class:`StepsDelivery`)."""

    slack: SlackApi
    target: Target
    interval: float = 1.0
    stream: bool = True
    limit: int = MESSAGE_LIMIT
    stopped_by_user: bool = False
    metadata: str | None = None  # on every message of the answer (e.g. marks a summary)
    messages: list[_Message] = field(default_factory=list)
    _pending: str = ""
    _closing: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _hurry: asyncio.Event = field(default_factory=asyncio.Event)  # ends the pump's wait
    _pump: asyncio.Task[None] | None = None
    _last_flush: float = float("-inf")
    _written: bool = False
    _end_blocks: list[dict] | None = None  # for the call that ends the answer's last message
    steps: Steps = field(default_factory=Steps)
    _before: list[str | Step] = field(default_factory=list)  # queued ahead of _pending
    _words_out: bool = False  # some of the answer's text was handed to Slack

    @property
    def shown(self) -> str:
        """Everything Slack has accepted so far, across messages."""
        return "".join(m.text for m in self.messages)

    @property
    def has_text(self) -> bool:
        """True once any text was written, whether Slack has it yet or not."""
        return self._written

    @property
    def started(self) -> bool:
        """True once any text of the answer is visible."""
        return any(m.ts for m in self.messages)

    def write(self, text: str) -> None:
        """Queue text for delivery; never waits on Slack."""
        if self.stopped_by_user or not text:
            return
        self._pending += text
        self._written = True
        if self._first_words():  # after steps shown alone: no wait for the next update
            self._hurry.set()
        self._wake_pump()

    def _wake_pump(self) -> None:
        self._wake.set()
        if self._pump is None:
            self._pump = asyncio.create_task(self._run())

    async def finish(self, blocks: list[dict] | None = None) -> None:
        """Deliver everything queued at once, then end the current message.

        ``blocks`` (e.g. feedback buttons) go on the answer's last message, with the call
        that ends it: ``chat.stopStream``, or the last post or update.
        """
        self._end_blocks = blocks or None
        self._closing = True
        self._hurry.set()
        self._wake.set()
        if self._pump is not None:
            await self._pump
        if (self._pending or self._before) and self.messages and not self.messages[-1].streaming:
            # The last chat.update keeps the pace too (streams end with one stopStream).
            await asyncio.sleep(max(0.0, self._last_flush + self.interval - time.monotonic()))
        await self._flush(final=True)
        if self.messages and self.messages[-1].streaming:
            await self._stop(self.messages[-1], blocks=self._end_blocks)
        await self._attach_end_blocks()
        if self.messages:
            self.messages[-1].pace.done()

    async def _attach_end_blocks(self) -> None:
        """Posted and updated, with nothing left to send: one more paced update adds them."""
        last = self.messages[-1] if self.messages else None
        if not self._end_blocks or last is None or last.ts is None or self.stopped_by_user:
            return
        await asyncio.sleep(max(0.0, self._last_flush + self.interval - time.monotonic()))
        try:
            await self.slack.update_markdown(
                self.target.channel, last.ts, last.text, [*self.steps.blocks(), *self._end_blocks],
                pace=last.pace, last=True,
            )
        except SlackApiError as error:
            log.info("could not add the end blocks (%s)", error_code(error))
        self._end_blocks = None

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

    async def _flush(self, *, final: bool) -> None:
        if self._before:
            await self._flush_steps(final=final)
            return
        hold = 0 if final else unsafe_tail(self._pending)
        text = self._pending[: len(self._pending) - hold]
        if not text or self.stopped_by_user:
            return
        self._pending = self._pending[len(text) :]
        self._last_flush, self._words_out = time.monotonic(), True
        await self._deliver(text, last=final)

    async def _deliver(self, text: str, *, last: bool = False) -> None:
        while text and not self.stopped_by_user:
            current = self._current()
            head, text = split_off(current.text, text, self.limit)
            if head.strip():
                await self._add(current, head, last=last and not text)
            if text:
                await self._stop(current)
                self._next_message()

    def _current(self) -> _Message:
        return self.messages[-1] if self.messages else self._next_message()

    def _next_message(self) -> _Message:
        """Start writing a new message: the current one is done."""
        if self.messages:
            self.messages[-1].pace.done()
        self.messages.append(_Message(self.slack.pace(self.interval)))
        return self.messages[-1]

    async def _add(
        self, message: _Message, text: str, *, last: bool = False, chunks: list | None = None
    ) -> bool:
        """Add ``text`` (in a stream: ``chunks``, when given, show it with steps) to the
        message. With ``chunks``, False when it is not streamed (nothing was sent)."""
        if self.stream and message.ts is None and await self._start_stream(message, text, chunks):
            return True
        if message.streaming:
            if await self._append_stream(message, text, stop=last, chunks=chunks):
                return True
            if self.stopped_by_user:
                return True
            message = self._next_message()
        if chunks is not None:
            return False
        await self._post_or_update(message, text, last=last)
        return True

    async def _start_stream(
        self, message: _Message, text: str, chunks: list | None = None
    ) -> bool:
        if not await message.pace.hold_stream():  # its start and its stop, both Tier 2
            log.info("Slack's budget for streams is spent for now; posting instead")
            self.stream = False
            return False
        try:
            message.ts = await self.slack.start_stream(
                self.target, "" if chunks else text, pace=message.pace, chunks=chunks
            )
        except SlackApiError as error:
            log.info("streaming unavailable (%s); posting instead", error_code(error))
            self.stream = False
            return False
        message.text, message.streaming = text, True
        message.pace.streaming()
        return True

    async def _append_stream(
        self, message: _Message, text: str, *, stop: bool = False, chunks: list | None = None
    ) -> bool:
        """Append to a streaming message (with ``stop``: the final text, ending the stream;
        ``chunks``: the text with steps, in order)."""
        assert message.ts is not None
        words, channel = "" if chunks else text, self.target.channel
        try:
            if stop:  # the answer's last words: the end blocks go with them
                blocks = self._end_blocks
                await self.slack.stop_stream(
                    channel, message.ts, words, blocks, pace=message.pace, chunks=chunks,
                    metadata=self.metadata,
                )
                self._end_blocks = None
            else:
                await self.slack.append_stream(channel, message.ts, words, chunks)
        except SlackApiError as error:
            code = error_code(error)
            message.streaming = False
            self.stream = False
            if code == "stopped_by_user":
                self.stopped_by_user = True
                log.info("the user stopped the answer")
            else:
                log.warning("streaming broke off (%s); continuing in a new message", code)
                await self._stop(message, already_stopped=True)
            return False
        message.text += text
        message.streaming = not stop
        return True

    async def _stop(
        self, message: _Message, *, already_stopped: bool = False, blocks: list[dict] | None = None
    ) -> None:
        if (not message.streaming and not already_stopped) or message.ts is None:
            return
        message.streaming = False
        if blocks:
            self._end_blocks = None  # a stream's last chance for them, whatever Slack says
        try:
            await self.slack.stop_stream(
                self.target.channel, message.ts, blocks=blocks, pace=message.pace,
                metadata=self.metadata,
            )
        except SlackApiError as error:
            log.debug("chat.stopStream: %s", error_code(error))

    async def _post_or_update(self, message: _Message, text: str, *, last: bool = False) -> None:
        blocks = self._blocks(last)  # the end blocks ride on the last call
        if message.ts is None:
            message.ts = await self.slack.post_markdown(self.target, text, blocks, self.metadata)
            message.text, self._end_blocks = text, None if last else self._end_blocks
            message.pace.posted()
            if not last:  # the update that will carry the last text is held now: it never waits
                await message.pace.hold_last_update()
            return
        if last and not await message.pace.last_update_ready():
            log.info("no chat.update budget left; the rest goes in a new message")
            await self._post_or_update(self._next_message(), text.lstrip("\n"), last=True)
            return
        await self._update(message, text, blocks, last=last)

    async def _update(
        self, message: _Message, text: str, blocks: list[dict] | None, *, last: bool
    ) -> None:
        combined = message.text + text
        try:
            where = (self.target.channel, message.ts or "")
            await self.slack.update_markdown(
                *where, combined, blocks, pace=message.pace, last=last
            )
        except SlackApiError as error:
            log.warning("chat.update failed (%s); continuing in a new message", error_code(error))
            await self._post_or_update(self._next_message(), text, last=last)
            return
        message.text, self._end_blocks = combined, None if last else self._end_blocks


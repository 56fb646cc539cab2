"""Delivery of an answer into a Slack thread: streamed, or posted and updated as a fallback.

Text is handed over as the model writes it (:meth:`Delivery.write`); a background pump sends
it to Slack at most once per ``interval`` (the first text at once), so model reading never
waits on Slack and Slack is never called per token. An answer longer than one message
continues in the next, never cut inside a code block or a visible character.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError

from slackgpt.formatting import fence_marker, open_fence, split_off, unsafe_tail
from slackgpt.slack.api import SlackApi, error_code
from slackgpt.slack.events import Target
from slackgpt.slack.pacing import Pace

log = logging.getLogger(__name__)

# Slack: markdown_text ≤ 12,000 per call and markdown blocks ≤ 12,000 per message; staying a
# little under leaves room for the closing fence of a cut code block.
MESSAGE_LIMIT = 11_000
CUTOFF = "message_not_in_streaming_state"  # Slack ends a stream ~5 min after its start
HALT_PATIENCE = 2.0  # seconds a halt waits for the Slack call in flight, then cuts it


@dataclass
class _Message:
    pace: Pace
    ts: str | None = None
    text: str = ""  # what Slack has confirmed for this message
    streaming: bool = False
    cut: bool = False  # Slack ended its stream: it goes on with chat.update


@dataclass
class Delivery:
    """One answer being delivered into a thread."""

    slack: SlackApi
    target: Target
    interval: float = 1.0
    stream: bool = True
    limit: int = MESSAGE_LIMIT
    stopped_by_user: bool = False
    metadata: str | None = None  # on every message of the answer (e.g. marks a summary)
    session: str | None = None  # the agent session after the last stopStream (None: none)
    session_ended: bool = False  # that stopStream went through
    messages: list[_Message] = field(default_factory=list)
    _pending: str = ""
    _closing: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: asyncio.Event = field(default_factory=asyncio.Event)
    _pump: asyncio.Task[None] | None = None
    _last_flush: float = float("-inf")
    _written: bool = False
    _halted: bool = False
    _end_blocks: list[dict] | None = None  # for the call that ends the answer's last message

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
        if self.stopped_by_user or self._halted or not text:
            return
        self._pending += text
        self._written = True
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
        self._closed.set()
        self._wake.set()
        if self._pump is not None:
            await self._pump
        if self._pending and self.messages and not self.messages[-1].streaming:
            # The last chat.update keeps the pace too (streams end with one stopStream).
            await asyncio.sleep(max(0.0, self._last_flush + self.interval - time.monotonic()))
        await self._flush(final=True)
        if self.messages and self.messages[-1].streaming:
            await self._stop(self.messages[-1], blocks=self._end_blocks, final=True)
        await self._attach_end_blocks()
        if self.messages:
            self.messages[-1].pace.done()

    async def halt(self, mark: str, stopped: frozenset[str] = frozenset()) -> None:
        """End the answer now (someone stopped it): what Slack shows stays, followed by
        ``mark``; what is still queued is dropped. ``stopped``: messages whose stream Slack
        has ended already (no ``chat.stopStream`` is tried on them)."""
        self._pending, self._end_blocks, self._halted, self._closing = "", None, True, True
        self._closed.set()
        self._wake.set()
        if self._pump is not None and not await _settled(self._pump):
            log.info("a Slack call was still on its way when the answer was stopped")
        last = self.messages[-1] if self.messages else None
        if last is None or last.ts is None:
            await self.slack.post_markdown(self.target, mark.lstrip())
            return
        fence = open_fence(last.text)  # a code block still open is closed before the mark
        mark = f"\n{fence_marker(fence)}{mark}" if fence else mark
        channel, ts, pace, after = self.target.channel, last.ts, last.pace, self.session
        if last.streaming and ts not in stopped and not self.stopped_by_user:
            try:
                await self.slack.stop_stream(channel, ts, mark, pace=pace, session=after)
            except SlackApiError as error:
                log.info("the stopped stream takes no more text (%s)", error_code(error))
            else:
                last.text, last.streaming, self.session_ended = last.text + mark, False, bool(after)
                pace.done()
                return
        last.streaming = False
        try:
            await self.slack.update_markdown(channel, ts, last.text + mark, pace=pace, last=True)
            last.text += mark
        except SlackApiError as error:
            log.warning("could not mark the stopped answer (%s)", error_code(error))
        pace.done()

    async def _attach_end_blocks(self) -> None:
        """Posted and updated, with nothing left to send: one more paced update adds them."""
        last = self.messages[-1] if self.messages else None
        if not self._end_blocks or last is None or last.ts is None or self.stopped_by_user:
            return
        await asyncio.sleep(max(0.0, self._last_flush + self.interval - time.monotonic()))
        try:
            await self.slack.update_markdown(
                self.target.channel, last.ts, last.text, self._end_blocks, pace=last.pace, last=True
            )
        except SlackApiError as error:
            log.info("could not add the end blocks (%s)", error_code(error))
        self._end_blocks = None

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            wait = self._last_flush + self._interval() - time.monotonic()
            if wait > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), wait)
            if self._closing:
                return
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
        hold = 0 if final else unsafe_tail(self._pending)
        text = self._pending[: len(self._pending) - hold]
        if not text or self.stopped_by_user:
            return
        self._pending = self._pending[len(text) :]
        self._last_flush = time.monotonic()
        await self._deliver(text, last=final)

    async def _deliver(self, text: str, *, last: bool = False) -> None:
        while text and not (self.stopped_by_user or self._halted):
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

    async def _add(self, message: _Message, text: str, *, last: bool = False) -> None:
        if self.stream and message.ts is None and await self._start_stream(message, text):
            return
        if message.streaming:
            if await self._append_stream(message, text, stop=last):
                return
            if self.stopped_by_user:
                return
            if not message.cut:  # broke off: a new message; cut off: the same, updated
                message = self._next_message()
        await self._post_or_update(message, text, last=last)

    async def _start_stream(self, message: _Message, text: str) -> bool:
        if not await message.pace.hold_stream():  # its start and its stop, both Tier 2
            log.info("Slack's budget for streams is spent for now; posting instead")
            self.stream = False
            return False
        try:
            message.ts = await self.slack.start_stream(self.target, text, pace=message.pace)
        except SlackApiError as error:
            log.info("streaming unavailable (%s); posting instead", error_code(error))
            self.stream = False
            return False
        message.text, message.streaming = text, True
        message.pace.streaming()
        return True

    async def _append_stream(self, message: _Message, text: str, *, stop: bool = False) -> bool:
        """Append to a streaming message (with ``stop``: the final text, ending the stream)."""
        assert message.ts is not None
        try:
            if stop:  # the answer's last words: the end blocks go with them
                blocks, channel, after = self._end_blocks, self.target.channel, self.session
                await self.slack.stop_stream(
                    channel, message.ts, text, blocks, pace=message.pace, session=after,
                    metadata=self.metadata,
                )
                self._end_blocks, self.session_ended = None, after is not None
            else:
                await self.slack.append_stream(self.target.channel, message.ts, text)
        except SlackApiError as error:
            code = error_code(error)
            message.streaming = False
            self.stream = False
            if code == "stopped_by_user":
                self.stopped_by_user = True
                log.info("the user stopped the answer")
            elif code == CUTOFF:
                await self._cut_off(message)
            else:
                log.warning("streaming broke off (%s); continuing in a new message", code)
                await self._stop(message, already_stopped=True)
            return False
        message.text += text
        message.streaming = not stop
        return True

    async def _cut_off(self, message: _Message) -> None:
        """Slack ended the message's stream (its cutoff, ~5 minutes after the start): the
        rest of the answer goes on in the same message by ``chat.update``, so it reads as one
        (no break mid-sentence or inside a code block), and no stream is started again."""
        log.info("Slack ended the stream after %s; the answer goes on with updates", CUTOFF)
        await self._stop(message, already_stopped=True)  # its held stop: closed if it was not
        message.cut = True
        message.pace.posted()
        await message.pace.hold_last_update()

    async def _stop(
        self, message: _Message, *, already_stopped: bool = False,
        blocks: list[dict] | None = None, final: bool = False,
    ) -> None:
        if (not message.streaming and not already_stopped) or message.ts is None:
            return
        message.streaming = False
        if blocks:
            self._end_blocks = None  # a stream's last chance for them, unless it was cut off
        after = self.session if final or self.session is None else "processing"
        try:
            await self.slack.stop_stream(
                self.target.channel, message.ts, blocks=blocks, pace=message.pace, session=after,
                metadata=self.metadata,
            )
        except SlackApiError as error:
            log.debug("chat.stopStream: %s", error_code(error))
            if error_code(error) == CUTOFF and blocks:
                self._end_blocks = blocks  # the message takes updates: they go on that way
            return
        self.session_ended = final and after is not None

    async def _post_or_update(self, message: _Message, text: str, *, last: bool = False) -> None:
        blocks = self._end_blocks if last else None  # the end blocks ride on the last call
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


async def _settled(task: asyncio.Task[None]) -> bool:
    """Let ``task`` end by itself within HALT_PATIENCE seconds, else cancel it; True when it
    ended by itself."""
    done, _ = await asyncio.wait({task}, timeout=HALT_PATIENCE)
    if not done:
        task.cancel()
        await asyncio.wait({task})
    return bool(done)

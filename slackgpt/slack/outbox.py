"""An answer's messages in Slack: streamed, or posted and updated as a fallback, each within
its share of Slack's budgets (:class:`~slackgpt.slack.pacing.Pace`).

The :class:`~slackgpt.slack.delivery.Delivery` decides what text goes when; the outbox puts
it in the thread: starting, appending to and stopping streams (with the steps' task chunks),
posting and updating, going on in a new message when one breaks off or is full, in the same
one when Slack cuts a stream off, and the end blocks and the agent session's status on the
call that ends the answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from slackgpt.formatting import fence_marker, open_fence, split_off
from slackgpt.slack.api import SlackApi, error_code
from slackgpt.slack.events import Target
from slackgpt.slack.pacing import Pace
from slackgpt.slack.tasks import Steps

log = logging.getLogger(__name__)

# Slack: markdown_text ≤ 12,000 per call and markdown blocks ≤ 12,000 per message; staying a
# little under leaves room for the closing fence of a cut code block.
MESSAGE_LIMIT = 11_000
CUTOFF = "message_not_in_streaming_state"  # Slack ends a stream ~5 min after its start


@dataclass
class Message:
    """One message of the answer, as far as Slack has it."""

    pace: Pace
    ts: str | None = None
    text: str = ""  # what Slack has confirmed for this message
    streaming: bool = False
    cut: bool = False  # Slack ended its stream: it goes on with chat.update


class Outbox:
    """The messages of one answer in its thread."""

    def __init__(
        self,
        slack: SlackApi,
        target: Target,
        *,
        interval: float,
        stream: bool = True,
        limit: int = MESSAGE_LIMIT,
        metadata: str | None = None,
    ):
        self.slack, self.target, self.interval = slack, target, interval
        self.stream, self.limit, self.metadata = stream, limit, metadata
        self.stopped_by_user = False  # Slack's own stop of a stream (stopped_by_user)
        self.halted = False  # the answer was stopped: nothing more goes out
        self.session: str | None = None  # the agent session after the last stopStream
        self.session_ended = False  # that stopStream went through
        self.end_blocks: list[dict] | None = None  # for the call that ends the last message
        self.steps = Steps()
        self.messages: list[Message] = []

    @property
    def shown(self) -> str:
        """Everything Slack has accepted so far, across messages."""
        return "".join(m.text for m in self.messages)

    def current(self) -> Message:
        return self.messages[-1] if self.messages else self.next_message()

    def next_message(self) -> Message:
        """Start writing a new message: the current one is done."""
        if self.messages:
            self.messages[-1].pace.done()
        self.messages.append(Message(self.slack.pace(self.interval)))
        return self.messages[-1]

    def blocks(self, last: bool) -> list[dict] | None:
        """The blocks of a posted message's next post or update: its steps, then (with its
        last text) the end blocks."""
        return [*self.steps.blocks(), *((self.end_blocks or []) if last else [])] or None

    async def deliver(self, text: str, *, last: bool = False) -> None:
        """Add ``text`` to the answer, going on in new messages when one is full."""
        while text and not (self.stopped_by_user or self.halted):
            current = self.current()
            head, text = split_off(current.text, text, self.limit)
            if head.strip():
                await self.add(current, head, last=last and not text)
            if text:
                await self.stop(current)
                self.next_message()

    async def add(
        self, message: Message, text: str, *, last: bool = False, chunks: list | None = None
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
            if not message.cut:  # broke off: a new message; cut off: the same, updated
                message = self.next_message()
        if chunks is not None:
            return False
        await self.post_or_update(message, text, last=last)
        return True

    async def _start_stream(self, message: Message, text: str, chunks: list | None) -> bool:
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
        self, message: Message, text: str, *, stop: bool = False, chunks: list | None = None
    ) -> bool:
        """Append to a streaming message (with ``stop``: the final text, ending the stream;
        ``chunks``: the text with steps, in order)."""
        assert message.ts is not None
        words, channel = "" if chunks else text, self.target.channel
        try:
            if stop:  # the answer's last words: the end blocks go with them
                blocks, after = self.end_blocks, self.session
                await self.slack.stop_stream(
                    channel, message.ts, words, blocks, pace=message.pace, chunks=chunks,
                    session=after, metadata=self.metadata,
                )
                self.end_blocks, self.session_ended = None, after is not None
            else:
                await self.slack.append_stream(channel, message.ts, words, chunks)
        except SlackApiError as error:
            await self._broke_off(message, error_code(error))
            return False
        message.text += text
        message.streaming = not stop
        return True

    async def _broke_off(self, message: Message, code: str) -> None:
        """Slack took no more of a stream: stopped by the person, cut off, or broken."""
        message.streaming, self.stream = False, False
        if code == "stopped_by_user":
            self.stopped_by_user = True
            log.info("the user stopped the answer")
        elif code == CUTOFF:
            await self._cut_off(message)
        else:
            log.warning("streaming broke off (%s); continuing in a new message", code)
            await self.stop(message, already_stopped=True)

    async def _cut_off(self, message: Message) -> None:
        """Slack ended the message's stream (its cutoff, ~5 minutes after the start): the
        rest of the answer goes on in the same message by ``chat.update``, so it reads as one
        (no break mid-sentence or inside a code block), and no stream is started again."""
        log.info("Slack ended the stream after %s; the answer goes on with updates", CUTOFF)
        await self.stop(message, already_stopped=True)  # its held stop: closed if it was not
        message.cut = True
        message.pace.posted()
        await message.pace.hold_last_update()

    async def stop(
        self, message: Message, *, already_stopped: bool = False,
        blocks: list[dict] | None = None, final: bool = False,
    ) -> None:
        """End a message's stream (``final``: the answer's last; the session's status and the
        ``blocks`` go with it)."""
        if (not message.streaming and not already_stopped) or message.ts is None:
            return
        message.streaming = False
        if blocks:
            self.end_blocks = None  # a stream's last chance for them, unless it was cut off
        after = self.session if final or self.session is None else "processing"
        try:
            await self.slack.stop_stream(
                self.target.channel, message.ts, blocks=blocks, pace=message.pace, session=after,
                metadata=self.metadata,
            )
        except SlackApiError as error:
            log.debug("chat.stopStream: %s", error_code(error))
            if error_code(error) == CUTOFF and blocks:
                self.end_blocks = blocks  # the message takes updates: they go on that way
            return
        self.session_ended = final and after is not None

    async def post_or_update(self, message: Message, text: str, *, last: bool = False) -> None:
        blocks = self.blocks(last)  # the end blocks ride on the last call
        if message.ts is None:
            message.ts = await self.slack.post_markdown(self.target, text, blocks, self.metadata)
            message.text, self.end_blocks = text, None if last else self.end_blocks
            message.pace.posted()
            if not last:  # the update that will carry the last text is held now: it never waits
                await message.pace.hold_last_update()
            return
        if last and not await message.pace.last_update_ready():
            log.info("no chat.update budget left; the rest goes in a new message")
            await self.post_or_update(self.next_message(), text.lstrip("\n"), last=True)
            return
        await self.update(message, text, blocks, last=last)

    async def update(
        self, message: Message, text: str, blocks: list[dict] | None, *, last: bool
    ) -> None:
        combined = message.text + text
        try:
            where = (self.target.channel, message.ts or "")
            await self.slack.update_markdown(
                *where, combined, blocks, pace=message.pace, last=last
            )
        except SlackApiError as error:
            log.warning("chat.update failed (%s); continuing in a new message", error_code(error))
            await self.post_or_update(self.next_message(), text, last=last)
            return
        message.text, self.end_blocks = combined, None if last else self.end_blocks

    async def attach_end_blocks(self) -> None:
        """Posted and updated, with nothing left to send: one more update adds them."""
        last = self.messages[-1] if self.messages else None
        if not self.end_blocks or last is None or last.ts is None or self.stopped_by_user:
            return
        try:
            await self.slack.update_markdown(
                self.target.channel, last.ts, last.text, [*self.steps.blocks(), *self.end_blocks],
                pace=last.pace, last=True,
            )
        except SlackApiError as error:
            log.info("could not add the end blocks (%s)", error_code(error))
        self.end_blocks = None

    async def mark(self, mark: str, stopped: frozenset[str]) -> None:
        """End the answer with ``mark`` after what Slack shows (someone stopped it): on its
        stream while that is open (``stopped``: streams Slack ended already), else by an
        update; a code block left open is closed first."""
        last = self.messages[-1] if self.messages else None
        if last is None or last.ts is None:
            await self.slack.post_markdown(self.target, mark.lstrip())
            return
        fence = open_fence(last.text)
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

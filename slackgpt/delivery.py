"""Delivery of a reply into a Slack thread: streamed, or posted and updated as a fallback.

Text is handed over as the model writes it (:meth:`Reply.write`); a background pump sends it
to Slack at most once per ``interval`` (the first text at once), so model reading never
waits on Slack and Slack is never called per token. A reply longer than one message
continues in the next, never cut inside a code block or a visible character.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .formatting import (
    best_cut,
    fence_marker,
    markdown_to_mrkdwn,
    neutralize_broadcasts,
    open_fence,
    unsafe_tail,
)

log = logging.getLogger(__name__)

# Slack: markdown_text ≤ 12,000 per call and markdown blocks ≤ 12,000 per message; staying a
# little under leaves room for the closing fence of a cut code block.
MESSAGE_LIMIT = 11_000
_CLOSE_ROOM = 12
_BLOCK_ERRORS = {"invalid_blocks", "msg_blocks_too_long", "invalid_blocks_format"}


@dataclass(frozen=True)
class Target:
    """Where a reply goes: a thread, and the person it answers (needed to stream in channels)."""

    channel: str
    thread_ts: str
    user: str | None = None
    team: str | None = None


@dataclass
class _Message:
    ts: str | None = None
    text: str = ""  # what Slack has confirmed for this message
    streaming: bool = False


@dataclass
class Reply:
    """One answer being delivered into a thread."""

    client: AsyncWebClient
    target: Target
    interval: float = 1.0
    stream: bool = True
    limit: int = MESSAGE_LIMIT
    stopped_by_user: bool = False
    messages: list[_Message] = field(default_factory=list)
    _pending: str = ""
    _closing: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: asyncio.Event = field(default_factory=asyncio.Event)
    _pump: asyncio.Task[None] | None = None
    _last_flush: float = float("-inf")

    @property
    def shown(self) -> str:
        """Everything Slack has accepted so far, across messages."""
        return "".join(m.text for m in self.messages)

    @property
    def has_pending(self) -> bool:
        """True while text is queued but not yet sent."""
        return bool(self._pending)

    @property
    def started(self) -> bool:
        """True once any text of the reply is visible."""
        return any(m.ts for m in self.messages)

    def write(self, text: str) -> None:
        """Queue text for delivery; never waits on Slack."""
        if self.stopped_by_user or not text:
            return
        self._pending += text
        self._wake.set()
        if self._pump is None:
            self._pump = asyncio.create_task(self._run())

    async def finish(self) -> None:
        """Deliver everything queued at once, then end the current message."""
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
            await self._stop(self.messages[-1])

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            wait = self._last_flush + self.interval - time.monotonic()
            if wait > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), wait)
            if not self._closing:
                await self._flush(final=False)

    async def _flush(self, *, final: bool) -> None:
        hold = 0 if final else unsafe_tail(self._pending)
        text = self._pending[: len(self._pending) - hold]
        if not text or self.stopped_by_user:
            return
        self._pending = self._pending[len(text) :]
        self._last_flush = time.monotonic()
        await self._deliver(neutralize_broadcasts(text), last=final)

    async def _deliver(self, text: str, *, last: bool = False) -> None:
        while text and not self.stopped_by_user:
            current = self._current()
            room = self.limit - len(current.text)
            if len(text) <= room:
                await self._add(current, text, last=last)
                return
            cut = best_cut(text, room - _CLOSE_ROOM) if room > 4 * _CLOSE_ROOM else 0
            head, text = text[:cut], text[cut:]
            fence = open_fence(current.text + head)
            if fence:
                head = head.rstrip("\n") + "\n" + fence_marker(fence)
                text = fence + "\n" + text
            else:
                text = text.lstrip("\n")
            if head.strip():
                await self._add(current, head)
            await self._stop(current)
            self.messages.append(_Message())

    def _current(self) -> _Message:
        if not self.messages:
            self.messages.append(_Message())
        return self.messages[-1]

    async def _add(self, message: _Message, text: str, *, last: bool = False) -> None:
        if self.stream and message.ts is None and await self._start_stream(message, text):
            return
        if message.streaming:
            if await self._append_stream(message, text, stop=last):
                return
            if self.stopped_by_user:
                return
            message = _Message()
            self.messages.append(message)
        await self._post_or_update(message, text)

    async def _start_stream(self, message: _Message, text: str) -> bool:
        target = self.target
        in_channel = not target.channel.startswith("D")
        try:
            response = await self.client.chat_startStream(
                channel=target.channel,
                thread_ts=target.thread_ts,
                markdown_text=text,
                recipient_user_id=target.user if in_channel else None,
                recipient_team_id=target.team if in_channel else None,
            )
        except SlackApiError as error:
            log.info("streaming unavailable (%s); posting instead", _error_code(error))
            self.stream = False
            return False
        message.ts, message.text, message.streaming = response["ts"], text, True
        return True

    async def _append_stream(self, message: _Message, text: str, *, stop: bool = False) -> bool:
        """Append to a streaming message (with ``stop``: the final text, ending the stream)."""
        method = self.client.chat_stopStream if stop else self.client.chat_appendStream
        try:
            await method(channel=self.target.channel, ts=message.ts, markdown_text=text)
        except SlackApiError as error:
            code = _error_code(error)
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

    async def _stop(self, message: _Message, *, already_stopped: bool = False) -> None:
        if not message.streaming and not already_stopped:
            return
        message.streaming = False
        try:
            await self.client.chat_stopStream(channel=self.target.channel, ts=message.ts)
        except SlackApiError as error:
            log.debug("chat.stopStream: %s", _error_code(error))

    async def _post_or_update(self, message: _Message, text: str) -> None:
        if message.ts is None:
            response = await self._send(self.client.chat_postMessage, text)
            message.ts, message.text = response["ts"], text
            return
        combined = message.text + text
        try:
            await self._send(self.client.chat_update, combined, ts=message.ts)
        except SlackApiError as error:
            log.warning("chat.update failed (%s); continuing in a new message", _error_code(error))
            self.messages.append(_Message())
            await self._post_or_update(self.messages[-1], text)
            return
        message.text = combined

    async def _send(self, method, markdown: str, **ids: str):
        """Post or update with a markdown block, falling back to mrkdwn text if refused."""
        where = {"channel": self.target.channel, **ids}
        if "ts" not in ids:
            where["thread_ts"] = self.target.thread_ts
        fallback = markdown_to_mrkdwn(markdown)
        try:
            return await method(
                **where, text=fallback, blocks=[{"type": "markdown", "text": markdown}]
            )
        except SlackApiError as error:
            if _error_code(error) not in _BLOCK_ERRORS:
                raise
            log.info("markdown block refused (%s); sending mrkdwn text", _error_code(error))
            return await method(**where, text=fallback)


def _error_code(error: SlackApiError) -> str:
    try:
        return str(error.response.get("error"))
    except AttributeError:
        return str(error)


async def post_notice(client: AsyncWebClient, target: Target, text: str) -> None:
    """Post a short bot notice (hint, error) in the thread."""
    await client.chat_postMessage(
        channel=target.channel, thread_ts=target.thread_ts, text=neutralize_broadcasts(text)
    )

"""The conversations the bot reads: a thread's messages, and whether the bot is part of it.

Whether the bot takes part in a thread is remembered (see :mod:`state`), so a person's reply
in a busy thread costs no Slack call; a thread with no memory is read once, however many
replies arrive while that read is in flight.
"""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError

from slackgpt.slack import thread_reads
from slackgpt.slack.api import SlackApi, error_code
from slackgpt.slack.events import BotIdentity, Question, is_answer
from slackgpt.state.local import State

log = logging.getLogger(__name__)

Learned = tuple[bool, list[dict] | None]


class Threads:
    """Reads threads through the Slack door and remembers which ones are the bot's."""

    def __init__(self, slack: SlackApi, state: State, identity: BotIdentity):
        self.slack = slack
        self.state = state
        self.identity = identity
        self._learning: dict[tuple[str, str], asyncio.Future[Learned]] = {}

    async def read(self, question: Question) -> list[dict]:
        """The question's thread (the question alone when it has none or it can't be read)."""
        if not question.thread_ts:
            return [question.as_message()]
        try:
            thread = await thread_reads.read(self.slack, question.channel, question.thread_ts)
        except SlackApiError as error:
            log.warning("could not read thread (%s); answering the message alone", error)
            return [question.as_message()]
        return _with(thread, question)

    async def joined(self, question: Question) -> None:
        """Note that the bot is answering in the question's thread: it takes part in it from
        now on. A summary only reads the thread, so it is noted as not the bot's (which never
        undoes an earlier answer there)."""
        target = question.target
        await self.state.remember_thread(target.channel, target.thread_ts, not question.summary)

    async def has_bot(self, question: Question, *, allowed: bool) -> Learned:
        """Whether the bot takes part in the question's thread, from memory or read once (only
        for someone allowed to ask); and the thread when it was read."""
        channel, thread_ts = question.channel, question.thread_ts or question.ts
        known = await self.state.thread_has_bot(channel, thread_ts)
        if known is not None or not allowed:
            return bool(known), None
        key = (channel, thread_ts)
        if key not in self._learning:  # replies in quick succession: one read serves them all
            self._learning[key] = asyncio.ensure_future(self._learn(channel, thread_ts))
            self._learning[key].add_done_callback(lambda _: self._learning.pop(key, None))
        has_bot, thread = await asyncio.shield(self._learning[key])
        if thread is None:
            return has_bot, None
        # A reply written before the bot's first message there was not meant for it, though
        # its read may come later (e.g. after waiting for Slack's budget).
        return _joined_before(thread, question.ts, self.identity), _with(thread, question)

    async def _learn(self, channel: str, thread_ts: str) -> Learned:
        """Read a thread the bot has no memory of; remember whether the bot is in it.

        Only while the thread-read budget has room beyond what answers need: when it is
        short the thread stays unknown (a later reply asks again), and answers keep theirs.
        """
        try:
            learned = await thread_reads.learn(self.slack, channel, thread_ts, self.identity)
        except SlackApiError as error:
            log.warning("could not read thread %s (%s)", thread_ts, error_code(error))
            return False, None
        if learned is None:
            log.info("thread %s not read: its budget is kept for answers for now", thread_ts)
            return False, None
        has_bot, thread = learned
        await self.state.remember_thread(channel, thread_ts, has_bot)
        return has_bot, thread


def _joined_before(thread: list[dict], ts: str, identity: BotIdentity) -> bool:
    """True when the bot had answered in ``thread`` before the message ``ts``."""
    return any(is_answer(m, identity) and float(m.get("ts") or 0) < float(ts) for m in thread)


def _with(thread: list[dict], question: Question) -> list[dict]:
    """A copy of ``thread`` that holds the question (Slack may not list it yet)."""
    if any(m.get("ts") == question.ts for m in thread):
        return list(thread)
    return [*thread, question.as_message()]

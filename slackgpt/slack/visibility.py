"""Who may see what: the bot reads a conversation for someone only when they could read it
themselves. A channel's kind and a private one's members are asked of Slack and kept briefly.

Any public channel is readable by everyone in the workspace; a private channel or group DM
only by its members; another person's DM by nobody but them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from slack_sdk.errors import SlackApiError

from slackgpt.slack.api import SlackApi
from slackgpt.slack.events import is_dm
from slackgpt.slack.wire import error_code

KIND_TTL = 600.0  # a channel turning private is rare: its kind is kept ten minutes
MEMBERS_TTL = 60.0  # someone removed from a private channel is seen within a minute
NOT_A_MEMBER = "not_a_member"
_SIZE = 5_000  # channels remembered
T = TypeVar("T")


class Visibility:
    """Asks the door, remembers briefly, and answers whether a person may read a channel."""

    def __init__(self, slack: SlackApi, *, clock: Callable[[], float] = time.monotonic):
        self.slack, self.clock = slack, clock
        self._kinds: dict[str, tuple[bool, float]] = {}  # channel -> (restricted, until)
        self._members: dict[str, tuple[frozenset[str], float]] = {}
        self._asking: dict[tuple[str, str], asyncio.Future] = {}  # questions to Slack under way

    async def refusal(self, user: str, channel: str) -> str | None:
        """None when ``user`` may read ``channel``; else why not, as a Slack-like code
        (``not_a_member``, ``channel_not_found``, or the error Slack gave)."""
        if is_dm(channel):
            return "channel_not_found"  # someone's DM: the bot never reads one for another
        try:
            if not await self._restricted(channel):
                return None
            members = await self._people(channel)
        except SlackApiError as error:
            return error_code(error)
        return None if user in members else NOT_A_MEMBER

    async def _restricted(self, channel: str) -> bool:
        """True for a private channel or a group DM."""
        kept = self._kinds.get(channel)
        if kept and kept[1] > self.clock():
            return kept[0]
        info = await self._once(("kind", channel), lambda: self.slack.conversation(channel))
        restricted = bool(info.get("is_private") or info.get("is_mpim") or info.get("is_im"))
        _keep(self._kinds, channel, (restricted, self.clock() + KIND_TTL))
        return restricted

    async def _people(self, channel: str) -> frozenset[str]:
        kept = self._members.get(channel)
        if kept and kept[1] > self.clock():
            return kept[0]
        members = await self._once(("members", channel), lambda: self.slack.members(channel))
        _keep(self._members, channel, (members, self.clock() + MEMBERS_TTL))
        return members

    async def _once(self, key: tuple[str, str], ask: Callable[[], Awaitable[T]]) -> T:
        """Ask Slack once for everyone who needs the same answer at the same time (a burst
        of questions about one channel costs one call)."""
        running = self._asking.get(key)
        if running is None:
            running = self._asking[key] = asyncio.ensure_future(ask())
            running.add_done_callback(lambda _: self._asking.pop(key, None))
        return await asyncio.shield(running)


def _keep(cache: dict, key: str, value: tuple) -> None:
    """Remember ``value``; the oldest entry goes once the cache is full."""
    cache.pop(key, None)
    cache[key] = value
    while len(cache) > _SIZE:
        cache.pop(next(iter(cache)))

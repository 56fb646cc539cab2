"""One bot message's pace within Slack's budgets: how it is written (streamed, or posted and
updated), how often it is updated, and the calls held so that its last words never wait.

Made by the door (:meth:`~slackgpt.slack.api.SlackApi.pace`) and handed back to it with the
calls that end the message; whoever writes the message names no Slack method or budget.
"""

from __future__ import annotations

from collections import Counter

from slackgpt.slack.quota import Quota

START, APPEND, STOP = "chat.startStream", "chat.appendStream", "chat.stopStream"
UPDATE = "chat.update"


class Pace:
    """The pace of one message: ``base`` seconds between updates at least, stretched while
    many messages share the budget of the method that updates them."""

    def __init__(self, quota: Quota, base: float):
        self._quota, self.base = quota, base
        self._method: str | None = None  # what updates the message now (None: nothing yet)
        self._held: Counter[str] = Counter()

    async def hold_stream(self) -> bool:
        """Hold a stream's start and its stop (both Tier 2), or neither: False when the budget
        lacks them now (the message is then posted instead)."""
        quota = self._quota  # each reserve is a test-and-use; the stop is tested first so a
        if not await quota.available(STOP):  # start is never used up alone
            return False
        if not (await quota.reserve(START) and await quota.reserve(STOP)):
            return False
        self._held.update((START, STOP))
        return True

    async def hold_last_update(self) -> bool:
        """Hold the update that will carry a posted message's last text, if the budget has it."""
        if not await self._quota.reserve(UPDATE):
            return False
        self._held[UPDATE] += 1
        return True

    def take(self, method: str) -> bool:
        """Use a call held for ``method``: True when there was one (the door then spends no
        budget on it)."""
        if self._held[method] <= 0:
            return False
        self._held[method] -= 1
        return True

    def streaming(self) -> None:
        """The message is a stream now: appended to."""
        self._updated_by(APPEND)

    def posted(self) -> None:
        """The message is posted now: updated with ``chat.update``."""
        self._updated_by(UPDATE)

    def done(self) -> None:
        """The message is no longer written to (what it still holds is let go)."""
        self._updated_by(None)
        self._held.clear()

    def interval(self) -> float:
        """Seconds until the message's next update: at least ``base``."""
        if self._method is None:
            return self.base
        return self._quota.interval(self._method, self.base)

    async def ready(self) -> bool:
        """True when the next update would not wait for Slack's budget (else text gathers)."""
        return self._method is None or await self._quota.available(self._method)

    async def last_update_ready(self) -> bool:
        """True when an update carrying the last text would not wait: held, or in budget."""
        return self._held[UPDATE] > 0 or await self._quota.available(UPDATE)

    def _updated_by(self, method: str | None) -> None:
        """Tell the quota which method updates this message now (it paces messages that share
        a budget)."""
        if self._method:
            self._quota.busy(self._method, -1)
        if method:
            self._quota.busy(method, +1)
        self._method = method

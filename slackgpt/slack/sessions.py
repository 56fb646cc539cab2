"""Slack's agent sessions: a thread's status while the bot works on it (``processing``, which
shows the stop button; ``active`` when the answer is done; ``suspended`` while it waits on
the person) and its title, for an app declared as an agent (``features.agent_view``).

Slack refuses sessions to other apps (``feature_disabled``, ``not_agent_app``): the bot says
so once and its answers go on as before (the *is thinking…* status and the pane's titles do
not depend on sessions); it asks again after RECHECK seconds, so an app moved to the agent
view is noticed without a restart. Every call goes through the door's
:meth:`~slackgpt.slack.api.SlackApi.call`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp
from slack_sdk.errors import SlackApiError

from slackgpt.deadline import deadline
from slackgpt.slack.api import SlackApi
from slackgpt.slack.delivery import Delivery
from slackgpt.slack.events import Target
from slackgpt.slack.wire import error_code

log = logging.getLogger(__name__)

PROCESSING, ACTIVE, SUSPENDED = "processing", "active", "suspended"
NOT_AN_AGENT = frozenset({"feature_disabled", "not_agent_app", "unknown_method"})
NO_STOP_BUTTON = "missing_agent_session_stopped_event_subscription"
RECHECK = 3600.0  # seconds before Slack is asked again whether the app is an agent
PATIENCE = 5.0  # seconds an answer's end waits for its session to be processing
ENDS_KEEP = 0.2  # of the Tier 3 budget, left by new sessions to the calls that end them
_FAILURES = (SlackApiError, aiohttp.ClientError, TimeoutError)


class Sessions:
    """The agent sessions of the bot's threads: whether Slack gives it any, and the calls."""

    def __init__(self, slack: SlackApi, *, clock: Callable[[], float] = time.monotonic):
        self.slack, self.clock = slack, clock
        self.agent: bool | None = None  # unknown until Slack answers a call
        self._ask_after = 0.0
        self._warned = False

    @property
    def possible(self) -> bool:
        """False while Slack is known to refuse this app sessions."""
        return self.agent is not False or self.clock() >= self._ask_after

    async def set(
        self, target: Target, status: str, title: str | None = None, *, wait: bool = True
    ) -> dict | None:
        """Set the thread's session to ``status``, creating it (``title`` names a new one);
        Slack's answer, or None when there is no session (never raises). ``wait=False``: not
        when the method's budget is short now (ENDS_KEEP of it is left to other calls)."""
        if not self.possible:
            return None
        method, where = "agents.sessions.setStatus", {"channel_id": target.channel}
        if not wait and not await self.slack.quota.reserve(method, keep=ENDS_KEEP):
            log.info("no agent session for %s/%s: %s is over its budget", target.channel,
                     target.thread_ts, method)
            return None
        try:
            answer = await self.slack.call(method, prepaid=not wait, **where,
                                           thread_ts=target.thread_ts, status=status, title=title)
        except _FAILURES as error:
            self._refused(error, status)
            return None
        self.agent = True
        self._check(answer)
        return answer

    async def rename(self, target: Target, title: str) -> bool:
        """Name the thread's existing session; False when Slack did not."""
        where = {"channel_id": target.channel, "thread_ts": target.thread_ts}
        try:
            await self.slack.call("agents.sessions.rename", **where, title=title)
        except _FAILURES as error:
            self._refused(error, "rename")
            return False
        return True

    def turn(self, target: Target, title: str | None, *, first: bool = False) -> Turn:
        """One answer's part in its thread's session (``first``: it starts the thread)."""
        return Turn(self, target, title, first)

    def _refused(self, error: Exception, what: str) -> None:
        code = error_code(error) if isinstance(error, SlackApiError) else type(error).__name__
        if code not in NOT_AN_AGENT:
            log.info("agent session %s: %s", what, code)
            return
        if self.agent is not False and not self._ask_after:  # the first time only
            log.warning(
                "Slack gives this app no agent sessions (%s): answers show 'is thinking…' "
                "and pane titles as before, without a stop button. To have them, move the "
                "app to agent view (README: Moving from the AI pane to agent view).", code)
        self.agent, self._ask_after = False, self.clock() + RECHECK

    def _check(self, answer: dict) -> None:
        warnings = {answer.get("warning"), *(answer.get("response_metadata") or {}).get(
            "warnings", ())}
        if NO_STOP_BUTTON in warnings and not self._warned:
            self._warned = True
            log.warning("Slack shows no stop button on the bot's answers: the app does not "
                        "subscribe to agent_session_stopped (%s). Paste manifest.json under "
                        "App Manifest and reinstall.", NO_STOP_BUTTON)


class Turn:
    """One answer's part in its thread's session: processing while it works, then active
    (``suspended`` while it waits on the person, e.g. for an approval)."""

    def __init__(self, sessions: Sessions, target: Target, title: str | None, first: bool):
        self.sessions, self.target, self.title, self.first = sessions, target, title, first
        self._begun: asyncio.Future[bool] | None = None

    def begin(self, delivery: Delivery) -> None:
        """Set the session processing, in the background; once Slack has, the delivery's
        last ``chat.stopStream`` makes it active (its other stops keep it processing)."""
        if self.sessions.possible:
            self._begun = asyncio.ensure_future(self._begin(delivery))

    async def live(self) -> bool:
        """True when the session is processing for this answer (waits for Slack's answer,
        PATIENCE seconds at most)."""
        if self._begun is None or self._begun.cancelled():
            return False
        try:
            async with deadline(PATIENCE):
                return await asyncio.shield(self._begun)
        except TimeoutError:  # Slack is slow: no session for this answer, not a late one
            self._begun.cancel()
            return False

    async def waiting(self) -> None:
        """The answer waits on the person (an approval): the session is ``suspended``."""
        if await self.live():
            await self.sessions.set(self.target, SUSPENDED)

    async def working(self) -> None:
        """The answer goes on after a wait: the session is ``processing`` again."""
        if await self.live():
            await self.sessions.set(self.target, PROCESSING)

    async def end(self, delivery: Delivery) -> None:
        """The answer is over: the session leaves ``processing`` (unless the delivery's last
        ``chat.stopStream`` already made it active)."""
        if await self.live() and not delivery.session_ended:
            await self.sessions.set(self.target, ACTIVE)

    def cancel(self) -> None:
        """Another copy answers: this one leaves the session alone."""
        if self._begun is not None and not self._begun.done():
            self._begun.cancel()

    async def _begin(self, delivery: Delivery) -> bool:
        answer = await self.sessions.set(self.target, PROCESSING, self.title, wait=False)
        if answer is None:
            return False
        delivery.session = ACTIVE
        if self.first and self.title and not answer.get("title"):  # it existed, untitled
            await self.sessions.rename(self.target, self.title)
        return True

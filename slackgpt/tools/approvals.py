"""The asker's approval of a tool that writes, asked with Slack buttons.

:class:`Approvals` is the :class:`~slackgpt.tools.base.Approver`. It posts in the thread what
would run (the tool's title and its arguments, capped and inert) with Approve and Deny
buttons, waits for the asker's click or the timeout, then puts the outcome where the buttons
were. Slack may deliver the click to any copy of the bot: the copy that gets it settles the
decision in :class:`~slackgpt.state.local.State` (one decision per request, whichever comes
first), and the copy that waits reads it there: at once in the same process, within ``poll``
seconds from another. The rules are :mod:`~slackgpt.tools.approval_rules`'.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from slack_sdk.errors import SlackApiError

from slackgpt.deadline import deadline
from slackgpt.slack import blocks
from slackgpt.slack.api import SlackApi, error_code
from slackgpt.slack.events import Target
from slackgpt.state.local import State
from slackgpt.tools import approval_rules as rules
from slackgpt.tools.approval_rules import EXPIRED, STOPPED, Click, Reply, Request
from slackgpt.tools.base import Asker, Tool

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0
POLL = 0.5  # seconds between looks at the store for a click that another copy received


class Approvals:
    """Asks the asker, in the thread, whether a writing tool may run; and takes the clicks."""

    def __init__(
        self,
        slack: SlackApi,
        state: State,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        poll: float = POLL,
        clock: Callable[[], float] = time.time,
    ):
        self.slack, self.state, self.timeout = slack, state, timeout
        self.poll, self.clock = poll, clock
        self._waiting: dict[str, asyncio.Event] = {}  # request id -> woken by a click here
        self._tasks: set[asyncio.Task[None]] = set()

    async def approve(self, tool: Tool, arguments: dict, asker: Asker) -> bool:
        """True once the asker clicked Approve; False when they denied, did not answer in
        time, or the request could not be posted. The buttons then show the outcome."""
        request = Request(uuid.uuid4().hex, asker.user, math.ceil(self.clock() + self.timeout))
        target = Target(asker.channel, asker.thread_ts, asker.user, asker.team)
        text = rules.request_text(tool.title, arguments)
        asking = f"{text}\n{rules.waiting_line(self.timeout)}"
        buttons = blocks.approval_blocks(request.id, request.value)
        try:
            ts = await self.slack.post_markdown(target, asking, buttons)
        except SlackApiError as error:
            log.warning("could not ask for approval to run %s: %s", tool.name, error_code(error))
            return False
        try:
            held = await self._wait(request)
        except asyncio.CancelledError:  # the answer stopped: so does the request, for all
            self._spawn(self._end(request, target.channel, ts, text))
            raise
        await self._show(request, target.channel, ts, text, held)
        outcome = held.split(":")[0]
        log.info("approval", extra={"tool": tool.name, "outcome": outcome, "user": asker.user,
                                    "channel": asker.channel})
        return rules.approved(held, request.asker)

    async def clicked(self, body: dict) -> None:
        """A click on Approve or Deny, on whichever copy Slack chose: settle it when it is
        the asker's and in time; tell the clicker, alone, when it counts for nothing."""
        click = rules.click_from(body)
        if click is None:
            log.warning("an approval click that is not one of ours: %s", body.get("actions"))
            return
        reply = rules.refusal(click, self.clock())
        if reply is None:
            held = await self.state.settle(click.request.key, rules.decision(click), self._keep)
            reply = rules.after(click, held)
            woken = self._waiting.get(click.request.id)
            if woken is not None and held is not None:
                woken.set()
        log.info("approval click", extra={"user": click.user, "approve": click.approve,
                                          "counted": reply is None})
        if reply is not None:
            await self._tell(click, reply, body.get("response_url"))

    async def close(self) -> None:
        """Let the outcomes still being shown finish (briefly)."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)

    @property
    def _keep(self) -> float:
        return self.timeout + rules.KEEP_AFTER

    async def _wait(self, request: Request) -> str:
        """The decision: the asker's click, else ``expired`` once the time is over."""
        woken = self._waiting[request.id] = asyncio.Event()
        try:
            while (left := request.deadline - self.clock()) > 0:
                held = await self.state.settled(request.key)
                if held:
                    return held
                with contextlib.suppress(TimeoutError):
                    async with deadline(min(self.poll, left)):
                        await woken.wait()
            return await self.state.settle(request.key, EXPIRED, self._keep) or EXPIRED
        finally:
            del self._waiting[request.id]

    async def _end(self, request: Request, channel: str, ts: str, text: str) -> None:
        """After the answer stopped: no click may settle it any more."""
        held = await self.state.settle(request.key, STOPPED, self._keep) or STOPPED
        await self._show(request, channel, ts, text, held)

    async def _show(self, request: Request, channel: str, ts: str, text: str, held: str) -> None:
        """The request's message with the outcome in place of its buttons."""
        line = rules.outcome_line(held, self.timeout, request.asker)
        try:
            await self.slack.update_markdown(channel, ts, text, blocks.context_blocks(line))
        except SlackApiError as error:
            log.info("could not show an approval's outcome: %s", error_code(error))

    async def _tell(self, click: Click, reply: Reply, response_url: object) -> None:
        target = Target(click.channel, click.thread_ts, click.user)
        shown = blocks.section_blocks(reply.mrkdwn)
        try:
            await self.slack.post_ephemeral(target, reply.plain, shown)
        except SlackApiError as error:
            log.info("could not answer an approval click (%s)", error_code(error))
            if isinstance(response_url, str) and response_url:
                await self.slack.respond(response_url, reply.plain)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

"""One round of tool calls: shown as steps, run at the same time (each within its time
limit, a writing one only once approved), every call answered for the model.

Never raises for a failed call: a tool's error, time-out, exception or refusal becomes its
result (the model reads why) and an error step (the person sees it). Cancellation (the bot
stopping) goes through.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from slackgpt.answering import tool_loop
from slackgpt.answering.tool_loop import Limits, Tally
from slackgpt.deadline import deadline
from slackgpt.model.tool_calls import Checked
from slackgpt.slack.api import SlackApi
from slackgpt.slack.delivery import Delivery
from slackgpt.slack.tasks import DONE, FAILED, Step, sources_of
from slackgpt.tools.base import Approver, Asker, Tool, ToolResult
from slackgpt.tools.toolbox import Toolbox

log = logging.getLogger(__name__)

THINKING = "is thinking…"


class Pauses(Protocol):
    """Where an answer shows that it waits on the person (the agent session's turn)."""

    async def waiting(self) -> None: ...

    async def working(self) -> None: ...


class ShownWait:
    """An :class:`Approver` whose waits show: the session is *suspended* while any request
    of the answer waits for the asker's click, *processing* again once none does."""

    def __init__(self, approver: Approver, pauses: Pauses):
        self.approver, self.pauses = approver, pauses
        self.asking = 0  # requests of this answer waiting now (a round may ask several)

    async def approve(self, tool: Tool, arguments: dict, asker: Asker) -> bool:
        self.asking += 1
        if self.asking == 1:
            await self.pauses.waiting()
        try:
            return await self.approver.approve(tool, arguments, asker)
        finally:
            self.asking -= 1
            if self.asking == 0 and not _stopping():
                await self.pauses.working()


def _stopping() -> bool:
    """True while the current task is being cancelled (a stop click, shutdown)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class ToolRunner:
    """Runs the tool calls of one answer, round by round."""

    def __init__(
        self, toolbox: Toolbox, limits: Limits, delivery: Delivery, slack: SlackApi, tally: Tally
    ):
        self.toolbox, self.limits, self.delivery = toolbox, limits, delivery
        self.slack, self.tally = slack, tally
        self.status_shown = False  # a tool's status was set (it may outlast the answer)
        self.asked = 0  # approvals this answer asked for (limits.approvals at most)

    async def run(self, calls: list[Checked], budget: int) -> list[dict]:
        """Run one round's ``calls``; their ``tool`` messages, one per call, in order."""
        self.tally.rounds += 1
        self.tally.calls += len(calls)
        ids = [f"tool-{self.tally.rounds}-{n}" for n in range(len(calls))]
        await self._status(tool_loop.status_of(self._started(calls, ids)))
        pairs = zip(calls, ids, strict=True)
        results = await asyncio.gather(*(self._result(call, step) for call, step in pairs))
        cap = tool_loop.output_cap(self.limits, budget, len(calls))
        turns = []
        for call, result in zip(calls, results, strict=True):
            self.tally.failed += result.error
            turns.append(tool_loop.answered(call.id, tool_loop.capped(result.text, cap)))
        await self._status(THINKING)
        return turns

    def _started(self, calls: list[Checked], ids: list[str]) -> list[str]:
        """Show each call that will run as a step; their titles."""
        titles = []
        for call, step_id in zip(calls, ids, strict=True):
            tool = self.toolbox.get(call.name) if call.problem is None else None
            if tool is not None:
                titles.append(tool.title)
                details = tool_loop.details_of(call.arguments)
                self.delivery.show(Step(step_id, tool.title, details=details))
        return titles

    async def clear_status(self) -> None:
        """Take away the status the rounds set: Slack clears one when a message is posted,
        and a status set after the answer's message (which calls racing each other cannot
        tell) would stay."""
        if self.status_shown:
            await self.slack.set_status(self.delivery.target, "")

    async def _status(self, status: str) -> None:
        if status:
            self.status_shown = True
            await self.slack.set_status(self.delivery.target, status)

    async def _result(self, call: Checked, step_id: str) -> ToolResult:
        """The call's result; its step shown as ended."""
        if call.problem is not None:
            log.info("tool call %s not run: %s", call.name[:64], call.problem)
            return ToolResult(tool_loop.problem_text(call.problem), error=True)
        tool = self.toolbox.get(call.name)
        assert tool is not None  # checked against the toolbox
        result = await self._run(tool, call.arguments or {})
        self.delivery.show(_ended(step_id, call, tool, result))
        return result

    async def _run(self, tool: Tool, arguments: dict) -> ToolResult:
        if tool.writes and self.asked >= self.limits.approvals:
            return ToolResult(tool_loop.too_many_text(self.limits.approvals), error=True,
                              summary="not asked: too many")
        if tool.writes and not await self._approved(tool, arguments):
            return ToolResult(tool_loop.refused_text(self.toolbox.approver is not None),
                              error=True, summary="not approved")
        try:
            async with deadline(self.limits.timeout):
                return await tool.run(arguments, self.toolbox.asker)
        except TimeoutError:
            self.tally.timed_out += 1
            log.warning("tool %s took over %gs; stopped", tool.name, self.limits.timeout)
            return ToolResult(f"No result within {self.limits.timeout:g} seconds; it was "
                              "stopped.", error=True, summary="timed out")
        except Exception as error:  # a tool that broke its promise not to raise
            log.warning("tool %s failed", tool.name, exc_info=True)
            return ToolResult(f"It failed ({type(error).__name__}).", error=True)

    async def _approved(self, tool: Tool, arguments: dict) -> bool:
        approver = self.toolbox.approver
        if approver is None:
            return False
        self.asked += 1  # counted before the wait: the calls of a round ask at the same time
        try:
            return await approver.approve(tool, arguments, self.toolbox.asker)
        except Exception:  # an approval that cannot be asked is no approval
            log.warning("asking to approve %s failed", tool.name, exc_info=True)
            return False


def _ended(step_id: str, call: Checked, tool: Tool, result: ToolResult) -> Step:
    """The step as it ended: the done title (a tool's ``done_title``, if it has one), how it
    went, where it read."""
    title = tool.title if result.error else str(getattr(tool, "done_title", "") or tool.title)
    output = result.summary or ("failed" if result.error else "done")
    pairs = ((s.title, s.url) for s in result.sources)
    status = FAILED if result.error else DONE
    details = tool_loop.details_of(call.arguments)
    return Step(step_id, title, status, details, output, sources_of(pairs))

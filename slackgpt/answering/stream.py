"""One answer's stream: the model's words into the thread, thinking shown, the ending.

A request longer than the model's context is tried again with a smaller budget (the root and
the newest message always kept); what the model's failures mean comes from :mod:`failures`.
With a toolbox, the model may call tools, round after round (:mod:`tool_loop` decides,
:mod:`tool_runner` runs them); its words before, between and after them are all shown.
The model is read in a task of its own, so that a stop click (:meth:`AnswerStream.stop`)
closes its request at once, whatever the answer is waiting for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from slackgpt.answering import prompt, tool_loop
from slackgpt.answering.tool_loop import Limits, Talk, Tally
from slackgpt.answering.tool_runner import ToolRunner
from slackgpt.metrics.base import NO_METRICS, Metrics
from slackgpt.model import failures
from slackgpt.model.client import Completion, ModelClient, Thinking, Usage
from slackgpt.model.tool_calls import check_calls
from slackgpt.slack.api import SlackApi
from slackgpt.slack.delivery import Delivery
from slackgpt.slack.events import Question
from slackgpt.slack.tasks import FAILED
from slackgpt.tools.toolbox import Toolbox

log = logging.getLogger(__name__)
T = TypeVar("T")

STATUS = "is thinking…"
RESTARTING = "I'm restarting and couldn't finish. Please ask again in a moment."
CONTEXT_RETRIES = 2


@dataclass
class AnswerStream:
    """One answer in progress: where it goes, what was shown, how it ended (for the log)."""

    question: Question
    delivery: Delivery
    claim: asyncio.Future[bool]
    model: ModelClient
    slack: SlackApi
    show_usage: bool = False
    end_blocks: list[dict] | None = None  # e.g. feedback buttons, on the finished answer
    started: float = field(default_factory=time.monotonic)
    completion: Completion = field(default_factory=Completion)
    outcome: str = "ok"
    first_text: float | None = None
    metrics: Metrics = NO_METRICS  # told of the answer's ending, with the log line
    toolbox: Toolbox | None = None  # the tools this answer may use (None or empty: none)
    limits: Limits = field(default_factory=Limits)
    tally: Tally = field(default_factory=Tally)
    spent: Usage | None = None  # every round's usage, when the server reports it
    _said: str = ""  # this round's words
    stopped_by: str | None = None  # who clicked stop (Slack's agent session stop button)
    stopped_ts: frozenset[str] = frozenset()  # its messages whose stream Slack ended
    _piping: asyncio.Task | None = None  # the model's stream or a round of tools, now

    async def run(self, build: Callable[[int], prompt.Prompt], budget: int) -> int:
        """Stream the answer into the thread once the claim is ours, and end it.

        ``build(budget)`` makes the model's messages; returns the budget that worked (smaller
        than ``budget`` when the model's context turned out to be).
        """
        specs = self.toolbox.specs() if self.toolbox else []
        talk = Talk(build, budget, tool_loop.tools_tokens(specs))
        runner = None
        if self.toolbox:
            runner = ToolRunner(self.toolbox, self.limits, self.delivery, self.slack, self.tally)
        error = await self._ask(talk, specs)
        while error is None and runner is not None and self._calls_tools():
            if not await self.ours():
                break
            made = self.completion.tool_calls.calls
            calls = check_calls(made, set(self.toolbox.tools), f"call_{self.tally.rounds}_")
            results = await self._stoppable(runner.run(calls, talk.budget))
            if results is None:  # stopped while the tools ran: they are cancelled
                break
            talk.add(tool_loop.asked(self._said, calls), results)
            last = self.tally.rounds >= self.limits.rounds  # then it must answer, without tools
            error = await self._ask(talk, [] if last else specs)
        if self.stopped_by is not None or (self.delivery.stopped_by_user and self.delivery.session):
            await self._end_stopped()  # the stop button; or Slack stopped the session's stream
        else:
            await self._finish(error, talk.notes)
        if runner is not None:
            await runner.clear_status()
        return talk.budget

    def stop(self, user: str, stopped: frozenset[str] = frozenset()) -> None:
        """``user`` clicked stop: the model's request is closed now, and the answer ends
        with what was shown, marked stopped (``stopped``: messages Slack ended already)."""
        if self.stopped_by is None:
            log.info("%s stopped the answer to %s in %s/%s", user or "someone",
                     self.question.user, self.question.channel, self.delivery.target.thread_ts)
        self.stopped_by, self.stopped_ts = user, self.stopped_ts | stopped
        if self._piping is not None:
            self._piping.cancel()

    def duplicate(self) -> bool:
        """True when the question turned out to be another copy's."""
        claim = self.claim
        done = claim.done() and not claim.cancelled() and claim.exception() is None
        return done and claim.result() is False

    def _calls_tools(self) -> bool:
        """The model's last round called tools, and may (rounds left, nobody stopped it)."""
        rounds_left = self.tally.rounds < self.limits.rounds
        stopped = self.delivery.stopped_by_user or self.stopped_by is not None
        return rounds_left and bool(self.completion.tool_calls) and not stopped

    async def _ask(self, talk: Talk, specs: list[dict]) -> Exception | None:
        """One round: the model asked, its words shown; again with a smaller budget when the
        request was longer than its context and nothing of this round was shown."""
        error = await self._piped(talk.messages(), specs)
        for _ in range(CONTEXT_RETRIES):
            if not failures.is_context_overflow(error) or self._said:
                break
            log.info("context exceeded; trying %d tokens", talk.shrink(error))  # type: ignore[arg-type]
            error = await self._piped(talk.messages(), specs)
        return error

    async def cancelled(self) -> None:
        """The bot is stopping: end what was shown with a line saying to ask again (unless
        the question is another copy's, or not known to be this one's yet)."""
        self.outcome = "cancelled"
        claim = self.claim
        if claim.done() and not claim.cancelled() and claim.exception() is None and claim.result():
            await self._end_interrupted(RESTARTING)

    async def ours(self) -> bool:
        """True once the Slack claim is this copy's; else the answer is another copy's."""
        if await asyncio.shield(self.claim):  # a stop cancels the model's task, not the claim
            return True
        self.outcome = "duplicate"
        log.info("another copy is answering %s/%s", self.question.channel, self.question.ts)
        return False

    def log_line(self) -> None:
        """One structured line per answer (and the answer told to the metrics)."""
        usage = self.spent
        first = self.first_text - self.started if self.first_text else None
        total = time.monotonic() - self.started
        self.metrics.answer(self.outcome, first, total)
        fields = {
            "event_id": self.question.event_id,
            "channel": self.question.channel,
            "outcome": self.outcome,
            "first_text_s": round(first, 3) if first is not None else None,
            "total_s": round(total, 3),
            "chars": len(self.delivery.shown),
            "tokens": usage.total if usage else None,
            "tool_rounds": self.tally.rounds,
            "tool_calls": self.tally.calls,
            "tool_errors": self.tally.failed,
        }
        log.info("answer", extra=fields)  # the formatter writes the fields, once

    async def _piped(self, messages: list[dict], specs: list[dict]) -> Exception | None:
        """:meth:`_pipe`, which a stop click cuts short (None then)."""
        return await self._stoppable(self._pipe(messages, specs))

    async def _stoppable(self, work: Coroutine[Any, Any, T]) -> T | None:
        """``work`` (the model's stream, a round of tools) in a task of its own, which
        :meth:`stop` cancels: None then, and at once if the answer was stopped already."""
        if self.stopped_by is not None:
            work.close()
            return None
        self._piping = task = asyncio.ensure_future(work)
        try:
            await asyncio.wait({task})
        finally:
            self._piping = None
            if not task.done():  # this answer is cancelled (shutdown): so is its work
                task.cancel()
                await asyncio.wait({task})
        return None if task.cancelled() else task.result()

    async def _pipe(self, messages: list[dict], specs: list[dict]) -> Exception | None:
        """Model → delivery until the model ends; the model's failure is returned, not raised."""
        self.completion, self._said = Completion(), ""
        try:
            stream = self.model.stream(messages, self.completion, specs or None)
            async with contextlib.aclosing(stream) as pieces:
                async for piece in pieces:
                    if isinstance(piece, Thinking):
                        await self._thinking(piece)
                        continue
                    if self.first_text is None:
                        if not await self.ours():
                            return None
                        self.first_text = time.monotonic()
                    if not self._said and self.delivery.has_text:  # an earlier round's words
                        self.delivery.write("\n\n")
                    self._said += piece
                    self.delivery.write(piece)
                    if self.delivery.stopped_by_user:
                        self.outcome = "stopped"
                        break
        except Exception as error:  # the model failed: the caller says so in the thread
            return error
        finally:
            self._spend(self.completion.usage)
        return None

    def _spend(self, usage: Usage | None) -> None:
        if usage is not None:
            spent = self.spent or Usage()
            self.spent = Usage(spent.prompt_tokens + usage.prompt_tokens,
                               spent.completion_tokens + usage.completion_tokens)

    async def _thinking(self, thought: Thinking) -> None:
        """Show a long thought under the thread, while no words are shown yet."""
        if self.first_text is None:
            status = f"{STATUS} ({int(thought.seconds)} s)"
            await self.slack.set_status(self.question.target, status)

    async def _finish(self, error: Exception | None, notes: tuple[str, ...]) -> None:
        if not await self.ours():
            return
        if error is not None:
            self.outcome = f"error:{type(error).__name__}"
            failure = failures.explain(error, self.model.model_name)
            failure = failures.renamed(failure, getattr(self.model, "named", None) or {})
            fix = f" Fix: {failure.fix}" if failure.fix else ""
            where = failure.summary_at(self.model.where)
            log.warning("model call failed for %s: %s.%s", self.question.event_id, where, fix)
            await self._end_interrupted(failure.people)
            return
        await self._end(notes)

    async def _end(self, notes: tuple[str, ...]) -> None:
        """End a complete answer: notes and footer, or a notice when there was no text."""
        delivery, completion = self.delivery, self.completion
        if self.first_text:
            delivery.write(prompt.ending_note(completion.finish_reason))
            usage = self.spent if self.show_usage else None
            line = prompt.usage_line(self.model.model_name, usage.total) if usage else None
            delivery.write(prompt.footer(notes, line))
        elif delivery.steps and not delivery.stopped_by_user:  # steps shown, and no words
            self.outcome = "empty"
            delivery.write(prompt.empty_answer(completion.finish_reason))
        await delivery.finish(blocks=self.end_blocks)
        if not delivery.started and not delivery.stopped_by_user:
            self.outcome = "empty"
            text = prompt.empty_answer(completion.finish_reason)
            await self.slack.post_text(self.question.target, text)

    async def _end_interrupted(self, why: str) -> None:
        """End an answer that could not be completed: keep what was shown, add why."""
        delivery = self.delivery
        for step in delivery.steps.running():  # a card left spinning would never stop
            delivery.show(replace(step, status=FAILED, output="stopped"))
        if delivery.has_text or delivery.steps:  # shown, queued, or on its way: after it
            delivery.write(prompt.interrupted(why))
            await delivery.finish()
        else:
            await delivery.finish()
            await self.slack.post_text(delivery.target, f":warning: {why}")

    async def _end_stopped(self) -> None:
        """Someone stopped the answer: what was shown stays, marked stopped."""
        self.outcome = "stopped"
        if await self.ours():
            await self.delivery.halt(prompt.STOPPED, self.stopped_ts)

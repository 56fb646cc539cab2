"""One answer's stream: the model's words into the thread, thinking shown, the ending.

A request longer than the model's context is tried again with a smaller budget (the root and
the newest message always kept); what the model's failures mean comes from :mod:`failures`.
The model is read in a task of its own, so that a stop click (:meth:`AnswerStream.stop`)
closes its request at once, whatever the answer is waiting for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from slackgpt.answering import prompt
from slackgpt.metrics.base import NO_METRICS, Metrics
from slackgpt.model import failures
from slackgpt.model.client import Completion, ModelClient, Thinking
from slackgpt.model.tokens import messages_tokens
from slackgpt.slack.api import SlackApi
from slackgpt.slack.delivery import Delivery
from slackgpt.slack.events import Question

log = logging.getLogger(__name__)

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
    metrics: Metrics = NO_METRICS  # told of the answer's ending, with the log line
    started: float = field(default_factory=time.monotonic)
    completion: Completion = field(default_factory=Completion)
    outcome: str = "ok"
    first_text: float | None = None
    stopped_by: str | None = None  # who clicked stop (Slack's agent session stop button)
    stopped_ts: frozenset[str] = frozenset()  # its messages whose stream Slack ended
    _piping: asyncio.Task[Exception | None] | None = None

    async def run(self, build: Callable[[int], prompt.Prompt], budget: int) -> int:
        """Stream the answer into the thread once the claim is ours, and end it.

        ``build(budget)`` makes the model's messages; returns the budget that worked (smaller
        than ``budget`` when the model's context turned out to be).
        """
        request = build(budget)
        error = await self._piped(request)
        for _ in range(CONTEXT_RETRIES):
            if not failures.is_context_overflow(error) or self.first_text is not None:
                break
            sent = messages_tokens(request.messages)
            budget = failures.smaller_budget(error, sent, budget)  # type: ignore[arg-type]
            log.info("context exceeded at ~%d tokens; trying %d", sent, budget)
            request = build(budget)
            self.completion = Completion()
            error = await self._piped(request)
        if self.stopped_by is not None or (self.delivery.stopped_by_user and self.delivery.session):
            await self._end_stopped()  # the stop button; or Slack stopped the session's stream
        else:
            await self._finish(error, request.notes)
        return budget

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
        usage = self.completion.usage
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
        }
        log.info("answer", extra=fields)  # the formatter writes the fields, once

    async def _piped(self, request: prompt.Prompt) -> Exception | None:
        """:meth:`_pipe` in a task of its own, which :meth:`stop` cancels (None then)."""
        if self.stopped_by is not None:
            return None
        self._piping = piping = asyncio.ensure_future(self._pipe(request))
        try:
            await asyncio.wait({piping})
        finally:
            self._piping = None
            if not piping.done():  # this answer is cancelled (shutdown): so is its model
                piping.cancel()
                await asyncio.wait({piping})
        return None if piping.cancelled() else piping.result()

    async def _pipe(self, request: prompt.Prompt) -> Exception | None:
        """Model → delivery until the model ends; the model's failure is returned, not raised."""
        try:
            stream = self.model.stream(request.messages, self.completion)
            async with contextlib.aclosing(stream) as pieces:
                async for piece in pieces:
                    if isinstance(piece, Thinking):
                        await self._thinking(piece)
                        continue
                    if self.first_text is None:
                        if not await self.ours():
                            return None
                        self.first_text = time.monotonic()
                    self.delivery.write(piece)
                    if self.delivery.stopped_by_user:
                        self.outcome = "stopped"
                        break
        except Exception as error:  # the model failed: the caller says so in the thread
            return error
        return None

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
            usage = completion.usage if self.show_usage else None
            line = prompt.usage_line(self.model.model_name, usage.total) if usage else None
            delivery.write(prompt.footer(notes, line))
        await delivery.finish(blocks=self.end_blocks)
        if not delivery.started and not delivery.stopped_by_user:
            self.outcome = "empty"
            text = prompt.empty_answer(completion.finish_reason)
            await self.slack.post_text(self.question.target, text)

    async def _end_stopped(self) -> None:
        """Someone stopped the answer: what was shown stays, marked stopped."""
        self.outcome = "stopped"
        if await self.ours():
            await self.delivery.halt(prompt.STOPPED, self.stopped_ts)

    async def _end_interrupted(self, why: str) -> None:
        """End an answer that could not be completed: keep what was shown, add why."""
        delivery = self.delivery
        if delivery.has_text:  # shown, queued, or on its way: the line follows it
            delivery.write(prompt.interrupted(why))
            await delivery.finish()
        else:
            await delivery.finish()
            await self.slack.post_text(delivery.target, f":warning: {why}")

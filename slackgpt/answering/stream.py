"""One answer's stream: the model's words into the thread, thinking shown, the ending.

A request longer than the model's context is tried again with a smaller budget (the root and
the newest message always kept); what the model's failures mean comes from :mod:`failures`.
With a toolbox, the model may call tools, round after round (:mod:`tool_loop` decides,
:mod:`tool_runner` runs them); its words before, between and after them are all shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from slackgpt.answering import prompt, tool_loop
from slackgpt.answering.tool_loop import Limits, Talk, Tally
from slackgpt.answering.tool_runner import ToolRunner
from slackgpt.model import failures
from slackgpt.model.client import Completion, ModelClient, Thinking, Usage
from slackgpt.model.tool_calls import check_calls
from slackgpt.slack.api import SlackApi
from slackgpt.slack.delivery import Delivery
from slackgpt.slack.events import Question
from slackgpt.slack.tasks import FAILED
from slackgpt.tools.toolbox import Toolbox

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
    started: float = field(default_factory=time.monotonic)
    completion: Completion = field(default_factory=Completion)
    outcome: str = "ok"
    first_text: float | None = None
    toolbox: Toolbox | None = None  # the tools this answer may use (None or empty: none)
    limits: Limits = field(default_factory=Limits)
    tally: Tally = field(default_factory=Tally)
    spent: Usage | None = None  # every round's usage, when the server reports it
    _said: str = ""  # this round's words

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
            talk.add(tool_loop.asked(self._said, calls), await runner.run(calls, talk.budget))
            last = self.tally.rounds >= self.limits.rounds  # then it must answer, without tools
            error = await self._ask(talk, [] if last else specs)
        await self._finish(error, talk.notes)
        if runner is not None:
            await runner.clear_status()
        return talk.budget

    def _calls_tools(self) -> bool:
        """The model's last round called tools, and may (rounds left, nobody stopped it)."""
        rounds_left = self.tally.rounds < self.limits.rounds
        return rounds_left and bool(self.completion.tool_calls) and not (
            self.delivery.stopped_by_user)

    async def _ask(self, talk: Talk, specs: list[dict]) -> Exception | None:
        """One round: the model asked, its words shown; again with a smaller budget when the
        request was longer than its context and nothing of this round was shown."""
        error = await self._pipe(talk.messages(), specs)
        for _ in range(CONTEXT_RETRIES):
            if not failures.is_context_overflow(error) or self._said:
                break
            log.info("context exceeded; trying %d tokens", talk.shrink(error))  # type: ignore[arg-type]
            error = await self._pipe(talk.messages(), specs)
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
        if await self.claim:
            return True
        self.outcome = "duplicate"
        log.info("another copy is answering %s/%s", self.question.channel, self.question.ts)
        return False

    def log_line(self) -> None:
        """One structured line per answer."""
        usage = self.spent
        fields = {
            "event_id": self.question.event_id,
            "channel": self.question.channel,
            "outcome": self.outcome,
            "first_text_s": round(self.first_text - self.started, 3) if self.first_text else None,
            "total_s": round(time.monotonic() - self.started, 3),
            "chars": len(self.delivery.shown),
            "tokens": usage.total if usage else None,
            "tool_rounds": self.tally.rounds,
            "tool_calls": self.tally.calls,
            "tool_errors": self.tally.failed,
        }
        log.info("answer", extra=fields)  # the formatter writes the fields, once

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

"""One answer's flow: claim the question, show the bot is working, read, stream, end.

The decisions are made by the pure modules (:mod:`policy`, :mod:`prompt`, :mod:`failures`);
Slack is reached only through :class:`~slackgpt.slack_api.SlackApi`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field, replace

from slack_sdk.errors import SlackApiError

from . import failures, policy, prompt
from .assistant import Addition, Extras, feedback_blocks
from .config import Settings
from .delivery import Delivery
from .events import BotIdentity, Question, is_own
from .files import Attachments, read_attachments
from .model import Completion, ModelClient
from .slack_api import SlackApi, error_code
from .state import State

log = logging.getLogger(__name__)

STATUS = "is thinking…"
CLAIM_REACTION = "eyes"
RESTARTING = "I'm restarting and couldn't finish. Please ask again in a moment."


@dataclass
class _Run:
    """One answer in progress: where it goes, what was shown, how it ended (for the log)."""

    question: Question
    delivery: Delivery
    claim: asyncio.Future[bool]
    started: float = field(default_factory=time.monotonic)
    completion: Completion = field(default_factory=Completion)
    outcome: str = "ok"
    first_text: float | None = None

    async def ours(self) -> bool:
        """True once the Slack claim is this copy's; else the answer is another copy's."""
        if await self.claim:
            return True
        self.outcome = "duplicate"
        log.info("another copy is answering %s/%s", self.question.channel, self.question.ts)
        return False

    def log_line(self) -> None:
        """One structured line per answer."""
        usage = self.completion.usage
        fields = {
            "event_id": self.question.event_id,
            "channel": self.question.channel,
            "outcome": self.outcome,
            "first_text_s": round(self.first_text - self.started, 3) if self.first_text else None,
            "total_s": round(time.monotonic() - self.started, 3),
            "chars": len(self.delivery.shown),
            "tokens": usage.total if usage else None,
        }
        text = " ".join(f"{key}={value}" for key, value in fields.items())
        log.info("answer %s", text, extra=fields)


class Answerer:
    """Answers questions, each exactly once, and can wait for the answers in flight."""

    def __init__(
        self,
        *,
        slack: SlackApi,
        model: ModelClient,
        settings: Settings,
        identity: BotIdentity,
        state: State,
        extras: Extras | None = None,
    ):
        self.slack = slack
        self.model = model
        self.settings = settings
        self.identity = identity
        self.state = state
        self.extras = extras
        self._in_flight: set[asyncio.Task[object]] = set()
        self._learning: dict[tuple[str, str], asyncio.Future[tuple[bool, list | None]]] = {}

    async def answer(
        self, question: Question, *, follow_up: bool = False, thread: list[dict] | None = None
    ) -> None:
        """Reply to ``question`` in its thread; every failure ends in a message there.

        With ``follow_up`` (a thread reply without a mention) only when the bot is already
        part of that thread. ``thread``: the thread, already read (ending with the question).
        """
        if not await self.state.claim(f"{question.channel}:{question.ts}"):
            log.info("already answering %s/%s; skipping duplicate", question.channel, question.ts)
            return
        async with self._tracked():
            try:
                await self._answer(question, follow_up, thread)
            except Exception as error:  # a bug or an outage no step expected: still tell them
                log.exception("answering %s/%s failed", question.channel, question.ts)
                with contextlib.suppress(Exception):
                    explained = failures.explain(error, self.model.model_name)
                    await self.slack.post_text(question.target, f":warning: {explained.people}")

    async def drain(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for answers in flight, then cancel the rest."""
        pending = set(self._in_flight)
        if not pending:
            return
        log.info("waiting up to %gs for %d answer(s) in flight", grace, len(pending))
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=5)

    @contextlib.asynccontextmanager
    async def _tracked(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def _answer(
        self, question: Question, follow_up: bool, thread: list[dict] | None = None
    ) -> None:
        # The cheap checks come first: no Slack read is spent on someone who is refused.
        refusal = policy.refusal(self.settings.access, question, self.identity)
        if follow_up:
            has_bot, thread = await self._bots_thread(question, allowed=refusal is None)
            if not has_bot:
                return  # not the bot's conversation: only a mention brings it in
        refusal = refusal or await self._over_limit(question)
        if refusal:
            if await self._claim(question):
                await self.slack.post_text(question.target, refusal)
            return
        await self._respond(question, thread)

    async def _bots_thread(
        self, question: Question, *, allowed: bool
    ) -> tuple[bool, list[dict] | None]:
        """Whether the bot takes part in the question's thread, from memory or read once
        (only for someone allowed to ask); the thread when it was read."""
        channel, thread_ts = question.channel, question.thread_ts or question.ts
        known = await self.state.thread_has_bot(channel, thread_ts)
        if known is not None or not allowed:
            return bool(known), None
        key = (channel, thread_ts)
        if key not in self._learning:  # replies in quick succession: one read serves them all
            self._learning[key] = asyncio.ensure_future(self._learn_thread(channel, thread_ts))
            self._learning[key].add_done_callback(lambda _: self._learning.pop(key, None))
        has_bot, thread = await asyncio.shield(self._learning[key])
        if thread is None:
            return has_bot, None
        if not any(m.get("ts") == question.ts for m in thread):
            thread = [*thread, question.as_message()]
        return has_bot, list(thread)

    async def _learn_thread(self, channel: str, thread_ts: str) -> tuple[bool, list[dict] | None]:
        """Read a thread the bot has no memory of; remember whether the bot is in it."""
        try:
            thread = await self.slack.thread(channel, thread_ts)
        except SlackApiError as error:
            log.warning("could not read thread %s (%s)", thread_ts, error_code(error))
            return False, None
        has_bot = any(is_own(message, self.identity) for message in thread)
        await self.state.remember_thread(channel, thread_ts, has_bot)
        return has_bot, thread

    async def _claim(self, question: Question) -> bool:
        """The Slack-wide claim (👀); an interaction, sent to one copy only, needs none."""
        if not question.needs_claim:
            return True
        return await self.slack.claim(question.channel, question.ts, CLAIM_REACTION)

    async def _over_limit(self, question: Question) -> str | None:
        allowed, wait = await self.state.count_request(question.user)
        if allowed:
            return None
        return policy.rate_limited_message(wait, self.settings.access.requests_per_hour)

    async def _respond(self, question: Question, thread: list[dict] | None) -> None:
        # The claim and the status take one Slack round trip; the model's first words take
        # longer. So the model is asked at once, and nothing of its answer is shown until
        # the claim is known to be ours (a duplicate only costs a cancelled request).
        target = question.target
        await self.state.remember_thread(target.channel, target.thread_ts, True)
        claim = asyncio.ensure_future(self._claim(question))
        status = asyncio.ensure_future(self.slack.set_status(target, STATUS))
        delivery = Delivery(self.slack, target, interval=self.settings.stream_interval)
        run = _Run(question, delivery, claim)
        try:
            reading = asyncio.ensure_future(
                self._read_thread(question) if thread is None else _ready(thread)
            )
            thread, attachments, addition = await asyncio.gather(
                reading, self._read_files(question), self._addition(question, reading)
            )
            for _ in range(3):  # let the sign's requests leave before the model's is built
                await asyncio.sleep(0)
            await self._deliver(run, self._prompt(question, thread, attachments, addition))
        except SlackApiError as error:
            run.outcome = f"slack_error:{error_code(error)}"
            log.error("could not deliver the answer to %s: %s", target, error_code(error))
        finally:
            await asyncio.gather(claim, status, return_exceptions=True)
            run.log_line()

    def _prompt(
        self,
        question: Question,
        thread: list[dict],
        attachments: Attachments | None,
        addition: Addition | None = None,
    ) -> prompt.Prompt:
        settings, addition = self.settings, addition or Addition()
        system = policy.system_prompt_for(settings.access, question.channel, settings.system_prompt)
        built = prompt.build_prompt(
            f"{system}\n\n{addition.system}" if addition.system else system,
            thread,
            self.identity,
            until_ts=question.ts,
            attachments=attachments,
            budget=settings.context_tokens,
        )
        return replace(built, notes=(*built.notes, *addition.notes))

    async def _addition(self, question: Question, thread: Awaitable[list[dict]]) -> Addition:
        """The surface's hook (see :class:`Extras`): what it adds to this answer."""
        if self.extras is None:
            return Addition()
        return await self.extras.addition(question, thread)

    async def _deliver(self, run: _Run, request: prompt.Prompt) -> None:
        """Stream the model's answer into the thread once the claim is ours, and end it."""
        try:
            error = await self._pipe(run, request)
        except asyncio.CancelledError:
            run.outcome = "cancelled"
            await self._end_interrupted(run, RESTARTING)
            raise
        if not await run.ours():
            return
        if error is not None:
            run.outcome = f"error:{type(error).__name__}"
            log.warning("model call failed for %s: %r", run.question.event_id, error)
            why = failures.explain(error, self.model.model_name).people
            await self._end_interrupted(run, why)
            return
        await self._end(run, request.notes)

    async def _pipe(self, run: _Run, request: prompt.Prompt) -> Exception | None:
        """Model → delivery until the model ends; the model's failure is returned, not raised."""
        try:
            stream = self.model.stream(request.messages, run.completion)
            async with contextlib.aclosing(stream) as deltas:
                async for delta in deltas:
                    if run.first_text is None:
                        if not await run.ours():
                            return None
                        run.first_text = time.monotonic()
                    run.delivery.write(delta)
                    if run.delivery.stopped_by_user:
                        run.outcome = "stopped"
                        break
        except Exception as error:  # the model failed: the caller says so in the thread
            return error
        return None

    async def _end(self, run: _Run, notes: tuple[str, ...]) -> None:
        """End a complete answer: notes and footer, or a notice when there was no text."""
        delivery, completion = run.delivery, run.completion
        if run.first_text:
            delivery.write(prompt.ending_note(completion.finish_reason))
            usage = completion.usage if self.settings.show_usage else None
            line = prompt.usage_line(self.model.model_name, usage.total) if usage else None
            delivery.write(prompt.footer(notes, line))
        buttons = feedback_blocks(self.model.model_name) if self.settings.feedback_buttons else None
        await delivery.finish(blocks=buttons)
        if not delivery.started and not delivery.stopped_by_user:
            run.outcome = "empty"
            await self.slack.post_text(
                run.question.target, prompt.empty_answer(completion.finish_reason)
            )

    async def _end_interrupted(self, run: _Run, why: str) -> None:
        """End an answer that could not be completed: keep what was shown, add why."""
        delivery = run.delivery
        if delivery.started or delivery.has_pending:
            delivery.write(prompt.interrupted(why))
            await delivery.finish()
        else:
            await delivery.finish()
            await self.slack.post_text(delivery.target, f":warning: {why}")

    async def _read_files(self, question: Question) -> Attachments | None:
        if not question.files:
            return None
        return await read_attachments(
            list(question.files),
            self.slack.download,
            images_allowed=self.settings.model_images,
            max_chars=self.settings.max_file_chars,
        )

    async def _read_thread(self, question: Question) -> list[dict]:
        if not question.thread_ts:
            return [question.as_message()]
        try:
            thread = await self.slack.thread(question.channel, question.thread_ts)
        except SlackApiError as error:
            log.warning("could not read thread (%s); answering the message alone", error)
            return [question.as_message()]
        if not any(m.get("ts") == question.ts for m in thread):
            thread.append(question.as_message())
        return thread


async def _ready(value: list[dict]) -> list[dict]:
    return value

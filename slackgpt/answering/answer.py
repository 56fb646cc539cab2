"""One answer's flow: claim the question, check it, show the bot is working, read, stream.

The decisions are made by the pure modules (:mod:`policy`, :mod:`prompt`, :mod:`failures`);
Slack is reached only through :class:`~slackgpt.slack.api.SlackApi`; the stream itself is
:class:`~slackgpt.answering.stream.AnswerStream`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace

from slack_sdk.errors import SlackApiError

from slackgpt.answering import policy, prompt
from slackgpt.answering.hooks import Extras
from slackgpt.answering.reading import Read, Reading
from slackgpt.answering.running import Running
from slackgpt.answering.stream import STATUS, AnswerStream
from slackgpt.answering.threads import Threads
from slackgpt.answering.tool_loop import Limits
from slackgpt.answering.tool_runner import ShownWait
from slackgpt.config.profile_file import ProfileBook
from slackgpt.config.profiles import Profile
from slackgpt.config.settings import Settings
from slackgpt.files.image_reader import ImageReader
from slackgpt.files.pdf_workers import Parser
from slackgpt.metrics.base import NO_METRICS, Metrics
from slackgpt.model import failures
from slackgpt.model.client import ModelClient
from slackgpt.model.models import Models
from slackgpt.slack import thread_reads
from slackgpt.slack.api import SlackApi, error_code
from slackgpt.slack.blocks import feedback_blocks
from slackgpt.slack.delivery import Delivery
from slackgpt.slack.events import SUMMARY_METADATA, BotIdentity, Question, Target
from slackgpt.slack.people import People
from slackgpt.slack.sessions import ACTIVE, Sessions, Turn
from slackgpt.state.local import State
from slackgpt.tools.toolbox import Toolbox, Toolkit, asker_of
from slackgpt.usage.spending import Spending

log = logging.getLogger(__name__)
TOLD_FOR = 24 * 3600.0  # a person chatting in a thread hears a refusal once in this time



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
        people: People | None = None,
        parser: Parser | None = None,
        images: ImageReader | None = None,
        toolkit: Toolkit | None = None,
        profiles: ProfileBook | None = None,
        spending: Spending | None = None,
        metrics: Metrics = NO_METRICS,
        sessions: Sessions | None = None,
        models: Models | None = None,
    ):
        self.slack = slack
        self.spending = spending or Spending()  # budgets: checked before, counted after
        self.metrics = metrics
        self.model = model  # the settings' model; a profile may name another (``models``)
        self.models = models or Models(model, settings, {})
        self.settings = settings
        self.identity = identity
        self.state = state
        self.extras = extras  # the pane's hooks: additions to the prompt, session titles
        self.threads = Threads(slack, state, identity)
        self.reading = Reading(
            slack, settings, identity, self.threads, people or People(slack.user_name),
            parser or Parser(), images or ImageReader(), extras,  # images: a process budget
        )
        self.budgets: dict[str, int] = {}  # per model: CONTEXT_TOKENS, lowered when it says so
        self.toolkit = toolkit  # the tools answers may use (None: none)
        self.limits = Limits(settings.tool_rounds, settings.tool_timeout,
                             settings.tool_output_tokens)
        self.profiles = profiles or ProfileBook(settings.profiles)  # reloaded by the runtime
        self.sessions = sessions or Sessions(slack)  # Slack's agent sessions, where it has them
        self.running = Running()  # the answers in progress, for the stop button
        self._in_flight: set[asyncio.Task[object]] = set()

    async def answer(self, question: Question, *, follow_up: bool = False) -> None:
        """Reply to ``question`` in its thread; every failure ends in a message there.

        With ``follow_up`` (a thread reply without a mention) only when the bot is already
        part of that thread.
        """
        claimed = await self.state.claim(*question.claim)
        if claimed is False:
            log.info("already answering %s/%s; skipping duplicate", question.channel, question.ts)
            return
        settled = claimed is True and self.state.shared  # once across copies: 👀 is a sign
        async with self._tracked():
            try:
                await self._answer(question, follow_up, settled)
            except Exception as error:  # a bug or an outage no step expected: still tell them
                log.exception("answering %s/%s failed", question.channel, question.ts)
                with contextlib.suppress(Exception):
                    explained = failures.explain(error, self.model.model_name)
                    await self.slack.post_text(question.target, f":warning: {explained.people}")

    async def stop(
        self, channel: str, thread_ts: str, user: str, stopped: Iterable[str] = ()
    ) -> None:
        """Slack's stop button in a thread (anyone in it may click): the answers in progress
        there end now, their text kept and marked stopped. With none here (another copy's,
        whose stream Slack stopped, or one that is over) the session leaves processing."""
        if not self.running.stop(channel, thread_ts, user, frozenset(stopped)):
            log.info("%s stopped %s/%s: no answer in progress here", user, channel, thread_ts)
            await self.sessions.set(Target(channel, thread_ts), ACTIVE)

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

    async def _answer(self, question: Question, follow_up: bool, settled: bool) -> None:
        # The cheap checks come first: no Slack read is spent on someone who is refused.
        profile = self.profiles.current.for_conversation(question.channel)
        refusal = policy.refusal(self.settings.access, question, self.identity, profile)
        thread: list[dict] | None = None
        if follow_up:
            has_bot, thread = await self.threads.has_bot(question, allowed=refusal is None)
            if not has_bot:
                return  # not the bot's conversation: only a mention brings it in
        refusal = refusal or await self.spending.refusal(question.user)  # reads, no count
        refusal = refusal or await self._over_limit(question)
        if refusal:
            await self._refuse(question, refusal, settled, follow_up)
            return
        if question.summary and (thread := await self._summarized(question)) is None:
            return
        await self._respond(question, thread, profile, settled)

    async def _refuse(
        self, question: Question, refusal: str, settled: bool, follow_up: bool
    ) -> None:
        """Say why the bot won't answer, to the asker alone: through an interaction's
        ``response_url``, in their DM, or as a message only they see in the thread (no 👀:
        nothing is answered). A reply in a conversation hears it once a day, then nothing."""
        if question.response_url:
            await self.slack.respond(question.response_url, refusal)
        elif question.is_dm:
            if await self._claim(question, settled):
                await self.slack.post_text(question.target, refusal)
        elif follow_up and await self.state.claim(_told(question), ttl=TOLD_FOR) is False:
            log.info("not answering %s's reply in %s/%s (told already)", question.user,
                     question.channel, question.thread_ts)
        else:
            await self._tell_privately(question, refusal)

    async def _tell_privately(self, question: Question, text: str) -> None:
        try:
            await self.slack.post_ephemeral(question.target, text)
        except SlackApiError as error:
            log.info("could not tell %s why (%s)", question.user, error_code(error))

    async def _summarized(self, question: Question) -> list[dict] | None:
        """The thread a summary is asked of, read before anything shows; None when it cannot
        be read (the asker alone is told why)."""
        channel, thread_ts = question.channel, question.thread_ts or question.ts
        try:
            thread = await thread_reads.read(self.slack, channel, thread_ts)
        except SlackApiError as error:
            code = error_code(error)
            log.info("cannot summarize a thread in %s (%s)", channel, code)
            why = policy.cannot_read(channel, code, self.identity.name)
            await self.slack.respond(question.response_url or "", why)
            return None
        return [*thread, question.as_message()]

    async def _claim(self, question: Question, settled: bool = False) -> bool:
        """The Slack-wide claim (👀); an interaction, sent to one copy only, needs none.

        ``settled``: a shared store already made this copy the one that answers, so the 👀
        is only a sign. Without a store it is also the claim that keeps a redelivery to
        another copy from answering twice; when the 👀 cannot be added (see
        :meth:`SlackApi.claim`), this copy's own memory is all that guards, which only a
        redelivery to another copy in that minute gets past. A 👀 already there still means
        another copy has it: one that claimed while the store was unreachable, or before the
        store lost its memory.
        """
        if not question.needs_claim:
            return True
        return await self.slack.claim(question.channel, question.ts)

    async def _over_limit(self, question: Question) -> str | None:
        allowed, wait = await self.state.count_request(question.user)
        if allowed:
            return None
        return policy.rate_limited_message(wait, self.settings.access.requests_per_hour)

    async def _respond(
        self, question: Question, thread: list[dict] | None, profile: Profile,
        settled: bool = False
    ) -> None:
        # The claim and the status take one Slack round trip; the model's first words take
        # longer. So the model is asked at once, and nothing of its answer is shown until
        # the claim is known to be ours (a duplicate only costs a cancelled request). Noting
        # the thread as the bot's (a shared store's round trip) holds up neither.
        target = question.target
        joined = asyncio.ensure_future(self.threads.joined(question))  # a summary: not joined
        claim = asyncio.ensure_future(self._claim(question, settled))
        status = asyncio.ensure_future(self.slack.set_status(target, STATUS))
        delivery = Delivery(self.slack, target, interval=self.settings.stream_interval,
                            metadata=SUMMARY_METADATA if question.summary else None)
        turn = self._turn(question, delivery)  # the agent session: processing, then active
        client = self.models.for_profile(profile)  # the settings' model, or the profile's
        buttons = feedback_blocks(client.model_name) if self.settings.feedback_buttons else None
        model = self.spending.meter(client, profile.name, self.profiles.current.prices)
        stream = AnswerStream(
            question, delivery, claim, model, self.slack, self.settings.show_usage, buttons,
            metrics=self.metrics,
        )
        try:
            with self.running.add(target, stream):
                read = await self.reading.read(question, thread)
                build = self._builder(question, read, profile)
                stream.toolbox = self._toolbox(question, read, profile, turn)
                stream.limits = self.limits
                budget = self.budgets.get(client.model_name, self.settings.context_tokens)
                fits = await stream.run(build, budget)
            self.budgets[client.model_name] = min(budget, fits)  # learned for the next one
        except SlackApiError as error:
            stream.outcome = f"slack_error:{error_code(error)}"
            log.error("could not deliver the answer to %s: %s", target, error_code(error))
        except asyncio.CancelledError:  # shutting down, while reading or streaming
            await stream.cancelled()
            raise
        finally:
            await asyncio.gather(joined, claim, status, return_exceptions=True)
            if stream.duplicate():
                turn.cancel()
            else:
                await turn.end(delivery)
            stream.log_line()
            await self._settle(question, model)

    async def _settle(self, question: Question, model: ModelClient) -> None:
        """Count what the answer used; tell the asker alone when a budget reached 80 %."""
        notice = await self.spending.settle(question.user, question.channel, model)
        if notice and question.response_url:
            await self.slack.respond(question.response_url, notice)
        elif notice:
            await self._tell_privately(question, notice)

    def _turn(self, question: Question, delivery: Delivery) -> Turn:
        """The answer's part in its thread's agent session, begun; a question that starts
        its thread names a new session (the surface's title for it)."""
        title = self.extras.session_title(question) if self.extras is not None else None
        first = question.thread_ts in (None, question.ts)
        turn = self.sessions.turn(question.target, title, first=first)
        turn.begin(delivery)
        return turn

    def _toolbox(self, question: Question, read: Read, profile: Profile, turn: Turn) -> Toolbox:
        """The tools this question may use, for its asker, as its profile offers them (none
        with TOOL_ROUNDS=0); a wait for the asker's approval shows in the session."""
        if self.toolkit is None or self.limits.rounds < 1:
            return Toolbox(asker_of(question))
        texts = [question.text, read.addition.quoted,
                 *(str(m.get("text") or "") for m in read.thread)]
        offered = functools.partial(policy.offers, profile)
        box = self.toolkit.toolbox(asker_of(question), "\n".join(texts), offered)
        return replace(box, approver=ShownWait(box.approver, turn)) if box.approver else box

    def _builder(self, question: Question, read: Read, profile: Profile):
        """``budget → Prompt`` for this question."""
        system = policy.system_prompt_for(profile, self.settings.system_prompt)
        addition = read.addition
        system = f"{system}\n\n{addition.system}" if addition.system else system

        def build(budget: int) -> prompt.Prompt:
            built = prompt.build_prompt(
                system,
                read.thread,
                self.identity,
                until_ts=question.ts,
                attachments=read.attachments,
                budget=budget,
                names=read.names,
                quoted=addition.quoted,
            )
            return replace(built, notes=(*built.notes, *addition.notes))

        return build


def _told(question: Question) -> str:
    """The key that says a person was told, in a thread, why the bot won't answer them."""
    return f"refused:{question.channel}:{question.thread_ts}:{question.user}"

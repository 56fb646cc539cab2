"""The AI pane (Slack's "Agents & AI Apps" split view), the agent view (the app's Messages
tab, ``features.agent_view``) and the interactions around answers.

Opening a pane thread, or the Messages tab, offers suggested prompts (a pane thread also a
greeting); the channel the person is looking at is remembered and read for their questions;
the first question names the thread; feedback clicks are logged and confirmed; "Summarize
this thread" becomes a question for the answerer. The decisions are
:mod:`~slackgpt.pane.logic`'s; Slack is reached through :class:`~slackgpt.slack.api.SlackApi`
only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine
from typing import Any

from slack_sdk.errors import SlackApiError

from slackgpt.answering import policy
from slackgpt.answering.hooks import Addition
from slackgpt.config.settings import Settings
from slackgpt.pane import logic
from slackgpt.slack.api import SlackApi, error_code
from slackgpt.slack.events import BotIdentity, Question, Target
from slackgpt.slack.people import People, people_in
from slackgpt.slack.visibility import Visibility
from slackgpt.state.local import State

log = logging.getLogger(__name__)


class Pane:
    """The bot's side of the AI pane; also the answerer's hook (:class:`Extras`)."""

    def __init__(
        self,
        *,
        slack: SlackApi,
        state: State,
        settings: Settings,
        identity: BotIdentity,
        people: People | None = None,
        visibility: Visibility | None = None,
    ):
        self.slack = slack
        self.state = state
        self.settings = settings
        self.identity = identity
        self.people = people or People(slack.user_name)
        self.visibility = visibility or Visibility(slack)
        self._tasks: set[asyncio.Task[None]] = set()

    async def opened(self, thread: dict) -> None:
        """``assistant_thread_started``: remember the channel in view, offer prompts, greet."""
        channel, thread_ts = thread["channel_id"], thread["thread_ts"]
        steps: list[Awaitable[None]] = [self.moved(thread)]
        if self.settings.suggested_prompts:
            prompts = [p.as_dict() for p in self.settings.suggested_prompts]
            steps.append(self.slack.set_suggested_prompts(channel, thread_ts, prompts))
        if self.settings.pane_greeting:
            greeting = self.slack.post_text(Target(channel, thread_ts), self.settings.pane_greeting)
            steps.append(greeting)
        for result in await asyncio.gather(*steps, return_exceptions=True):
            if isinstance(result, SlackApiError):
                log.warning("opening a pane thread: %s", error_code(result))
            elif isinstance(result, Exception):
                log.error("opening a pane thread failed", exc_info=result)

    async def home_opened(self, event: dict) -> None:
        """``app_home_opened`` on the Messages tab (the agent view): the suggested prompts,
        for the conversation's latest message (no thread: Slack ignores one there)."""
        channel, prompts = event.get("channel"), self.settings.suggested_prompts
        if event.get("tab") != "messages" or not channel or not prompts:
            return
        try:
            await self.slack.set_suggested_prompts(channel, None, [p.as_dict() for p in prompts])
        except SlackApiError as error:  # message_not_found: a DM with nothing in it yet
            log.log(logging.DEBUG if error_code(error) == "message_not_found" else logging.INFO,
                    "no suggested prompts in %s (%s)", channel, error_code(error))

    async def viewing(self, event: dict) -> None:
        """``app_context_changed`` (the agent view): note the channel the person looks at,
        per person (the pane notes it per thread)."""
        if user := event.get("user"):
            await self.state.remember_context(*logic.viewer_key(user), logic.viewed_channel(event))
        else:
            log.debug("app_context_changed without a user: %s", event.get("context"))

    async def moved(self, thread: dict) -> None:
        """``assistant_thread_context_changed`` (and opening): note the channel in view."""
        context = logic.context_channel(thread)
        await self.state.remember_context(thread["channel_id"], thread["thread_ts"], context)

    async def addition(self, question: Question, thread: Awaitable[list[dict]]) -> Addition:
        """For a question in a DM (a pane thread, the agent view): the channel in view, and
        a title on a pane thread's first question."""
        if not question.is_dm:
            return Addition()
        reading: asyncio.Future[Addition] | None = None
        try:
            context = await self._in_view(question)
            if context and self.settings.context_channel_messages:
                reading = asyncio.ensure_future(self._channel_in_view(question, context))
            self._name(question, await thread)
            return await reading if reading is not None else Addition()
        except Exception:  # the pane's extras must never cost the answer
            log.exception("pane context for %s/%s failed", question.channel, question.ts)
            if reading is not None:
                reading.cancel()
            return Addition()

    def session_title(self, question: Question) -> str | None:
        """An agent session opened by ``question`` is named after it, as pane threads are."""
        return logic.title_for(question, self.identity.user_id) or None

    async def feedback(self, body: dict) -> None:
        """A click on an answer's feedback buttons: one log line; the voter sees it counted."""
        vote = logic.feedback_from(body)
        if vote is None:
            log.warning("a feedback click without a vote we know: %s", body.get("actions"))
            return
        fields = vote.fields()
        log.info("feedback", extra=fields)
        thanks = logic.feedback_thanks(vote.vote)
        try:
            await self.slack.post_ephemeral(vote.target, thanks)
        except SlackApiError as error:
            log.info("could not confirm the vote in the thread (%s)", error_code(error))
            if body.get("response_url"):
                await self.slack.respond(body["response_url"], thanks)

    async def close(self) -> None:
        """Cancel what is still running in the background (titles)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1)

    async def _in_view(self, question: Question) -> str | None:
        """The channel in view for a DM question: its pane thread's, else the one its asker
        looks at in the agent view."""
        if question.thread_ts:
            found = await self.state.context_of(question.channel, question.thread_ts)
            if found:
                return found
        return await self.state.context_of(*logic.viewer_key(question.user))

    async def _channel_in_view(self, question: Question, channel: str) -> Addition:
        """The channel's latest messages for the model, or why they cannot be read (the
        admin's allow-list; the asker could not read it themselves; Slack's refusal)."""
        code = logic.read_refusal(self.settings.access, channel)
        code = code or await self.visibility.refusal(question.user, channel)
        if code is None:
            try:
                history = await self.slack.history(channel, self.settings.context_channel_messages)
            except SlackApiError as error:
                code = error_code(error)
            else:
                budget = self.settings.context_tokens // logic.EXCERPT_SHARE
                names = await self.people.names(people_in(history, self.identity.user_id))
                return Addition(quoted=logic.channel_excerpt(channel, history, budget, names))
        log.info("cannot read the channel in view %s (%s)", channel, code)
        notes: tuple[str, ...] = ()
        once = f"unreadable:{question.channel}:{question.thread_ts}:{channel}"
        if await self.state.claim(once) is not False:  # said once (twice, if the store is down)
            notes = (f"_{policy.cannot_read(channel, code, self.identity.name)}_",)
        return Addition(system=logic.unreadable(channel), notes=notes)

    def _name(self, question: Question, thread: list[dict]) -> None:
        """Title a pane thread after its first question (in the background)."""
        if not logic.needs_title(thread, question.ts, self.identity):
            return
        title = logic.title_for(question, self.identity.user_id)
        if title and question.thread_ts:
            self._spawn(self.slack.set_title(question.channel, question.thread_ts, title))

    def _spawn(self, call: Coroutine[Any, Any, None]) -> None:
        async def run() -> None:
            try:
                await call
            except SlackApiError as error:
                log.warning("could not title the pane thread: %s", error_code(error))

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

"""Answering one question: show the bot is working, read the thread, stream the model's reply."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .config import Settings
from .conversation import BotIdentity, fetch_thread, to_model_messages
from .delivery import Reply, Target, post_notice
from .formatting import slack_to_text
from .model import Completion, ModelClient, explain_failure

log = logging.getLogger(__name__)

HINT = (
    "Hi! Ask me something after the mention, for example: "
    "`@{name} what does Socket Mode do?` In a DM, just write your question."
)
STATUS = "is thinking…"
CLAIM_REACTION = "eyes"
RESTARTING = "I'm restarting and couldn't finish. Please ask again in a moment."


@dataclass(frozen=True)
class Question:
    """A person's message the bot should answer."""

    channel: str
    ts: str
    user: str
    text: str
    thread_ts: str | None = None
    team: str | None = None
    event_id: str | None = None

    @property
    def target(self) -> Target:
        """Replies go to the message's thread (or start one under it)."""
        return Target(self.channel, self.thread_ts or self.ts, self.user, self.team)

    def as_message(self) -> dict:
        """The question as Slack would list it in a thread."""
        return {"type": "message", "user": self.user, "text": self.text, "ts": self.ts}


class Answerer:
    """Answers questions, each exactly once, and can wait for the answers in flight."""

    def __init__(self, model: ModelClient, settings: Settings, *, remember: int = 10_000):
        self.model = model
        self.settings = settings
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._remember = remember
        self._in_flight: set[asyncio.Task[object]] = set()

    def claim(self, question: Question) -> bool:
        """True the first time this process sees a message; False for a redelivery or a twin."""
        key = (question.channel, question.ts)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return True

    async def claim_in_slack(self, client: AsyncWebClient, question: Question) -> bool:
        """Claim the message for this copy of the bot with its own reaction.

        Slack answers ``already_reacted`` when this bot already reacted: another copy (or an
        earlier delivery) has the message. Any other failure lets the answer go ahead.
        """
        try:
            await client.reactions_add(
                channel=question.channel, timestamp=question.ts, name=CLAIM_REACTION
            )
        except SlackApiError as error:
            if error.response.get("error") == "already_reacted":
                return False
            log.warning("could not claim %s with a reaction: %s", question.ts, error)
        return True

    async def answer(self, client: AsyncWebClient, question: Question, bot: BotIdentity) -> None:
        """Reply to ``question`` in its thread; every failure ends in a message there."""
        if not self.claim(question):
            log.info("already answering %s/%s; skipping duplicate", question.channel, question.ts)
            return
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self._answer(client, question, bot)
        finally:
            if task is not None:
                self._in_flight.discard(task)

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

    async def _answer(self, client: AsyncWebClient, question: Question, bot: BotIdentity) -> None:
        target = question.target
        if not slack_to_text(question.text, bot.user_id):
            if await self.claim_in_slack(client, question):
                await post_notice(client, target, HINT.format(name=bot.name or "bot"))
            return
        started = time.monotonic()
        claimed, _, thread = await asyncio.gather(
            self.claim_in_slack(client, question),
            self._show_status(client, target),
            self._read_thread(client, question),
        )
        if not claimed:
            log.info("another copy is answering %s/%s", question.channel, question.ts)
            return
        messages = to_model_messages(
            self.settings.system_prompt, thread, bot, until_ts=question.ts
        )
        reply = Reply(client, target, interval=self.settings.stream_interval)
        completion = Completion()
        first_text: float | None = None
        outcome = "ok"
        try:
            try:
                async with contextlib.aclosing(self.model.stream(messages, completion)) as deltas:
                    async for delta in deltas:
                        first_text = first_text or time.monotonic()
                        reply.write(delta)
                        if reply.stopped_by_user:
                            outcome = "stopped"
                            break
            except asyncio.CancelledError:
                outcome = "cancelled"
                await self._say_interrupted(client, reply, RESTARTING)
                raise
            except Exception as error:  # the model failed: say so in the thread
                outcome = f"error:{type(error).__name__}"
                log.warning("model call failed for %s: %r", question.event_id, error)
                await self._say_interrupted(
                    client, reply, explain_failure(error, self.model.model)
                )
                return
            reply.write(_ending_note(completion.finish_reason, bool(first_text)))
            await reply.finish()
            if not reply.started and not reply.stopped_by_user:
                outcome = "empty"
                await post_notice(client, target, _empty_answer(completion.finish_reason))
        except SlackApiError as error:
            outcome = f"slack_error:{error.response.get('error')}"
            log.error("could not deliver the answer to %s: %s", target, error)
        finally:
            log.info(
                "answer event=%s channel=%s outcome=%s first_text=%s total=%.2fs chars=%d "
                "tokens=%s",
                question.event_id,
                question.channel,
                outcome,
                f"{first_text - started:.2f}s" if first_text else "-",
                time.monotonic() - started,
                len(reply.shown),
                completion.usage.total if completion.usage else "-",
            )

    async def _say_interrupted(self, client: AsyncWebClient, reply: Reply, why: str) -> None:
        """End a reply that could not be completed: keep what was shown, add why."""
        if reply.started or reply.has_pending:
            reply.write(f"\n\n_:warning: The answer was interrupted. {why}_")
            await reply.finish()
        else:
            await reply.finish()
            await post_notice(client, reply.target, f":warning: {why}")

    async def _show_status(self, client: AsyncWebClient, target: Target) -> None:
        try:
            await client.assistant_threads_setStatus(
                channel_id=target.channel, thread_ts=target.thread_ts, status=STATUS
            )
        except SlackApiError as error:  # cosmetic: the answer still comes
            log.debug("assistant.threads.setStatus: %s", error.response.get("error"))

    async def _read_thread(self, client: AsyncWebClient, question: Question) -> list[dict]:
        if not question.thread_ts:
            return [question.as_message()]
        try:
            thread = await fetch_thread(client, question.channel, question.thread_ts)
        except SlackApiError as error:
            log.warning("could not read thread (%s); answering the message alone", error)
            return [question.as_message()]
        if not any(m.get("ts") == question.ts for m in thread):
            thread.append(question.as_message())
        return thread


def _ending_note(finish_reason: str | None, has_text: bool) -> str:
    if not has_text:
        return ""
    if finish_reason == "length":
        return "\n\n_(The answer was cut short: it reached the token limit.)_"
    if finish_reason == "content_filter":
        return "\n\n_(The rest of the answer was withheld by the model's content filter.)_"
    return ""


def _empty_answer(finish_reason: str | None) -> str:
    if finish_reason == "length":
        return (
            ":warning: The model used up its token limit before writing an answer. "
            "An admin can raise MAX_COMPLETION_TOKENS."
        )
    if finish_reason == "content_filter":
        return ":warning: The model's content filter withheld the answer."
    return ":warning: The model returned an empty answer. Please try rephrasing."

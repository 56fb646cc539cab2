"""Answering one question: show the bot is working, read the thread, stream the model's reply."""

from __future__ import annotations

import asyncio
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
    """Answers questions, each at most once per process."""

    def __init__(self, model: ModelClient, settings: Settings, *, remember: int = 10_000):
        self.model = model
        self.settings = settings
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._remember = remember

    def claim(self, question: Question) -> bool:
        """True the first time a message is seen; redeliveries and duplicate events get False."""
        key = (question.channel, question.ts)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return True

    async def answer(self, client: AsyncWebClient, question: Question, bot: BotIdentity) -> None:
        """Reply to ``question`` in its thread; every failure ends in a message there."""
        if not self.claim(question):
            log.info("already answering %s/%s; skipping duplicate", question.channel, question.ts)
            return
        target = question.target
        if not slack_to_text(question.text, bot.user_id):
            await post_notice(client, target, HINT.format(name=bot.name or "bot"))
            return
        started = time.monotonic()
        _, thread = await asyncio.gather(
            self._show_status(client, target), self._read_thread(client, question)
        )
        messages = to_model_messages(
            self.settings.system_prompt, thread, bot, until_ts=question.ts
        )
        reply = Reply(client, target, interval=self.settings.stream_interval)
        completion = Completion()
        first_text: float | None = None
        outcome = "ok"
        try:
            try:
                async for delta in self.model.stream(messages, completion):
                    first_text = first_text or time.monotonic()
                    reply.write(delta)
                    if reply.stopped_by_user:
                        outcome = "stopped"
                        break
            except Exception as error:  # the model failed: say so in the thread
                outcome = f"error:{type(error).__name__}"
                log.warning("model call failed for %s: %r", question.event_id, error)
                explanation = explain_failure(error, self.model.model)
                if first_text is None:
                    await reply.finish()
                    await post_notice(client, target, f":warning: {explanation}")
                    return
                reply.write(f"\n\n_:warning: The answer was interrupted. {explanation}_")
            else:
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

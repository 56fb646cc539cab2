"""Answering one question: show the bot is working, read the thread, stream the model's reply."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .access import RateLimiter, check_access, rate_limited_message, system_prompt_for
from .budget import fit_to_budget
from .config import Settings
from .conversation import BotIdentity, fetch_thread, is_own, to_model_messages
from .delivery import Reply, Target, post_notice
from .files import Attachments, read_attachments
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
    files: tuple[dict, ...] = ()

    @property
    def is_dm(self) -> bool:
        """True in a direct message with the bot."""
        return self.channel.startswith("D")

    @property
    def target(self) -> Target:
        """Replies go to the message's thread (or start one under it)."""
        return Target(self.channel, self.thread_ts or self.ts, self.user, self.team)

    def as_message(self) -> dict:
        """The question as Slack would list it in a thread."""
        return {"type": "message", "user": self.user, "text": self.text, "ts": self.ts}


class Answerer:
    """Answers questions, each exactly once, and can wait for the answers in flight."""

    def __init__(
        self,
        model: ModelClient,
        settings: Settings,
        *,
        download: Callable[[str], Awaitable[bytes]] | None = None,
        remember: int = 10_000,
    ):
        self.model = model
        self.settings = settings
        self.download = download
        self.limiter = RateLimiter(settings.access.requests_per_hour)
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

    async def answer(
        self,
        client: AsyncWebClient,
        question: Question,
        bot: BotIdentity,
        *,
        follow_up: bool = False,
    ) -> None:
        """Reply to ``question`` in its thread; every failure ends in a message there.

        With ``follow_up`` (a thread reply without a mention) only when the bot is already
        part of that thread.
        """
        if not self.claim(question):
            log.info("already answering %s/%s; skipping duplicate", question.channel, question.ts)
            return
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            thread = None
            if follow_up:
                thread = await self._read_thread(client, question)
                if not any(is_own(message, bot) for message in thread):
                    return  # not the bot's conversation: only a mention brings it in
            await self._answer(client, question, bot, thread)
        except Exception as error:  # a bug or an outage no step expected: still tell them
            log.exception("answering %s/%s failed", question.channel, question.ts)
            with contextlib.suppress(Exception):
                explanation = explain_failure(error, self.model.model)
                await post_notice(client, question.target, f":warning: {explanation}")
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

    def _refusal(self, question: Question, bot: BotIdentity) -> str | None:
        """Why the bot won't ask the model: nothing asked, no access, or over the limit."""
        if not slack_to_text(question.text, bot.user_id) and not question.files:
            return HINT.format(name=bot.name or "bot")
        rules = self.settings.access
        denied = check_access(rules, question.channel, question.user, question.is_dm)
        if denied:
            return denied
        allowed, wait = self.limiter.allow(question.user)
        if not allowed:
            return rate_limited_message(wait, rules.requests_per_hour)
        return None

    async def _answer(
        self,
        client: AsyncWebClient,
        question: Question,
        bot: BotIdentity,
        thread: list[dict] | None,
    ) -> None:
        target = question.target
        refusal = self._refusal(question, bot)
        if refusal:
            if await self.claim_in_slack(client, question):
                await post_notice(client, target, refusal)
            return
        started = time.monotonic()
        # The claim and the status take one Slack round trip; the model's first words take
        # longer. So the model is asked at once, and nothing of its answer is shown until
        # the claim is known to be ours (a duplicate only costs a cancelled request).
        claim = asyncio.ensure_future(self.claim_in_slack(client, question))
        status = asyncio.ensure_future(self._show_status(client, target))
        try:
            thread, attachments = await asyncio.gather(
                self._read_thread(client, question) if thread is None else _ready(thread),
                self._read_files(question),
            )
            for _ in range(3):  # let the sign's requests leave before the model's is built
                await asyncio.sleep(0)
            messages, notes = self._prompt(question, bot, thread, attachments)
            await self._reply(client, question, messages, notes, claim, started)
        finally:
            await asyncio.gather(claim, status, return_exceptions=True)

    async def _reply(
        self,
        client: AsyncWebClient,
        question: Question,
        messages: list[dict],
        notes: list[str],
        claim: asyncio.Future[bool],
        started: float,
    ) -> None:
        """Stream the model's answer into the thread once ``claim`` is ours."""
        target = question.target
        reply = Reply(client, target, interval=self.settings.stream_interval)
        completion = Completion()
        first_text: float | None = None
        outcome = "ok"

        async def ours() -> bool:
            nonlocal outcome
            if await claim:
                return True
            outcome = "duplicate"
            log.info("another copy is answering %s/%s", question.channel, question.ts)
            return False

        try:
            try:
                async with contextlib.aclosing(self.model.stream(messages, completion)) as deltas:
                    async for delta in deltas:
                        if first_text is None and not await ours():
                            return
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
                if not await ours():
                    return
                outcome = f"error:{type(error).__name__}"
                log.warning("model call failed for %s: %r", question.event_id, error)
                await self._say_interrupted(
                    client, reply, explain_failure(error, self.model.model)
                )
                return
            if not await ours():
                return
            reply.write(_ending_note(completion.finish_reason, bool(first_text)))
            if first_text:
                reply.write(self._footer(notes, completion))
            await reply.finish()
            if not reply.started and not reply.stopped_by_user:
                outcome = "empty"
                await post_notice(client, target, _empty_answer(completion.finish_reason))
        except SlackApiError as error:
            outcome = f"slack_error:{error.response.get('error')}"
            log.error("could not deliver the answer to %s: %s", target, error)
        finally:
            total = time.monotonic() - started
            fields = {
                "event_id": question.event_id,
                "channel": question.channel,
                "outcome": outcome,
                "first_text_s": round(first_text - started, 3) if first_text else None,
                "total_s": round(total, 3),
                "chars": len(reply.shown),
                "tokens": completion.usage.total if completion.usage else None,
            }
            log.info(
                "answer %s",
                " ".join(f"{key}={value}" for key, value in fields.items()),
                extra=fields,
            )

    def _prompt(
        self,
        question: Question,
        bot: BotIdentity,
        thread: list[dict],
        attachments: Attachments | None,
    ) -> tuple[list[dict], list[str]]:
        """The model's messages within the context budget, and notes for the reader."""
        settings = self.settings
        messages, dropped = fit_to_budget(
            to_model_messages(
                system_prompt_for(settings.access, question.channel, settings.system_prompt),
                thread,
                bot,
                until_ts=question.ts,
                attachments=attachments,
            ),
            settings.context_tokens,
        )
        notes = [f"_Note: {note}_" for note in (attachments.notes if attachments else [])]
        if dropped:
            plural = "s" if dropped > 1 else ""
            notes.append(
                f"_(I left out {dropped} earlier message{plural} of this thread to stay within "
                "my context budget.)_"
            )
        return messages, notes

    def _footer(self, notes: list[str], completion: Completion) -> str:
        lines = list(notes)
        if self.settings.show_usage and completion.usage:
            lines.append(f"_{self.model.model} · {completion.usage.total:,} tokens_")
        return "".join(f"\n\n{line}" for line in lines)

    async def _read_files(self, question: Question) -> Attachments | None:
        if not question.files or self.download is None:
            return None
        return await read_attachments(
            list(question.files),
            self.download,
            images_allowed=self.settings.model_images,
            max_chars=self.settings.max_file_chars,
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


async def _ready(value: list[dict]) -> list[dict]:
    return value


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

"""The Slack edge: which events become questions, and handing them to the answerer."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from .answer import Answerer, Question
from .conversation import BotIdentity, is_own

# A message worth answering: something a person wrote, not an edit, deletion or join.
_PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


def question_from(event: dict, body: dict) -> Question:
    """The question carried by an ``app_mention`` or ``message`` event."""
    return Question(
        channel=event["channel"],
        ts=event["ts"],
        user=event.get("user") or "",
        text=event.get("text") or "",
        thread_ts=event.get("thread_ts"),
        team=event.get("team") or body.get("team_id"),
        event_id=body.get("event_id"),
        files=tuple(event.get("files") or ()),
    )


def from_person(event: dict, bot: BotIdentity) -> bool:
    """True for a new message a person wrote (not a bot, not an edit or a join)."""
    return (
        event.get("subtype") in _PERSON_SUBTYPES
        and not event.get("bot_id")
        and bool(event.get("user"))
        and not is_own(event, bot)
    )


def is_dm_question(event: dict, bot: BotIdentity) -> bool:
    """True for a person's message in a DM with the bot: always answered."""
    return event.get("channel_type") == "im" and from_person(event, bot)


def is_follow_up(event: dict, bot: BotIdentity) -> bool:
    """True for a person's thread reply, in a channel, that may continue a talk with the bot.

    A reply that mentions the bot comes as ``app_mention`` too and is answered from there; one
    that mentions only other people is addressed to them.
    """
    thread_ts = event.get("thread_ts")
    text = event.get("text") or ""
    return (
        event.get("channel_type") in ("channel", "group", "mpim")
        and bool(thread_ts)
        and thread_ts != event.get("ts")
        and from_person(event, bot)
        and f"<@{bot.user_id}" not in text
        and "<@" not in text
    )


def register(app: AsyncApp, answerer: Answerer, bot: BotIdentity) -> None:
    """Attach the bot's listeners to ``app``."""

    @app.event("app_mention")
    async def on_mention(event: dict, body: dict, client: AsyncWebClient) -> None:
        if not from_person(event, bot):
            return  # other bots' mentions are context, never triggers
        await answerer.answer(client, question_from(event, body), bot)

    @app.event("message")
    async def on_message(event: dict, body: dict, client: AsyncWebClient) -> None:
        # Every message event is acknowledged (an unhandled one would be redelivered).
        if is_dm_question(event, bot):
            await answerer.answer(client, question_from(event, body), bot)
        elif is_follow_up(event, bot):
            await answerer.answer(client, question_from(event, body), bot, follow_up=True)

"""The Slack edge: which events become questions, and handing them to the answerer."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from .answer import Answerer, Question
from .conversation import BotIdentity, is_own

log = logging.getLogger(__name__)

# A DM message worth answering: something a person wrote, not an edit, deletion or join.
_DM_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


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
    )


def is_dm_question(event: dict, bot: BotIdentity) -> bool:
    """True for a person's new message in a DM with the bot."""
    return (
        event.get("channel_type") == "im"
        and event.get("subtype") in _DM_SUBTYPES
        and not event.get("bot_id")
        and bool(event.get("user"))
        and not is_own(event, bot)
    )


def register(app: AsyncApp, answerer: Answerer, bot: BotIdentity) -> None:
    """Attach the bot's listeners to ``app``."""

    @app.event("app_mention")
    async def on_mention(event: dict, body: dict, client: AsyncWebClient) -> None:
        if event.get("bot_id") or is_own(event, bot):
            return  # other bots' mentions are context, never triggers
        await answerer.answer(client, question_from(event, body), bot)

    @app.event("message")
    async def on_message(event: dict, body: dict, client: AsyncWebClient) -> None:
        # Every message event is acknowledged (an unhandled one would be redelivered);
        # only a person's DM is answered here: channel messages come as app_mention.
        if is_dm_question(event, bot):
            await answerer.answer(client, question_from(event, body), bot)

"""The Slack edge: which events become questions, handed to the answerer."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from .answer import Answerer
from .events import from_person, is_dm_question, is_follow_up, question_from


def register(app: AsyncApp, answerer: Answerer) -> None:
    """Attach the bot's listeners to ``app``."""
    identity = answerer.identity

    @app.event("app_mention")
    async def on_mention(event: dict, body: dict) -> None:
        if from_person(event, identity):  # other bots' mentions are context, never triggers
            await answerer.answer(question_from(event, body))

    @app.event("message")
    async def on_message(event: dict, body: dict) -> None:
        # Every message event is acknowledged (an unhandled one would be redelivered).
        if is_dm_question(event, identity):
            await answerer.answer(question_from(event, body))
        elif is_follow_up(event, identity):
            await answerer.answer(question_from(event, body), follow_up=True)

"""The Slack edge: which events become questions (mentions, DMs, follow-ups, the summary
shortcut), handed to the answerer, and the stop button; the AI pane's and the agent view's
events (both families: a workspace may still be on the pane) and feedback clicks, to the
pane; the Home tab opened, to the Home tab; clicks on a tool's Approve or Deny, to the
approvals."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp

from slackgpt.answering.answer import Answerer
from slackgpt.pane.handlers import Pane
from slackgpt.pane.home import Home
from slackgpt.pane.logic import SUMMARIZE_CALLBACK, summary_question
from slackgpt.slack.blocks import APPROVAL_ACTIONS, FEEDBACK_ACTION
from slackgpt.slack.events import from_person, is_dm_question, is_follow_up, question_from
from slackgpt.tools.approvals import Approvals


def register(
    app: AsyncApp, answerer: Answerer, pane: Pane, approvals: Approvals | None = None,
    home: Home | None = None,
) -> None:
    """Attach the bot's listeners to ``app``."""
    identity = answerer.identity

    @app.event("app_mention")
    async def on_mention(event: dict, body: dict) -> None:
        if from_person(event, identity):  # other bots' mentions are context, never triggers
            await answerer.answer(question_from(event, body))

    @app.event("message")
    async def on_message(event: dict, body: dict) -> None:
        # Every message event is acknowledged (an unhandled one would be redelivered).
        # A question in an AI-pane thread is a DM question too (see Pane.addition).
        if is_dm_question(event, identity):
            await answerer.answer(question_from(event, body))
        elif is_follow_up(event, identity):
            await answerer.answer(question_from(event, body), follow_up=True)

    @app.event("assistant_thread_started")
    async def on_pane_opened(event: dict) -> None:
        await pane.opened(event["assistant_thread"])

    @app.event("assistant_thread_context_changed")
    async def on_pane_moved(event: dict) -> None:
        await pane.moved(event["assistant_thread"])

    @app.event("app_home_opened")
    async def on_home_opened(event: dict) -> None:  # the Messages tab, or the Home tab
        await (home.opened if home and event.get("tab") == "home" else pane.home_opened)(event)

    @app.event("app_context_changed")
    async def on_context_changed(event: dict) -> None:
        await pane.viewing(event)

    @app.event("agent_session_stopped")
    async def on_stopped(event: dict) -> None:
        where = (event.get("channel") or "", event.get("thread_ts") or "", event.get("user") or "")
        await answerer.stop(*where, event.get("streaming_message_ts") or ())

    @app.action(FEEDBACK_ACTION)
    async def on_feedback(ack: AsyncAck, body: dict) -> None:
        await ack()  # first: Slack shows an error after 3 s without it
        await pane.feedback(body)

    if approvals is not None:

        @app.action(APPROVAL_ACTIONS)
        async def on_approval(ack: AsyncAck, body: dict) -> None:
            await ack()
            await approvals.clicked(body)

    @app.shortcut(SUMMARIZE_CALLBACK)
    async def on_summarize(ack: AsyncAck, shortcut: dict) -> None:
        await ack()
        await answerer.answer(summary_question(shortcut))

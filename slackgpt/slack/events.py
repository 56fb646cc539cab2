"""What Slack's events and messages mean: who wrote them, which are questions, where replies go.

Pure: no clients, no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# Message subtypes that carry something said: a person's message (with files, broadcast from
# a thread, /me) or another bot's. Joins, topic changes, edits and deletions are not.
SPOKEN_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "bot_message", "me_message"})
CLAIM_TTL = 24 * 3600.0  # Slack redelivers an event for minutes, not days
SUMMARY_AGAIN = 10.0  # seconds in which the same person's same summary is a double click
SUMMARY_EVENT = "slackgpt_summary"  # the metadata of the bot's summaries: reading, not joining
SUMMARY_METADATA = json.dumps({"event_type": SUMMARY_EVENT, "event_payload": {}})


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in this workspace (from ``auth.test``)."""

    user_id: str
    bot_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Target:
    """Where a reply goes: a thread, and the person it answers (needed to stream in channels)."""

    channel: str
    thread_ts: str
    user: str | None = None
    team: str | None = None


def is_dm(channel: str) -> bool:
    """True for a direct-message conversation (IDs of DMs start with ``D``)."""
    return channel.startswith("D")


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
    summary: bool = False  # "Summarize this thread": an interaction; the thread is read
    response_url: str | None = None  # an interaction's: what only the asker sees goes there
    action_token: str | None = None  # Slack's, on a message to the bot: searches as the asker

    @property
    def needs_claim(self) -> bool:
        """False for an interaction: Slack sends it once, to one copy, so no 👀 is needed."""
        return not self.summary

    @property
    def claim(self) -> tuple[str, float]:
        """The key that makes one copy answer this question, and for how many seconds.

        A message is answered once; a summary once per person, thread and double click.
        """
        if self.summary:
            return f"summary:{self.channel}:{self.thread_ts}:{self.user}", SUMMARY_AGAIN
        return f"{self.channel}:{self.ts}", CLAIM_TTL

    @property
    def is_dm(self) -> bool:
        """True in a direct message with the bot."""
        return is_dm(self.channel)

    @property
    def target(self) -> Target:
        """Replies go to the message's thread (or start one under it)."""
        return Target(self.channel, self.thread_ts or self.ts, self.user, self.team)

    def as_message(self) -> dict:
        """The question as Slack would list it in a thread."""
        return {"type": "message", "user": self.user, "text": self.text, "ts": self.ts}


def is_own(message: dict, identity: BotIdentity) -> bool:
    """True for a message the bot itself posted."""
    return message.get("user") == identity.user_id or (
        identity.bot_id is not None and message.get("bot_id") == identity.bot_id
    )


def is_answer(message: dict, identity: BotIdentity) -> bool:
    """True for the bot's own message that joined the conversation: any but a summary (the
    thread is read with its metadata to tell)."""
    kind = (message.get("metadata") or {}).get("event_type")
    return is_own(message, identity) and kind != SUMMARY_EVENT


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
        action_token=_action_token(event),
    )


def _action_token(event: dict) -> str | None:
    """The event's ``action_token`` (top level of ``app_mention`` and ``message`` events; an
    AI-pane message also carries one in ``assistant_thread``)."""
    pane = event.get("assistant_thread")
    token = event.get("action_token") or (pane if isinstance(pane, dict) else {}).get(
        "action_token")
    return token if isinstance(token, str) and token else None


def from_person(event: dict, identity: BotIdentity) -> bool:
    """True for a new message a person wrote (not a bot, not an edit or a join)."""
    return (
        event.get("subtype") in SPOKEN_SUBTYPES
        and not event.get("bot_id")
        and bool(event.get("user"))
        and not is_own(event, identity)
    )


def is_dm_question(event: dict, identity: BotIdentity) -> bool:
    """True for a person's message in a DM with the bot: always answered."""
    return event.get("channel_type") == "im" and from_person(event, identity)


def is_follow_up(event: dict, identity: BotIdentity) -> bool:
    """True for a person's thread reply, in a channel, that may continue a talk with the bot.

    A reply that mentions the bot comes as ``app_mention`` too and is answered from there; one
    that mentions other people is addressed to them.
    """
    thread_ts = event.get("thread_ts")
    return (
        event.get("channel_type") in ("channel", "group", "mpim")
        and bool(thread_ts)
        and thread_ts != event.get("ts")
        and from_person(event, identity)
        and "<@" not in (event.get("text") or "")
    )

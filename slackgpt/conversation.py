"""The conversation: turning Slack messages into the model's chat messages."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from .files import Attachments, user_content
from .formatting import slack_to_text

# Message subtypes that carry something a person said; anything else (joins, topic
# changes, edits and deletions as events) is not part of the conversation.
SPOKEN_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "bot_message", "me_message"})


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in this workspace (from ``auth.test``)."""

    user_id: str
    bot_id: str | None = None
    name: str | None = None


def is_own(message: dict, bot: BotIdentity) -> bool:
    """True for a message the bot itself posted."""
    return message.get("user") == bot.user_id or (
        bot.bot_id is not None and message.get("bot_id") == bot.bot_id
    )


def speaker(message: dict) -> str:
    """How a message's author is named to the model: a Slack mention, or a bot's name."""
    if message.get("user") and not message.get("bot_id"):
        return f"<@{message['user']}>"
    profile = message.get("bot_profile") or {}
    name = profile.get("name") or message.get("username") or message.get("bot_id") or "a bot"
    return f"{name} (bot)"


def to_model_messages(
    system_prompt: str,
    thread: list[dict],
    bot: BotIdentity,
    *,
    until_ts: str | None = None,
    attachments: Attachments | None = None,
) -> list[dict[str, object]]:
    """The chat messages for a Slack thread, oldest first, ending at ``until_ts`` (inclusive).

    The bot's own messages become ``assistant`` turns; everyone else's become ``user`` turns
    prefixed with who wrote them. Mentions of the bot are removed; empty messages are skipped.
    ``attachments`` (the files of the message at ``until_ts``) join that message.
    """
    messages: list[dict[str, object]] = [{"role": "system", "content": system_prompt}]
    for message in sorted(thread, key=lambda m: float(m.get("ts", 0))):
        if until_ts is not None and float(message.get("ts", 0)) > float(until_ts):
            break
        if message.get("subtype") not in SPOKEN_SUBTYPES:
            continue
        own = is_own(message, bot)
        text = slack_to_text(message.get("text") or "", None if own else bot.user_id)
        with_files = attachments is not None and message.get("ts") == until_ts and not own
        if with_files:
            text = text or "(see the attached files)"
        if not text:
            continue
        if own:
            messages.append({"role": "assistant", "content": text})
            continue
        content: object = f"{speaker(message)}: {text}"
        if with_files and attachments is not None:
            content = user_content(str(content), attachments)
        messages.append({"role": "user", "content": content})
    return messages


async def fetch_thread(client: AsyncWebClient, channel: str, thread_ts: str) -> list[dict]:
    """All messages of a thread, root first, following every page of ``conversations.replies``."""
    messages: list[dict] = []
    cursor: str | None = None
    while True:
        response = await client.conversations_replies(
            channel=channel, ts=thread_ts, limit=200, cursor=cursor
        )
        messages.extend(response.get("messages") or [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor or not response.get("has_more", True):
            return messages

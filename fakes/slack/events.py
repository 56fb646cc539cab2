"""What people do, delivered as Events API envelopes: mentions, DMs, the assistant pane.

Shapes follow Slack's docs (docs.slack.dev/reference/events/...) and what slack_bolt 1.30
parses.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from fakes.slack.records import AssistantThread, Json
from fakes.slack.socket_mode import SocketMode
from fakes.slack.state import Workspace


def user_event(ws: Workspace, kind: str, msg: Json) -> Json:
    """A person's message as an event of type ``kind`` (``message``, ``app_mention``), with
    the ``action_token`` Slack puts on events addressed to an AI app (top level of the event:
    slack-go/slack#1580), good for searching as that person."""
    event = {"type": kind, "user": msg["user"], "text": msg["text"], "ts": msg["ts"]}
    event |= {"channel": msg["channel"], "event_ts": msg["ts"], "team": ws.team_id}
    event["client_msg_id"] = str(uuid.uuid4())
    event["action_token"] = action_token(ws, msg["user"])
    return event | {k: msg[k] for k in ("thread_ts", "files") if k in msg}


def action_token(ws: Workspace, user: str) -> str:
    """A new action token that searches as ``user``."""
    token = token_like()
    ws.action_tokens[token] = user
    return token


def token_like() -> str:
    """A trigger_id / action_token shaped like Slack's."""
    return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


async def send(socket: SocketMode, event: Json) -> str:
    """Deliver ``event`` as a first attempt; return the envelope_id."""
    return await socket.send_event(event, event_id=None, retry_attempt=0, retry_reason="")


async def start_assistant_thread(
    ws: Workspace, socket: SocketMode, user: str, context_channel: str | None
) -> AssistantThread:
    """A person opens the app's assistant pane (while viewing ``context_channel``).

    As Slack does, this posts the thread's root message (subtype ``assistant_app_thread``,
    by the person) in their DM with the app, then sends ``assistant_thread_started``.
    """
    channel = ws.im_of(user)
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    title = f"Chats from {now.replace('+00:00', 'Z')}"
    root = ws.add_message(channel, title, user=user, subtype="assistant_app_thread")
    thread = AssistantThread(channel, root["ts"], user, _context_of(ws, context_channel))
    ws.assistant_threads.append(thread)
    await send(socket, thread.event("assistant_thread_started", ws.new_ts()))
    return thread


async def change_assistant_context(
    ws: Workspace, socket: SocketMode, thread: AssistantThread, context_channel: str | None
) -> str:
    """The person moves to another channel with the pane open; return the envelope_id."""
    thread.context = _context_of(ws, context_channel)
    return await send(socket, thread.event("assistant_thread_context_changed", ws.new_ts()))


async def assistant_message(
    ws: Workspace,
    socket: SocketMode,
    thread: AssistantThread,
    text: str,
    files: list[Json] | None,
) -> Json:
    """The person writes in an assistant thread: a ``message`` event (``channel_type: im``).

    Like Slack's, the event carries ``thread_ts``, ``parent_user_id`` and an
    ``assistant_thread`` holding only an ``action_token`` (no context).
    """
    msg = ws.add_message(
        thread.channel, text, user=thread.user, thread_ts=thread.thread_ts, files=files
    )
    event = user_event(ws, "message", msg) | {"channel_type": "im"}
    token = event["action_token"]  # the same token inside assistant_thread too
    event |= {"parent_user_id": thread.user, "assistant_thread": {"action_token": token}}
    await send(socket, event)
    return msg


def _context_of(ws: Workspace, channel: str | None) -> Json:
    return {} if channel is None else {"channel_id": channel, "team_id": ws.team_id}

"""``assistant.threads.setStatus`` / ``setSuggestedPrompts`` / ``setTitle``."""

from __future__ import annotations

import json
import time
from typing import Any

from fakes.slack.errors import SlackError
from fakes.slack.records import Json, Status, SuggestedPrompts
from fakes.slack.registry import Registry
from fakes.slack.state import Workspace

API = Registry()

MAX_PROMPTS = 4  # assistant.threads.setSuggestedPrompts: "up to four suggested prompts"


@API.method("assistant.threads.setStatus")
def set_status(ws: Workspace, params: Json) -> Json:
    """Record the "is thinking…" line of a thread (see ``Workspace.current_status``)."""
    channel, thread_ts = params.get("channel_id"), params.get("thread_ts")
    status, loading = params.get("status"), params.get("loading_messages")
    if not channel or not thread_ts:
        raise SlackError("channel_not_found" if not channel else "invalid_thread_ts")
    if status is None or (loading and len(loading) > 10):
        raise SlackError("invalid_arguments")
    ws.statuses.append(Status(channel, thread_ts, status, loading, time.monotonic()))
    return {}


@API.method("assistant.threads.setSuggestedPrompts")
def set_suggested_prompts(ws: Workspace, params: Json) -> Json:
    """Record up to four ``{title, message}`` prompts (and a ``title``) for a thread.

    Without ``thread_ts`` (the agent experience: "prompts will be set for the latest message
    in the channel") only an app declared as an agent may: else ``not_agent_app``.
    """
    if not params.get("thread_ts") and not ws.agent:
        raise SlackError("not_agent_app")
    channel, thread_ts = _assistant_thread(ws, params, ts_required=False)
    prompts, title = _prompts_of(params.get("prompts")), params.get("title")
    if title is not None and not isinstance(title, str):
        raise SlackError("invalid_arguments")
    ws.suggested_prompts[(channel, thread_ts)] = SuggestedPrompts(title, prompts, time.monotonic())
    return {}


@API.method("assistant.threads.setTitle")
def set_title(ws: Workspace, params: Json) -> Json:
    """Record a thread's title; an assistant thread's root message shows it."""
    channel, thread_ts = _assistant_thread(ws, params, ts_required=True)
    title = params.get("title")
    if not isinstance(title, str) or not title.strip():
        raise SlackError("invalid_arguments")
    ws.titles[(channel, thread_ts)] = title
    root = ws.messages[(channel, thread_ts)]
    if root.subtype == "assistant_app_thread":
        root.text = title
    return {}


def _assistant_thread(ws: Workspace, params: Json, *, ts_required: bool) -> tuple[str, str]:
    """(channel_id, thread_ts) of an ``assistant.threads.*`` call, or Slack's error.

    Without ``thread_ts`` (allowed by setSuggestedPrompts) the latest message counts.
    """
    channel = ws.channel(str(params.get("channel_id") or ""))
    if channel is None or (channel.private and not channel.member):
        raise SlackError("channel_not_found")
    thread_ts = str(params.get("thread_ts") or "")
    if not thread_ts:
        if ts_required:
            raise SlackError("invalid_thread_ts")
        latest = ws.top_level(channel.id)
        if not latest:
            raise SlackError("message_not_found")
        return channel.id, latest[0].ts
    root = ws.messages.get((channel.id, thread_ts))
    if root is None or root.thread_ts not in (None, root.ts):
        raise SlackError("invalid_thread_ts")
    return channel.id, thread_ts


def _prompts_of(value: Any) -> list[Json]:
    """The ``prompts`` argument: 1-4 ``{title, message}`` objects (JSON text in a form)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise SlackError("invalid_arguments") from e
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_PROMPTS:
        raise SlackError("invalid_arguments")
    for prompt in value:
        if not isinstance(prompt, dict) or not all(
            isinstance(prompt.get(k), str) and prompt[k].strip() for k in ("title", "message")
        ):
            raise SlackError("invalid_arguments")
    return value

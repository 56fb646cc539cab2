"""``agents.sessions.setStatus`` / ``agents.sessions.rename``: a thread's agent session.

Per their method pages (docs.slack.dev/reference/methods/agents.sessions.setStatus, .rename):
Tier 3, ``chat:write``; "Only apps declared as agents in the app settings can create
sessions" — an app that is not (``Workspace.agent`` False) is refused with
``Workspace.agent_refusal`` (``feature_disabled``, the pages' "agent tasks feature is not
enabled"; or ``not_agent_app``, which setSuggestedPrompts' page names). Only thread-based
sessions are modelled (no session channels). While the app is not subscribed to
``agent_session_stopped`` a call succeeds with the warning
``missing_agent_session_stopped_event_subscription`` (the event's page: the person then sees a
loading indicator without a stop button), as Slack sends warnings: a top-level ``warning`` and
``response_metadata.warnings``.
"""

from __future__ import annotations

import time

from fakes.slack.errors import SlackError, invalid_arguments
from fakes.slack.records import AgentSession, Json
from fakes.slack.registry import Registry
from fakes.slack.state import Workspace

API = Registry()

STOP_EVENT = "agent_session_stopped"
NO_STOP_EVENT = "missing_agent_session_stopped_event_subscription"
TITLE_MAX = 200  # both pages: "max 200 characters" / "1-200 characters"
CUSTOMIZE = ("icon_emoji", "icon_url", "username")  # "Requires the chat:write.customize scope"


@API.method("agents.sessions.setStatus")
def set_status(ws: Workspace, params: Json) -> Json:
    """Set a thread's session status, creating the session (with ``title``) if needed."""
    key = _session_of(ws, params)
    _check_customize(ws, params)
    title = params.get("title")
    if title is not None and len(str(title)) > TITLE_MAX:
        raise invalid_arguments(f"[ERROR] must have at most {TITLE_MAX} characters "
                                "[json-pointer:/title]")
    session = ws.sessions.get(key)
    if session is None:  # title and initiator: "Only used when creating a new session"
        session = AgentSession(*key, str(params["status"]), str(title) if title else None)
        ws.sessions[key] = session
    session.set(str(params["status"]), time.monotonic())
    out: Json = {"status": session.status, "agent_status": session.status}
    out |= {"title": session.title} if session.title else {}
    if STOP_EVENT not in ws.events:
        out |= {"warning": NO_STOP_EVENT, "response_metadata": {"warnings": [NO_STOP_EVENT]}}
    return out


@API.method("agents.sessions.rename")
def rename(ws: Workspace, params: Json) -> Json:
    """Rename a thread's existing session."""
    key = _session_of(ws, params)
    title = params.get("title")
    if not isinstance(title, str) or not 1 <= len(title.strip()) <= TITLE_MAX:
        raise invalid_arguments(f"[ERROR] must have 1 to {TITLE_MAX} characters "
                                "[json-pointer:/title]")
    session = ws.sessions.get(key)
    if session is None:
        raise SlackError("session_not_found")
    session.title = title
    return {"title": title}


def _session_of(ws: Workspace, params: Json) -> tuple[str, str]:
    """(channel_id, thread_ts) of a session call, or Slack's refusal."""
    if not ws.agent:
        raise SlackError(ws.agent_refusal)
    channel = ws.channel(str(params.get("channel_id") or ""))
    if channel is None or (channel.private and not channel.member):
        raise SlackError("channel_not_found")
    if not channel.member:
        raise SlackError("not_authorized")  # "The caller is not a member of the channel"
    thread_ts = str(params.get("thread_ts") or "")
    if not thread_ts:
        raise SlackError("thread_ts_required")  # no session channels here: always a thread
    return channel.id, thread_ts


def _check_customize(ws: Workspace, params: Json) -> None:
    if any(params.get(k) is not None for k in CUSTOMIZE):
        needed = "chat:write.customize"
        if needed not in ws.scopes.split(","):
            raise SlackError("missing_scope", needed=needed, provided=ws.scopes)

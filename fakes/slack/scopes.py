"""The bot token's scopes: by default what the repository's manifest.json asks for (the fake is
an install from our manifest); what each call needs, per Slack's method pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakes.slack.errors import SlackError
from fakes.slack.records import Json
from fakes.slack.reference import MethodSpec

if TYPE_CHECKING:
    from fakes.slack.state import Workspace

def needed_scope(page: MethodSpec, ws: Workspace, params: Json) -> str | None:
    """The bot scope a call needs, per its method page (None: none).

    A page listing one scope per kind of conversation (``channels:history``,
    ``groups:history``…) needs the one of the conversation the call names.
    """
    scopes = page.bot_scopes
    if len(scopes) < 2:
        return scopes[0] if scopes else None
    channel = ws.channel(str(params.get("channel") or params.get("channel_id") or ""))
    wanted = channel.scope(scopes[0].partition(":")[2]) if channel else None
    return wanted if wanted in scopes else None  # no such channel: the method says so


def check_scope(page: MethodSpec, ws: Workspace, params: Json) -> None:
    """Slack's ``missing_scope`` (with ``needed`` and ``provided``) unless the token has it."""
    needed = needed_scope(page, ws, params)
    if needed and needed not in ws.scopes.split(","):
        raise SlackError("missing_scope", needed=needed, provided=ws.scopes)

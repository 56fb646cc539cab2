"""``reactions.add`` / ``reactions.remove`` on messages (this bot's reactions only)."""

from __future__ import annotations

from fakes.slack.errors import SlackError
from fakes.slack.records import Json
from fakes.slack.registry import Registry
from fakes.slack.state import Workspace

API = Registry()


def _react(ws: Workspace, params: Json, *, add: bool) -> Json:
    if not params.get("name"):
        raise SlackError("invalid_name")
    msg = ws.find(params, ts_key="timestamp")
    names = ws.reactions.setdefault((msg.channel, msg.ts), set())
    if (params["name"] in names) == add:
        raise SlackError("already_reacted" if add else "no_reaction")
    (names.add if add else names.discard)(params["name"])
    return {}


@API.method("reactions.add")
def reactions_add(ws: Workspace, params: Json) -> Json:
    """Add the bot's reaction; ``already_reacted`` if it is there."""
    return _react(ws, params, add=True)


@API.method("reactions.remove")
def reactions_remove(ws: Workspace, params: Json) -> Json:
    """Remove the bot's reaction; ``no_reaction`` if it is not there."""
    return _react(ws, params, add=False)

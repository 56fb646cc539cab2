"""``auth.test`` and ``apps.connections.open`` (which hands out Socket Mode tickets)."""

from __future__ import annotations

import uuid

from fakes.slack.records import Json
from fakes.slack.registry import Registry
from fakes.slack.state import Workspace

API = Registry()


@API.method("auth.test")
def auth_test(ws: Workspace, params: Json) -> Json:
    """Who the token is: the bot of this workspace."""
    return {
        "url": "https://fake-workspace.slack.com/",
        "team": "Fake Workspace",
        "user": "slackgpt",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


@API.method("apps.connections.open")
def connections_open(ws: Workspace, params: Json) -> Json:
    """A single-use ``ws://`` URL for the fake's Socket Mode endpoint."""
    ticket = str(uuid.uuid4())
    ws.tickets.add(ticket)
    ws.connections_opened += 1
    return {"url": f"ws://127.0.0.1:{ws.port}/link/?ticket={ticket}"}

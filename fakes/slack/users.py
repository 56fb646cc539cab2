"""``users.info``: every ``U…``/``W…`` id is a person with a made-up profile."""

from __future__ import annotations

from fakes.slack.errors import SlackError
from fakes.slack.records import Json
from fakes.slack.registry import Registry
from fakes.slack.state import Workspace

API = Registry()


@API.method("users.info")
def users_info(ws: Workspace, params: Json) -> Json:
    """A user object (the bot's own id answers as the bot)."""
    user = str(params.get("user") or "")
    if user[:1] not in ("U", "W"):
        raise SlackError("user_not_found")
    name = "slackgpt" if user == ws.bot_user_id else f"user-{user.lower()}"
    profile = {"display_name": name, "real_name": f"User {user}", "team": ws.team_id}
    user_obj = {"id": user, "team_id": ws.team_id, "name": name, "deleted": False}
    user_obj |= {"real_name": profile["real_name"], "is_bot": user == ws.bot_user_id}
    return {"user": user_obj | {"tz": "Europe/London", "profile": profile}}

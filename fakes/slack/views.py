"""``views.publish``: a person's Home tab, as its method page says.

The ``view`` is a publishable view (JSON text, or an object in a JSON body) of type ``home``,
checked with Slack's own SDK model (``slack_sdk.models.views.View``: 1-100 blocks, no
``submit``/``close`` on a home view, ``private_metadata`` ≤ 3,000, ``callback_id`` ≤ 255) and
each block as Block Kit (:func:`~fakes.slack.blocks.check_blocks`, a view's 100 blocks); what
Slack refuses in it is ``invalid_arguments`` with one ``[ERROR]`` line, as the page's error
example shows (``invalid `user_id```). The page's own errors: ``not_enabled`` (the manifest's
Home tab is off), ``view_too_large`` (over 250 kB), ``hash_conflict`` (a ``hash`` that is not
the view's current one), ``duplicate_external_id``, ``not_implemented`` (a ``profile`` view).
The rate tier (Tier 4) is the page's, kept by :mod:`~fakes.slack.limits`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.views import View

from fakes.slack.blocks import VIEW_BLOCKS, check_blocks
from fakes.slack.errors import SlackError, invalid_arguments
from fakes.slack.records import Json
from fakes.slack.registry import Registry
from fakes.slack.state import Workspace

API = Registry()

VIEW_BYTES = 250_000  # "greater than 250kb": view_too_large
USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
# What an app may send in a view; the rest (id, hash, state…) is Slack's to fill in.
SENT_KEYS = frozenset({"type", "blocks", "private_metadata", "callback_id", "external_id",
                       "title", "submit", "close", "clear_on_close", "notify_on_close"})


@API.method("views.publish")
def views_publish(ws: Workspace, params: Json) -> Json:
    """Publish ``view`` as ``user_id``'s Home tab; the view as Slack keeps it."""
    user = str(params.get("user_id") or "")
    if not USER_ID.match(user):
        raise invalid_arguments("invalid `user_id`")
    view = _view_of(params.get("view"))
    if view.get("type") == "profile":
        raise SlackError("not_implemented")
    if view.get("type") != "home":
        raise invalid_arguments("[ERROR] must be a home view [json-pointer:/view/type]")
    if not ws.home_tab:
        raise SlackError("not_enabled")
    if len(json.dumps(view, ensure_ascii=False).encode()) > VIEW_BYTES:
        raise SlackError("view_too_large")
    check_view(view)
    held = ws.home_views.get(user)
    if params.get("hash") is not None and (held is None or params["hash"] != held["hash"]):
        raise SlackError("hash_conflict")
    external = view.get("external_id")
    if external and any(v.get("external_id") == external and u != user
                        for u, v in ws.home_views.items()):
        raise SlackError("duplicate_external_id")
    ws.home_views[user] = published = _published(ws, user, view, held)
    return {"view": published}


def _view_of(value: Any) -> Json:
    """The ``view`` argument as an object (JSON text in a form)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise invalid_arguments("[ERROR] invalid JSON [json-pointer:/view]") from None
    if not isinstance(value, dict):
        raise invalid_arguments("[ERROR] expected object [json-pointer:/view]")
    return value


def check_view(view: Json) -> None:
    """``invalid_arguments`` for a view Slack's model or Block Kit refuses."""
    if unknown := sorted(set(view) - SENT_KEYS):
        raise invalid_arguments(f"[ERROR] unknown field {unknown[0]} [json-pointer:/view]")
    if not isinstance(view.get("blocks"), list):
        raise invalid_arguments("[ERROR] missing required field: blocks [json-pointer:/view]")
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError) as e:
        raise invalid_arguments(f"[ERROR] {e} [json-pointer:/view]") from None
    try:
        check_blocks(view["blocks"], most=VIEW_BLOCKS)
    except SlackError as e:
        raise invalid_arguments(f"[ERROR] {e} [json-pointer:/view/blocks]") from None


def _published(ws: Workspace, user: str, view: Json, held: Json | None) -> Json:
    """The view as Slack answers and keeps it: ids, a new hash, each block with a block_id."""
    view_id = held["id"] if held else f"V{len(ws.home_views) + 1:08d}"
    blocks = [{"block_id": f"{view_id}.{i}", **block} for i, block in enumerate(view["blocks"])]
    filled = {"private_metadata": "", "callback_id": "", "external_id": "", "title": None,
              "close": None, "submit": None, "clear_on_close": False, "notify_on_close": False}
    return filled | view | {
        "id": view_id, "team_id": ws.team_id, "blocks": blocks, "state": {"values": {}},
        "hash": ws.new_ts(), "root_view_id": view_id,
        "previous_view_id": None, "app_id": ws.app_id, "bot_id": ws.bot_id,
    }


def text_of(view: Json | None) -> str:
    """Every text a person reads in ``view`` (headers, sections and their fields, context
    elements), a line each, in order; "" for no view."""
    found: list[str] = []

    def walk(part: Any) -> None:
        if isinstance(part, dict):
            if part.get("type") in ("plain_text", "mrkdwn") and isinstance(part.get("text"), str):
                found.append(part["text"])
                return
            for key in ("text", "fields", "elements"):
                walk(part.get(key))
        elif isinstance(part, list):
            for item in part:
                walk(item)

    walk((view or {}).get("blocks"))
    return "\n".join(found)

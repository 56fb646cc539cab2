"""Interactions: a feedback click and a button click (``block_actions``) and a message
shortcut (``message_action``) as ``interactive`` envelopes, and the ``response_url`` they
carry.

Payload fields as Slack sends them and Bolt 1.30 reads them (docs.slack.dev/reference/
interaction-payloads). A POST to a response_url is recorded in ``Workspace.responses`` and may
replace or delete the interaction's message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from fakes.slack.blocks import button_element, feedback_element
from fakes.slack.events import token_like
from fakes.slack.records import Json, ResponsePost, truthy
from fakes.slack.socket_mode import SocketMode
from fakes.slack.state import Message, Workspace


async def click_feedback(
    ws: Workspace, socket: SocketMode, channel: str, ts: str, *, positive: bool, user: str
) -> str:
    """A person clicks 👍 (or 👎) under a message: ``block_actions``; return envelope_id.

    LookupError if the message carries no feedback buttons to click.
    """
    msg = ws.stored(channel, ts)
    return await socket.interact(_block_actions(ws, msg, user, _feedback_action(msg, positive)))


async def click_button(
    ws: Workspace,
    socket: SocketMode,
    channel: str,
    ts: str,
    action_id: str,
    *,
    user: str,
    seen: list[Json] | None = None,
) -> str:
    """A person clicks the button ``action_id`` of a message's actions block:
    ``block_actions``; return envelope_id. ``seen``: the blocks the person's client still
    shows (a click from a view that has not caught up with an update); by default the
    message's own. LookupError if there is no such button to click.
    """
    msg = ws.stored(channel, ts)
    shown = msg.blocks if seen is None else seen
    found = button_element(shown, action_id)
    if found is None:
        raise LookupError(f"message {ts} in {channel} shows no button {action_id!r}")
    index, button = found
    block_id = shown[index].get("block_id") or _short_hash(msg.ts, index)
    action = {"type": "button", "block_id": block_id, "action_id": action_id}
    action |= {"text": {**button["text"], "emoji": True}, "action_ts": _now_ts()}
    action |= {k: button[k] for k in ("value", "style") if k in button}
    return await socket.interact(_block_actions(ws, msg, user, action))


def _block_actions(ws: Workspace, msg: Message, user: str, action: Json) -> Json:
    """A ``block_actions`` payload for one action on ``msg`` by ``user``."""
    container = {"type": "message", "message_ts": msg.ts, "channel_id": msg.channel}
    container |= {"is_ephemeral": False}
    if msg.thread_ts:
        container["thread_ts"] = msg.thread_ts
    payload = {"type": "block_actions", **_who(ws, user), "api_app_id": ws.app_id}
    payload |= {"token": "fake-verification-token", "container": container}
    payload |= _where(ws, msg, with_ids=True) | {"trigger_id": token_like()}
    return payload | {"state": {"values": {}}, "actions": [action]}


async def message_shortcut(
    ws: Workspace, socket: SocketMode, callback_id: str, channel: str, ts: str, *, user: str
) -> str:
    """A person runs the app's message shortcut on a message: ``message_action``."""
    msg = ws.stored(channel, ts)
    payload = {"type": "message_action", "token": "fake-verification-token"}
    payload |= {"action_ts": _now_ts(), **_who(ws, user), "callback_id": callback_id}
    payload |= {"trigger_id": token_like(), "message_ts": ts} | _where(ws, msg, with_ids=False)
    return await socket.interact(payload)


def _feedback_action(msg: Message, positive: bool) -> Json:
    """The ``actions[0]`` of a feedback click (fields as Bolt's FeedbackButtonsAction)."""
    found = feedback_element(msg.blocks)
    if found is None or msg.blocks is None:
        raise LookupError(f"message {msg.ts} in {msg.channel} has no feedback_buttons")
    index, element = found
    button = element["positive_button" if positive else "negative_button"]
    block_id = msg.blocks[index].get("block_id") or _short_hash(msg.ts, index)
    action_id = element.get("action_id") or _short_hash(msg.ts, index, "action")
    action = {"type": "feedback_buttons", "block_id": block_id, "action_id": action_id}
    return action | {"text": button["text"], "value": button["value"]} | {"action_ts": _now_ts()}


def _who(ws: Workspace, user: str) -> Json:
    """``user``, ``team`` and enterprise fields of an interaction payload."""
    name = f"user-{user.lower()}"  # as users.info names people
    who = {"id": user, "username": name, "name": name, "team_id": ws.team_id}
    team = {"id": ws.team_id, "domain": "fake-workspace"}
    return {"user": who, "team": team, "enterprise": None, "is_enterprise_install": False}


def _where(ws: Workspace, msg: Message, *, with_ids: bool) -> Json:
    """``channel``, ``message`` and a fresh ``response_url`` for an interaction on msg."""
    channel = ws.channel(msg.channel)
    name = "directmessage" if msg.channel.startswith("D") else channel.name if channel else ""
    message = msg.api(ws.team_id)
    if with_ids and msg.blocks:  # Slack names every block; a clicked one needs its id
        message["blocks"] = [
            {**b, "block_id": b.get("block_id") or _short_hash(msg.ts, i)}
            for i, b in enumerate(msg.blocks)
        ]
    secret = secrets.token_hex(12)
    ws.hooks[secret] = (msg.channel, msg.ts)
    hook = f"{ws.team_id}/{len(ws.hooks)}{secrets.randbelow(10**8):08d}/{secret}"
    url = f"http://127.0.0.1:{ws.port}/actions/{hook}"
    return {"channel": {"id": msg.channel, "name": name}, "message": message} | {
        "response_url": url
    }


def _short_hash(*parts: object) -> str:
    """A stable Slack-looking id (block_id, action_id) for something Slack would name."""
    digest = hashlib.sha1("/".join(map(str, parts)).encode()).digest()
    return base64.b64encode(digest).decode()[:5]


def _now_ts() -> str:
    return f"{time.time():.6f}"


# -- response_url ----------------------------------------------------------------------------


def response_url_handler(ws: Workspace) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The route ``POST /actions/{team}/{hook}/{secret}`` of every response_url handed out."""

    async def respond(request: web.Request) -> web.Response:
        target = ws.hooks.get(request.match_info["secret"])
        if target is None:
            return web.Response(status=404, text="no_active_hooks")
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        ws.responses.append(ResponsePost(*target, body, time.monotonic()))
        _apply_response(ws, target, body)
        return web.json_response({"ok": True})

    return respond


def _apply_response(ws: Workspace, target: tuple[str, str], body: Json) -> None:
    """What a response_url post does to the interaction's message (ephemeral: nothing)."""
    msg = ws.messages.get(target)
    if msg is None:
        return
    if truthy(body.get("delete_original")):
        del ws.messages[target]
    elif truthy(body.get("replace_original")):
        msg.text, msg.blocks = str(body.get("text") or ""), body.get("blocks")
        msg.markdown = None

"""``conversations.replies`` / ``history`` / ``info``, with membership, privacy and scopes.

A declared channel the bot is not in refuses reads (``not_in_channel``; a private one is
invisible: ``channel_not_found``); pages follow Slack's cursors.
"""

from __future__ import annotations

import base64

from fakes.slack.errors import SlackError
from fakes.slack.records import Json, truthy
from fakes.slack.registry import Registry
from fakes.slack.state import Message, Workspace, ts_key

API = Registry()

HISTORY_LIMIT, HISTORY_MAX = 100, 999  # conversations.history: default and largest page


@API.method("conversations.replies")
def replies(ws: Workspace, params: Json) -> Json:
    """A thread, root first (a reply's ts lists only that reply), in cursor pages."""
    ws.member_of(params.get("channel"))  # a declared channel the bot is not in
    root = ws.find(params, missing="thread_not_found")
    is_reply = root.thread_ts not in (None, root.ts)
    thread = [root] if is_reply else ws.thread_messages(root.channel, root.ts)
    with_metadata = truthy(params.get("include_all_metadata"))
    messages = [m.api(ws.team_id, metadata=with_metadata) for m in thread]
    if len(thread) > 1:
        users = sorted({m.user for m in thread[1:] if m.user})
        messages[0] |= {"thread_ts": root.ts, "reply_count": len(thread) - 1}
        messages[0] |= {"latest_reply": thread[-1].ts, "reply_users": users}
        messages[0] |= {"reply_users_count": len(users)}
        for m in messages[1:]:
            m["parent_user_id"] = root.user
    # "Pagination by time": the messages between oldest and latest, earliest first.
    within = _within(params)
    messages = [m for m in messages if within(m["ts"])]
    start = 0
    if params.get("cursor"):
        try:
            after = base64.b64decode(params["cursor"]).decode().removeprefix("next_ts:")
            start = [m["ts"] for m in messages].index(after)
        except ValueError as e:
            raise SlackError("invalid_cursor") from e
    size = max(1, min(int(params.get("limit") or 1000), 1000, ws.page_size))
    page, rest = messages[start : start + size], messages[start + size :]
    cursor = base64.b64encode(f"next_ts:{rest[0]['ts']}".encode()).decode() if rest else ""
    return {
        "messages": page,
        "has_more": bool(rest),
        "response_metadata": {"next_cursor": cursor},
    }


@API.method("conversations.history")
def history(ws: Workspace, params: Json) -> Json:
    """Top-level messages newest first; ``oldest``/``latest``/``inclusive``, cursor pages."""
    channel = ws.readable(params.get("channel"), "history")
    in_range = _within(params)
    found = [m for m in ws.top_level(channel.id) if in_range(m.ts)]
    start = 0
    if params.get("cursor"):
        try:
            after = base64.b64decode(params["cursor"]).decode().removeprefix("next_ts:")
            start = [m.ts.replace(".", "") for m in found].index(after)
        except ValueError as e:
            raise SlackError("invalid_cursor") from e
    size = _limit(params, ws.page_size)
    page, rest = found[start : start + size], found[start + size :]
    cursor = f"next_ts:{rest[0].ts.replace('.', '')}" if rest else ""
    out = {"messages": [_with_replies(ws, m) for m in page], "has_more": bool(rest)}
    out |= {"pin_count": 0, "response_metadata": {"next_cursor": _b64(cursor)}}
    return out | ({"latest": params["latest"]} if params.get("latest") else {})


@API.method("conversations.members")
def members(ws: Workspace, params: Json) -> Json:
    """Who is in a conversation the bot may look at, in cursor pages (``limit`` ≤ 1000)."""
    channel = ws.readable(params.get("channel"), "read")
    everyone = channel.members(ws.bot_user_id)
    start = 0
    if params.get("cursor"):
        try:
            start = int(base64.b64decode(params["cursor"]).decode().removeprefix("offset:"))
        except ValueError as e:
            raise SlackError("invalid_cursor") from e
    size = max(1, min(int(params.get("limit") or 100), 1000))
    page, more = everyone[start : start + size], start + size < len(everyone)
    cursor = _b64(f"offset:{start + size}") if more else ""
    return {"members": page, "response_metadata": {"next_cursor": cursor}}


@API.method("conversations.info")
def info(ws: Workspace, params: Json) -> Json:
    """A channel's object; a public channel the bot is not in shows ``is_member: false``."""
    return {"channel": ws.readable(params.get("channel"), "read").info()}


def _with_replies(ws: Workspace, root: Message) -> Json:
    """A message as history lists it: a thread root also says how its thread stands."""
    out = root.api(ws.team_id)
    replies = [
        m
        for (ch, ts), m in ws.messages.items()
        if ch == root.channel and m.thread_ts == root.ts and ts != root.ts
    ]
    if replies and root.thread_ts in (None, root.ts):
        latest = max(replies, key=lambda m: ts_key(m.ts))
        users = sorted({m.user for m in replies if m.user})
        out |= {"thread_ts": root.ts, "reply_count": len(replies), "latest_reply": latest.ts}
        out |= {"reply_users": users, "reply_users_count": len(users)}
    return out


def _within(params: Json):
    """Whether a ts is between ``oldest`` and ``latest`` (``inclusive``: either end too)."""
    oldest, latest = _ts_arg(params, "oldest"), _ts_arg(params, "latest")
    inclusive = truthy(params.get("inclusive"))

    def in_range(ts: str) -> bool:
        key = ts_key(ts)
        above = oldest is None or key > oldest or (inclusive and key == oldest)
        return above and (latest is None or key < latest or (inclusive and key == latest))

    return in_range


def _ts_arg(params: Json, name: str) -> tuple[int, int] | None:
    """``oldest`` / ``latest`` of a conversations.* read (None if absent)."""
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return ts_key(str(value))
    except ValueError as e:
        raise SlackError(f"invalid_ts_{name}") from e


def _limit(params: Json, page_size: int) -> int:
    try:
        limit = int(params.get("limit") or HISTORY_LIMIT)
    except ValueError as e:
        raise SlackError("invalid_limit") from e
    return max(1, min(limit, HISTORY_MAX, page_size))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode() if text else ""

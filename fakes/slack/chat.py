"""``chat.*``: posting, updating, ephemeral messages and streaming (start/append/stop)."""

from __future__ import annotations

import json
import time

from fakes.slack.blocks import MARKDOWN_LIMIT, check_blocks, check_chunks
from fakes.slack.errors import SlackError, invalid_arguments
from fakes.slack.records import SESSION_STATUSES, Ephemeral, Json
from fakes.slack.registry import Registry
from fakes.slack.state import Message, Workspace

API = Registry()

METADATA_LIMIT = 8_000  # a guess: Slack says only "exceeds size limit"
TEXT_LIMIT = 40_000  # chat.postMessage truncates longer text (chat.update: see arguments.py)


@API.method("chat.postMessage")
def post_message(ws: Workspace, params: Json) -> Json:
    """A bot message (text over 40,000 characters is cut, as Slack does)."""
    channel, blocks = params.get("channel"), params.get("blocks")
    markdown = _markdown(params, too_long="msg_blocks_too_long")  # the error its page lists
    text = str(params.get("text") or "")
    if not channel:
        raise SlackError("channel_not_found")
    if not text and not blocks and not params.get("attachments") and markdown is None:
        raise SlackError("no_text")
    check_blocks(blocks)
    thread_ts, metadata = params.get("thread_ts"), message_metadata(params)
    msg = ws.post(channel, text[:TEXT_LIMIT], thread_ts, blocks=blocks, markdown=markdown)
    msg.metadata = metadata
    return {"channel": channel, "ts": msg.ts, "message": msg.api(ws.team_id)}


@API.method("chat.update")
def update(ws: Workspace, params: Json) -> Json:
    """Replace a bot message's text and blocks (blocks left out stay)."""
    msg, text, blocks = ws.expire(ws.find(params)), params.get("text"), params.get("blocks")
    markdown = _markdown(params)
    if msg.bot_id != ws.bot_id:
        raise SlackError("cant_update_message")
    if msg.streaming:
        raise SlackError("streaming_state_conflict")
    if not text and blocks is None and markdown is None:
        raise SlackError("no_text")
    check_blocks(blocks)
    metadata = message_metadata(params)
    if "metadata" in params:  # left out: kept; an empty object: removed
        msg.metadata = metadata
    msg.text = msg.text if text is None else text
    msg.blocks = msg.blocks if blocks is None else blocks or None  # omitted blocks stay
    msg.markdown = markdown
    return {"channel": msg.channel, "ts": msg.ts, "message": msg.api(ws.team_id)}


@API.method("chat.postEphemeral")
def post_ephemeral(ws: Workspace, params: Json) -> Json:
    """A message only ``user`` sees (in ``thread_ts`` when given); recorded in ephemerals."""
    channel, user = str(params.get("channel") or ""), str(params.get("user") or "")
    if ws.channel(channel) is None:
        raise SlackError("channel_not_found")
    ws.member_of(channel)
    if user[:1] not in ("U", "W"):
        raise SlackError("user_not_found")
    text, blocks = str(params.get("text") or _markdown(params) or ""), params.get("blocks")
    if not text and not blocks:
        raise SlackError("no_text")
    check_blocks(blocks)
    thread_ts = str(params.get("thread_ts") or "") or None
    ws.ephemerals.append(Ephemeral(channel, user, text, thread_ts, blocks, time.monotonic()))
    return {"message_ts": ws.new_ts()}


# -- streaming -------------------------------------------------------------------------------


@API.method("chat.startStream")
def start_stream(ws: Workspace, params: Json) -> Json:
    """Open a streaming reply in a thread (in channels: for one recipient)."""
    channel, thread_ts = params.get("channel"), params.get("thread_ts")
    if not channel or not thread_ts:
        raise SlackError("channel_not_found" if not channel else "invalid_arguments")
    for key in ("recipient_user_id", "recipient_team_id"):
        if channel[0] in "CG" and not params.get(key):  # required in channels, not in DMs
            raise SlackError(f"missing_{key}")
    text = _grow(ws, params, "")
    msg = ws.post(channel, "", thread_ts, markdown=text, streaming=True)
    msg.task_display_mode = str(params.get("task_display_mode") or "timeline")
    _note(msg, params)
    return {"channel": channel, "ts": msg.ts}


@API.method("chat.appendStream")
def append_stream(ws: Workspace, params: Json) -> Json:
    """Add text to an open stream."""
    msg = _open_stream(ws, params)
    if not params.get("markdown_text") and not params.get("chunks"):
        raise SlackError("no_text")
    msg.markdown = _grow(ws, params, msg.markdown or "")
    _note(msg, params)
    return {"channel": msg.channel, "ts": msg.ts}


@API.method("chat.stopStream")
def stop_stream(ws: Workspace, params: Json) -> Json:
    """End a stream with its last text and blocks (a refused call changes nothing); the
    thread's agent session, if any, moves to ``session_status`` (default ``active``)."""
    msg = _open_stream(ws, params)
    status = _session_status(params)
    check_blocks(params.get("blocks"))
    metadata = message_metadata(params)
    msg.markdown = _grow(ws, params, msg.markdown or "")
    _note(msg, params)
    msg.metadata = metadata or msg.metadata
    msg.blocks, msg.streaming = params.get("blocks") or msg.blocks, False
    session = ws.sessions.get((msg.channel, msg.thread_ts or msg.ts))
    if session is not None and ws.agent:
        session.set(status, time.monotonic())
    return {"channel": msg.channel, "ts": msg.ts, "message": msg.api(ws.team_id)}


def message_metadata(params: Json) -> Json | None:
    """The ``metadata`` argument: a JSON string of ``{"event_type", "event_payload"}`` (an
    empty object removes it), else Slack's refusal."""
    raw = params.get("metadata")
    if raw in (None, ""):
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as e:
        raise SlackError("invalid_metadata_format") from e
    if value == {}:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("event_type"), str):
        raise SlackError("invalid_metadata_schema")
    if not isinstance(value.get("event_payload", {}), dict):
        raise SlackError("invalid_metadata_schema")
    if len(json.dumps(value)) > METADATA_LIMIT:
        raise SlackError("metadata_too_large")
    return value


def _session_status(params: Json) -> str:
    """chat.stopStream's ``session_status``: "The session status to set after stopping the
    stream", default ``active``, one of active, processing, suspended, closed
    (https://docs.slack.dev/reference/methods/chat.stopStream/). The vendored page predates
    the argument, so it is taken here explicitly, not through the page's schema."""
    status = params.get("session_status")
    if status is None:
        return "active"
    if status not in SESSION_STATUSES:
        raise invalid_arguments(f"[ERROR] must be one of {list(SESSION_STATUSES)} "
                                "[json-pointer:/session_status]")
    return str(status)


def _open_stream(ws: Workspace, params: Json) -> Message:
    msg = ws.expire(ws.find(params))
    if msg.bot_id != ws.bot_id:
        raise SlackError("message_not_owned_by_app")
    if msg.stopped_by_user or not msg.streaming:
        raise SlackError(
            "stopped_by_user" if msg.stopped_by_user else "message_not_in_streaming_state"
        )
    return msg


def _grow(ws: Workspace, params: Json, before: str) -> str:
    added = markdown_of(params)
    if len(added) > MARKDOWN_LIMIT or len(before) + len(added) > ws.stream_max_chars:
        raise SlackError("msg_too_long")
    return before + added


def _note(msg: Message, params: Json) -> None:
    """What an accepted stream call showed, in order (``Message.chunks``)."""
    text = params.get("markdown_text")
    msg.chunks += [{"type": "markdown_text", "text": text}] if text else []
    msg.chunks += params.get("chunks") or []


def markdown_of(params: Json) -> str:
    """``markdown_text`` plus the text of any ``markdown_text`` chunks."""
    chunks = check_chunks(params.get("chunks") or [])
    texts = [c["text"] for c in chunks if c["type"] == "markdown_text"]
    return str(params.get("markdown_text") or "") + "".join(texts)


def _markdown(params: Json, too_long: str = "msg_too_long") -> str | None:
    """A message's ``markdown_text`` (None when absent); Slack takes 12,000 characters."""
    markdown = params.get("markdown_text")
    if markdown in (None, ""):
        return None
    if len(str(markdown)) > MARKDOWN_LIMIT:
        raise SlackError(too_long)
    return str(markdown)

"""PaneMixin: Slack's AI-app surface for FakeSlack (assistant pane, feedback, shortcuts).

Web API: ``assistant.threads.setSuggestedPrompts`` / ``setTitle``, ``conversations.history``
/ ``info`` (with channel membership and privacy, which ``conversations.replies`` honours
too), ``chat.postEphemeral`` and the ``context_actions`` block with its ``feedback_buttons``.
Socket Mode: ``assistant_thread_started`` / ``_context_changed``, a person's message in an
assistant thread, and ``interactive`` envelopes (``block_actions`` from a feedback click,
``message_action`` from a message shortcut) with their acks and ``response_url`` posts.

FakeSlack inherits this class; its methods are found by FakeSlack's ``_api_<method>`` lookup.
Shapes follow Slack's docs (docs.slack.dev/reference/...) and what slack_bolt 1.30 parses.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web

from fakes.slack_errors import SlackError

Json = dict[str, Any]

MAX_PROMPTS = 4  # assistant.threads.setSuggestedPrompts: "up to four suggested prompts"
HISTORY_LIMIT, HISTORY_MAX = 100, 999  # conversations.history: default and largest page
ACK_DEADLINE = 3.0  # seconds Slack waits for an interaction's ack before showing an error
CONTEXT_ACTIONS_MAX = 5  # elements in a context_actions block
BUTTON_TEXT_MAX = 75  # feedback button text and accessibility_label
VALUE_MAX = 2_000  # a button's value
ID_MAX = 255  # block_id, action_id

_CONTEXT_ACTIONS_KEYS = {"type", "elements", "block_id"}
_FEEDBACK_KEYS = {"type", "action_id", "positive_button", "negative_button"}
_BUTTON_KEYS = {"text", "value", "accessibility_label"}
_ICON_KEYS = {"type", "action_id", "icon", "text", "accessibility_label", "value"}
_ICON_KEYS |= {"visible_to_user_ids", "confirm"}


def _error(code: str) -> Exception:
    """A Web API error FakeSlack answers as ``{"ok": false, "error": code}``."""
    return SlackError(code)


# -- context_actions / feedback_buttons blocks ---------------------------------------------


def context_actions_error(blocks: list[Json]) -> str | None:
    """``invalid_blocks`` if a ``context_actions`` block or a feedback button is malformed.

    Per docs.slack.dev/reference/block-kit/blocks/context-actions-block and
    .../block-elements/feedback-buttons-element: 1-5 elements, each ``feedback_buttons``
    (both buttons, plain_text ≤ 75, value ≤ 2,000) or ``icon_button``; feedback buttons
    only inside a context_actions block; no unknown keys; action_ids unique in a block.
    """
    for block in blocks:
        elements = block.get("elements")
        if block["type"] == "context_actions":
            if not _context_actions_ok(block):
                return "invalid_blocks"
        elif isinstance(elements, list) and any(
            isinstance(e, dict) and e.get("type") == "feedback_buttons" for e in elements
        ):
            return "invalid_blocks"
    return None


def _context_actions_ok(block: Json) -> bool:
    elements = block.get("elements")
    if set(block) - _CONTEXT_ACTIONS_KEYS or not _short_id(block.get("block_id")):
        return False
    if not isinstance(elements, list) or not 1 <= len(elements) <= CONTEXT_ACTIONS_MAX:
        return False
    if not all(_element_ok(e) for e in elements):
        return False
    ids = [e["action_id"] for e in elements if "action_id" in e]
    return len(ids) == len(set(ids))


def _element_ok(element: Any) -> bool:
    """A context_actions element: feedback buttons or an icon button, well formed."""
    if not isinstance(element, dict):
        return False
    if element.get("type") == "feedback_buttons":
        return _feedback_ok(element)
    return element.get("type") == "icon_button" and _icon_ok(element)


def _feedback_ok(element: Json) -> bool:
    return (
        not set(element) - _FEEDBACK_KEYS
        and _short_id(element.get("action_id"))
        and _button_ok(element.get("positive_button"))
        and _button_ok(element.get("negative_button"))
    )


def _button_ok(button: Any) -> bool:
    return (
        isinstance(button, dict)
        and not set(button) - _BUTTON_KEYS
        and _plain_text_ok(button.get("text"))
        and _text_ok(button.get("value"), VALUE_MAX)
        and (button.get("accessibility_label") is None or _label_ok(button))
    )


def _icon_ok(element: Json) -> bool:
    return (
        not set(element) - _ICON_KEYS
        and _short_id(element.get("action_id"))
        and _text_ok(element.get("icon"), ID_MAX)
        and _plain_text_ok(element.get("text"))
        and (element.get("value") is None or _text_ok(element.get("value"), VALUE_MAX))
        and (element.get("accessibility_label") is None or _label_ok(element))
    )


def _plain_text_ok(text: Any) -> bool:
    return (
        isinstance(text, dict)
        and text.get("type") == "plain_text"
        and _text_ok(text.get("text"), BUTTON_TEXT_MAX)
    )


def _label_ok(item: Json) -> bool:
    return _text_ok(item.get("accessibility_label"), BUTTON_TEXT_MAX)


def _text_ok(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _short_id(value: Any) -> bool:
    """An optional block_id / action_id: absent, or a string of 1-255 characters."""
    return value is None or _text_ok(value, ID_MAX)


def _feedback_element(blocks: list[Json] | None) -> tuple[int, Json] | None:
    """The index of the first context_actions block with feedback buttons, and the element."""
    for i, block in enumerate(blocks or []):
        if block.get("type") != "context_actions":
            continue
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("type") == "feedback_buttons":
                return i, element
    return None


# -- public records ------------------------------------------------------------------------


@dataclass
class Channel:
    """A conversation as the bot sees it: membership and privacy decide what it may read."""

    id: str
    name: str
    private: bool = False
    member: bool = True
    user: str | None = None  # the person of a DM (``D…``)

    @property
    def is_im(self) -> bool:
        return self.id.startswith("D")

    def scope(self, kind: str) -> str:
        """The bot scope ``conversations.<kind>`` needs here (kind: history or read)."""
        return f"{'im' if self.is_im else 'groups' if self.private else 'channels'}:{kind}"

    def info(self) -> Json:
        """The channel object of ``conversations.info``."""
        if self.is_im:
            return {"id": self.id, "created": 1700000000, "is_im": True, "is_org_shared": False}
        flags = {"is_channel": not self.private, "is_group": False, "is_im": False}
        flags |= {"is_mpim": False, "is_private": self.private, "is_member": self.member}
        flags |= {"is_archived": False, "is_general": False, "is_shared": False}
        topic = {"value": "", "creator": "", "last_set": 0}
        return {"id": self.id, "name": self.name, "name_normalized": self.name, **flags} | {
            "created": 1700000000,
            "creator": "U0",
            "topic": topic,
            "purpose": dict(topic),
        }


class SuggestedPrompts(NamedTuple):
    """The prompts last set on an assistant thread."""

    title: str | None
    prompts: list[Json]
    at: float


class Ephemeral(NamedTuple):
    """One ``chat.postEphemeral``: a message only ``user`` sees, never stored in the channel."""

    channel: str
    user: str
    text: str
    thread_ts: str | None
    blocks: list[Json] | None
    at: float


class ResponsePost(NamedTuple):
    """One POST to a ``response_url``: the interaction's message and the body sent."""

    channel: str
    ts: str
    body: Json
    at: float


@dataclass
class AssistantThread:
    """A thread a person opened in the app's assistant pane (their DM with the app)."""

    channel: str
    thread_ts: str
    user: str
    context: Json = field(default_factory=dict)

    def event(self, kind: str, event_ts: str) -> Json:
        """An ``assistant_thread_started`` / ``assistant_thread_context_changed`` event."""
        thread = {"user_id": self.user, "context": dict(self.context)}
        thread |= {"channel_id": self.channel, "thread_ts": self.thread_ts}
        return {"type": kind, "assistant_thread": thread, "event_ts": event_ts}


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int((micros + "000000")[:6])


def _ts_arg(params: Json, name: str) -> tuple[int, int] | None:
    """``oldest`` / ``latest`` of conversations.history (None if absent)."""
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return _ts_key(str(value))
    except ValueError as e:
        raise _error(f"invalid_ts_{name}") from e


def _limit(params: Json, page_size: int) -> int:
    try:
        limit = int(params.get("limit") or HISTORY_LIMIT)
    except ValueError as e:
        raise _error("invalid_limit") from e
    return max(1, min(limit, HISTORY_MAX, page_size))


def _prompts_of(value: Any) -> list[Json]:
    """The ``prompts`` argument: 1-4 ``{title, message}`` objects (JSON text in a form)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise _error("invalid_arguments") from e
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_PROMPTS:
        raise _error("invalid_arguments")
    for prompt in value:
        if not isinstance(prompt, dict) or not all(
            isinstance(prompt.get(k), str) and prompt[k].strip() for k in ("title", "message")
        ):
            raise _error("invalid_arguments")
    return value


def _short_hash(*parts: object) -> str:
    """A stable Slack-looking id (block_id, action_id) for something Slack would name."""
    digest = hashlib.sha1("/".join(map(str, parts)).encode()).digest()
    return base64.b64encode(digest).decode()[:5]


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


class PaneMixin:
    """Slack's AI-app surface; FakeSlack inherits it and supplies the attributes below."""

    if TYPE_CHECKING:
        team_id: str
        app_id: str
        scopes: str
        port: int
        page_size: int
        acks: dict[str, float]
        _messages: dict[tuple[str, str], Any]
        _sockets: dict[Any, Any]

        def add_message(self, channel: str, text: str, **kw: Any) -> Json: ...
        async def send_event(self, event: Json, **kw: Any) -> str: ...
        async def send_envelope(self, kind: str, payload: Json, **extra: Any) -> str: ...
        async def wait_for(
            self, predicate: Callable[[], bool], timeout: float = 5.0, message: str = ""
        ) -> None: ...
        def _new_ts(self) -> str: ...
        def _user_event(self, kind: str, msg: Json) -> Json: ...

    # -- state, created on first use (FakeSlack.__init__ stays as it is) ----------------------

    @cached_property
    def channels(self) -> dict[str, Channel]:
        """Declared conversations; any other C…/G…/D… id is one the bot is a member of."""
        return {}

    @cached_property
    def suggested_prompts(self) -> dict[tuple[str, str], SuggestedPrompts]:
        """(channel, thread_ts) → the prompts last set on that assistant thread."""
        return {}

    @cached_property
    def titles(self) -> dict[tuple[str, str], str]:
        """(channel, thread_ts) → the title last set on that assistant thread."""
        return {}

    @cached_property
    def assistant_threads(self) -> list[AssistantThread]:
        """Every assistant thread opened with ``start_assistant_thread``."""
        return []

    @cached_property
    def ack_payloads(self) -> dict[str, Json | None]:
        """envelope_id → the ``payload`` the app's ack carried (None for a bare ack)."""
        return {}

    @cached_property
    def sent_at(self) -> dict[str, float]:
        """envelope_id → when an interaction was put on the socket (monotonic clock)."""
        return {}

    @cached_property
    def responses(self) -> list[ResponsePost]:
        """Every POST to a ``response_url`` this fake handed out, in order."""
        return []

    @cached_property
    def ephemerals(self) -> list[Ephemeral]:
        """Every ``chat.postEphemeral`` message, in order (only its ``user`` sees it)."""
        return []

    @cached_property
    def _hooks(self) -> dict[str, tuple[str, str]]:
        return {}  # response_url secret → (channel, ts) of the interaction's message

    # -- test helpers ---------------------------------------------------------------------

    def add_channel(
        self,
        channel: str,
        *,
        name: str | None = None,
        member: bool = True,
        private: bool = False,
        user: str | None = None,
    ) -> Channel:
        """Declare a conversation, e.g. ``add_channel("C2", member=False, private=True)``."""
        if user is None and channel.startswith("D"):
            user = "U" + channel[1:]
        found = Channel(channel, name or channel.lower(), private, member, user)
        self.channels[channel] = found
        return found

    def grant(self, *scopes: str) -> None:
        """Give the bot token more scopes (e.g. ``assistant:write``, ``channels:read``)."""
        have = self.scopes.split(",")
        self.scopes = ",".join(have + [s for s in scopes if s not in have])

    def revoke(self, *scopes: str) -> None:
        """Take scopes away from the bot token (e.g. an install from an older manifest)."""
        self.scopes = ",".join(s for s in self.scopes.split(",") if s not in scopes)

    def im_of(self, user: str) -> str:
        """The id of ``user``'s DM with the bot (declared, else ``D`` + the user id's tail)."""
        declared = [c.id for c in self.channels.values() if c.is_im and c.user == user]
        return declared[0] if declared else "D" + user[1:]

    def feedback_buttons(self, channel: str, ts: str) -> Json | None:
        """The ``feedback_buttons`` element a message carries, if any."""
        msg = self._messages.get((channel, ts))
        found = _feedback_element(msg.blocks if msg else None)
        return found[1] if found else None

    async def acked(self, envelope_id: str, within: float = ACK_DEADLINE) -> Json | None:
        """Wait for the app's ack of an envelope; return the payload it carried.

        AssertionError unless the ack came within ``within`` seconds of the envelope being
        sent (for an interaction; for an event, of this call).
        """
        sent = self.sent_at.get(envelope_id, time.monotonic())
        remaining = max(0.0, sent + within - time.monotonic())
        what = f"an ack of {envelope_id} within {within}s"
        await self.wait_for(lambda: envelope_id in self.acks, remaining, what)
        if (delay := self.acks[envelope_id] - sent) > within:
            raise AssertionError(f"{envelope_id} was acked after {delay:.2f}s, over {within}s")
        return self.ack_payloads.get(envelope_id)

    # -- channels ----------------------------------------------------------------------------

    def _channel(self, channel: str) -> Channel | None:
        if channel in self.channels:
            return self.channels[channel]
        if len(channel) < 2 or channel[0] not in "CGD":
            return None
        user = "U" + channel[1:] if channel.startswith("D") else None
        return Channel(channel, channel.lower(), private=channel.startswith("G"), user=user)

    def _need(self, scope: str) -> None:
        if scope not in self.scopes.split(","):
            raise _error("missing_scope")

    def _readable(self, channel_id: Any, kind: str) -> Channel:
        """The channel ``conversations.<kind>`` may look at, or Slack's refusal."""
        channel = self._channel(str(channel_id or ""))
        if channel is None:
            raise _error("channel_not_found")
        self._need(channel.scope(kind))
        if not channel.member and channel.private:
            raise _error("channel_not_found")  # a private channel it is not in: invisible
        if not channel.member and kind == "history":
            raise _error("not_in_channel")
        return channel

    def _member_of(self, channel_id: Any) -> None:
        """Slack's refusal when the bot is not in a declared channel (reads and ephemerals)."""
        channel = self.channels.get(str(channel_id or ""))
        if channel is not None and not channel.member:
            raise _error("channel_not_found" if channel.private else "not_in_channel")

    def _top_level(self, channel: str) -> list[Any]:
        """A channel's messages outside threads (roots, broadcasts), newest first."""
        found = [
            m
            for (ch, _), m in self._messages.items()
            if ch == channel and (m.thread_ts in (None, m.ts) or m.subtype == "thread_broadcast")
        ]
        return sorted(found, key=lambda m: _ts_key(m.ts), reverse=True)

    def _with_replies(self, root: Any) -> Json:
        """A message as history lists it: a thread root also says how its thread stands."""
        out = root.api(self.team_id)
        replies = [
            m
            for (ch, ts), m in self._messages.items()
            if ch == root.channel and m.thread_ts == root.ts and ts != root.ts
        ]
        if replies and root.thread_ts in (None, root.ts):
            latest = max(replies, key=lambda m: _ts_key(m.ts))
            users = sorted({m.user for m in replies if m.user})
            out |= {"thread_ts": root.ts, "reply_count": len(replies), "latest_reply": latest.ts}
            out |= {"reply_users": users, "reply_users_count": len(users)}
        return out

    # -- Web API -----------------------------------------------------------------------------

    def _api_conversations_history(self, params: Json) -> Json:
        """Top-level messages newest first; ``oldest``/``latest``/``inclusive``, cursor pages."""
        channel = self._readable(params.get("channel"), "history")
        oldest, latest = _ts_arg(params, "oldest"), _ts_arg(params, "latest")
        inclusive = _truthy(params.get("inclusive"))

        def in_range(ts: str) -> bool:
            key = _ts_key(ts)
            above = oldest is None or key > oldest or (inclusive and key == oldest)
            return above and (latest is None or key < latest or (inclusive and key == latest))

        found = [m for m in self._top_level(channel.id) if in_range(m.ts)]
        start = 0
        if params.get("cursor"):
            try:
                after = base64.b64decode(params["cursor"]).decode().removeprefix("next_ts:")
                start = [m.ts.replace(".", "") for m in found].index(after)
            except ValueError as e:
                raise _error("invalid_cursor") from e
        size = _limit(params, self.page_size)
        page, rest = found[start : start + size], found[start + size :]
        cursor = f"next_ts:{rest[0].ts.replace('.', '')}" if rest else ""
        out = {"messages": [self._with_replies(m) for m in page], "has_more": bool(rest)}
        out |= {"pin_count": 0, "response_metadata": {"next_cursor": _b64(cursor)}}
        return out | ({"latest": params["latest"]} if params.get("latest") else {})

    def _api_conversations_info(self, params: Json) -> Json:
        """A channel's object; a public channel the bot is not in shows ``is_member: false``."""
        return {"channel": self._readable(params.get("channel"), "read").info()}

    def _api_chat_postEphemeral(self, params: Json) -> Json:
        """A message only ``user`` sees (in ``thread_ts`` when given); recorded in ephemerals."""
        channel, user = str(params.get("channel") or ""), str(params.get("user") or "")
        if self._channel(channel) is None:
            raise _error("channel_not_found")
        self._member_of(channel)
        if user[:1] not in ("U", "W"):
            raise _error("user_not_found")
        text, blocks = str(params.get("text") or ""), params.get("blocks")
        if not text and not blocks:
            raise _error("no_text")
        thread_ts = str(params.get("thread_ts") or "") or None
        self.ephemerals.append(Ephemeral(channel, user, text, thread_ts, blocks, time.monotonic()))
        return {"message_ts": self._new_ts()}

    def _api_assistant_threads_setSuggestedPrompts(self, params: Json) -> Json:
        """Record up to four ``{title, message}`` prompts (and a ``title``) for a thread."""
        self._need("assistant:write")
        channel, thread_ts = self._assistant_thread(params, ts_required=False)
        prompts, title = _prompts_of(params.get("prompts")), params.get("title")
        if title is not None and not isinstance(title, str):
            raise _error("invalid_arguments")
        self.suggested_prompts[(channel, thread_ts)] = SuggestedPrompts(
            title, prompts, time.monotonic()
        )
        return {}

    def _api_assistant_threads_setTitle(self, params: Json) -> Json:
        """Record a thread's title; an assistant thread's root message shows it."""
        self._need("assistant:write")
        channel, thread_ts = self._assistant_thread(params, ts_required=True)
        title = params.get("title")
        if not isinstance(title, str) or not title.strip():
            raise _error("invalid_arguments")
        self.titles[(channel, thread_ts)] = title
        root = self._messages[(channel, thread_ts)]
        if root.subtype == "assistant_app_thread":
            root.text = title
        return {}

    def _assistant_thread(self, params: Json, *, ts_required: bool) -> tuple[str, str]:
        """(channel_id, thread_ts) of an ``assistant.threads.*`` call, or Slack's error.

        Without ``thread_ts`` (allowed by setSuggestedPrompts) the latest message counts.
        """
        channel = self._channel(str(params.get("channel_id") or ""))
        if channel is None or (channel.private and not channel.member):
            raise _error("channel_not_found")
        thread_ts = str(params.get("thread_ts") or "")
        if not thread_ts:
            if ts_required:
                raise _error("invalid_thread_ts")
            latest = self._top_level(channel.id)
            if not latest:
                raise _error("message_not_found")
            return channel.id, latest[0].ts
        root = self._messages.get((channel.id, thread_ts))
        if root is None or root.thread_ts not in (None, root.ts):
            raise _error("invalid_thread_ts")
        return channel.id, thread_ts

    # -- assistant events --------------------------------------------------------------------

    async def start_assistant_thread(
        self, user: str = "U1", *, context_channel: str | None = None
    ) -> AssistantThread:
        """A person opens the app's assistant pane (while viewing ``context_channel``).

        As Slack does, this posts the thread's root message (subtype ``assistant_app_thread``,
        by the person) in their DM with the app, then sends ``assistant_thread_started``.
        """
        channel = self.im_of(user)
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        title = f"Chats from {now.replace('+00:00', 'Z')}"
        root = self.add_message(channel, title, user=user, subtype="assistant_app_thread")
        thread = AssistantThread(channel, root["ts"], user, self._context_of(context_channel))
        self.assistant_threads.append(thread)
        await self.send_event(thread.event("assistant_thread_started", self._new_ts()))
        return thread

    async def change_assistant_context(
        self, thread: AssistantThread, context_channel: str | None
    ) -> str:
        """The person moves to another channel with the pane open; return the envelope_id."""
        thread.context = self._context_of(context_channel)
        return await self.send_event(
            thread.event("assistant_thread_context_changed", self._new_ts())
        )

    async def assistant_message(
        self, thread: AssistantThread, text: str, *, files: list[Json] | None = None
    ) -> Json:
        """The person writes in an assistant thread: a ``message`` event (``channel_type: im``).

        Like Slack's, the event carries ``thread_ts``, ``parent_user_id`` and an
        ``assistant_thread`` holding only an ``action_token`` (no context).
        """
        msg = self.add_message(
            thread.channel, text, user=thread.user, thread_ts=thread.thread_ts, files=files
        )
        event = self._user_event("message", msg) | {"channel_type": "im"}
        event |= {"parent_user_id": thread.user, "assistant_thread": {"action_token": _token()}}
        await self.send_event(event)
        return msg

    def _context_of(self, channel: str | None) -> Json:
        return {} if channel is None else {"channel_id": channel, "team_id": self.team_id}

    # -- interactions (``interactive`` envelopes) -----------------------------------------

    async def click_feedback(
        self, channel: str, ts: str, *, positive: bool = True, user: str = "U1"
    ) -> str:
        """A person clicks 👍 (or 👎) under a message: ``block_actions``; return envelope_id.

        LookupError if the message carries no feedback buttons to click.
        """
        msg = self._stored(channel, ts)
        container = {"type": "message", "message_ts": ts, "channel_id": channel}
        container |= {"is_ephemeral": False}
        if msg.thread_ts:
            container["thread_ts"] = msg.thread_ts
        action = self._feedback_action(msg, positive)
        payload = {"type": "block_actions", **self._who(user), "api_app_id": self.app_id}
        payload |= {"token": "fake-verification-token", "container": container}
        payload |= self._where(msg, with_ids=True) | {"trigger_id": _token()}
        payload |= {"state": {"values": {}}, "actions": [action]}
        return await self._interact(payload)

    def _feedback_action(self, msg: Any, positive: bool) -> Json:
        """The ``actions[0]`` of a feedback click (fields as Bolt's FeedbackButtonsAction)."""
        found = _feedback_element(msg.blocks)
        if found is None:
            raise LookupError(f"message {msg.ts} in {msg.channel} has no feedback_buttons")
        index, element = found
        button = element["positive_button" if positive else "negative_button"]
        block_id = msg.blocks[index].get("block_id") or _short_hash(msg.ts, index)
        action_id = element.get("action_id") or _short_hash(msg.ts, index, "action")
        action = {"type": "feedback_buttons", "block_id": block_id, "action_id": action_id}
        return (
            action
            | {"text": button["text"], "value": button["value"]}
            | {"action_ts": self._now_ts()}
        )

    async def message_shortcut(
        self, callback_id: str, channel: str, ts: str, *, user: str = "U1"
    ) -> str:
        """A person runs the app's message shortcut on a message: ``message_action``."""
        msg = self._stored(channel, ts)
        payload = {"type": "message_action", "token": "fake-verification-token"}
        payload |= {"action_ts": self._now_ts(), **self._who(user), "callback_id": callback_id}
        payload |= {"trigger_id": _token(), "message_ts": ts} | self._where(msg, with_ids=False)
        return await self._interact(payload)

    def _stored(self, channel: str, ts: str) -> Any:
        msg = self._messages.get((channel, ts))
        if msg is None:
            raise LookupError(f"no message {ts} in {channel}")
        return msg

    def _who(self, user: str) -> Json:
        """``user``, ``team`` and enterprise fields of an interaction payload."""
        name = f"user-{user.lower()}"  # as users.info names people
        who = {"id": user, "username": name, "name": name, "team_id": self.team_id}
        team = {"id": self.team_id, "domain": "fake-workspace"}
        return {"user": who, "team": team, "enterprise": None, "is_enterprise_install": False}

    def _where(self, msg: Any, *, with_ids: bool) -> Json:
        """``channel``, ``message`` and a fresh ``response_url`` for an interaction on msg."""
        channel = self._channel(msg.channel)
        name = "directmessage" if msg.channel.startswith("D") else channel.name if channel else ""
        message = msg.api(self.team_id)
        if with_ids and msg.blocks:  # Slack names every block; a clicked one needs its id
            message["blocks"] = [
                {**b, "block_id": b.get("block_id") or _short_hash(msg.ts, i)}
                for i, b in enumerate(msg.blocks)
            ]
        secret = secrets.token_hex(12)
        self._hooks[secret] = (msg.channel, msg.ts)
        hook = f"{self.team_id}/{len(self._hooks)}{secrets.randbelow(10**8):08d}/{secret}"
        url = f"http://127.0.0.1:{self.port}/actions/{hook}"
        return {"channel": {"id": msg.channel, "name": name}, "message": message} | {
            "response_url": url
        }

    async def _interact(self, payload: Json) -> str:
        """Send an ``interactive`` envelope (never redelivered; accepts no response payload)."""
        await self.wait_for(lambda: bool(self._sockets), message="a Socket Mode connection")
        sent = time.monotonic()
        envelope_id = await self.send_envelope("interactive", payload)
        self.sent_at[envelope_id] = sent
        return envelope_id

    def _now_ts(self) -> str:
        return f"{time.time():.6f}"

    # -- response_url ------------------------------------------------------------------------

    def _add_pane_routes(self, app: web.Application) -> None:
        """Serve the ``response_url`` of interactions (FakeSlack.start calls this)."""
        app.router.add_post("/actions/{team}/{hook}/{secret}", self._response_url)

    async def _response_url(self, request: web.Request) -> web.Response:
        """Record a POST to a response_url; apply ``replace_original`` / ``delete_original``."""
        target = self._hooks.get(request.match_info["secret"])
        if target is None:
            return web.Response(status=404, text="no_active_hooks")
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        self.responses.append(ResponsePost(*target, body, time.monotonic()))
        self._apply_response(target, body)
        return web.json_response({"ok": True})

    def _apply_response(self, target: tuple[str, str], body: Json) -> None:
        """What a response_url post does to the interaction's message (ephemeral: nothing)."""
        msg = self._messages.get(target)
        if msg is None:
            return
        if _truthy(body.get("delete_original")):
            del self._messages[target]
        elif _truthy(body.get("replace_original")):
            msg.text, msg.blocks = str(body.get("text") or ""), body.get("blocks")
            msg.markdown = None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode() if text else ""


def _token() -> str:
    """A trigger_id / action_token shaped like Slack's."""
    return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"

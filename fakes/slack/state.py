"""The workspace the fake Slack holds: messages, channels, reactions, statuses, pane records,
the bot's scopes; plain data and the small queries its Web API methods and tests share."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fakes.slack.blocks import feedback_element
from fakes.slack.errors import SlackError
from fakes.slack.install import (
    manifest_agent,
    manifest_events,
    manifest_home_tab,
    manifest_scopes,
)
from fakes.slack.records import (
    AgentSession,
    AssistantThread,
    Channel,
    Ephemeral,
    Json,
    ResponsePost,
    Status,
    SuggestedPrompts,
)

BOT_TOKEN = "xoxb-fake-bot"
APP_TOKEN = "xapp-fake-app"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
APP_ID = "A1"
DOMAIN = "fake-team"  # permalinks: https://fake-team.slack.com/archives/…


@dataclass
class Message:
    """A message in a channel, as stored."""

    channel: str
    ts: str
    text: str
    user: str | None
    thread_ts: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    blocks: list[Json] | None = None
    files: list[Json] | None = None
    subtype: str | None = None
    markdown: str | None = None  # accumulated by chat.*Stream; None if never streamed
    streaming: bool = False
    chunks: list[Json] = field(default_factory=list)  # what chat.*Stream showed, in order
    task_display_mode: str | None = None
    stopped_by_user: bool = False
    metadata: Json | None = None  # {"event_type", "event_payload"}, from the app that posted
    at: float = field(default_factory=time.monotonic)

    def visible(self) -> str:
        """The text a person sees."""
        if self.markdown is not None:
            return self.markdown
        parts = [b.get("text", "") for b in self.blocks or [] if b.get("type") == "markdown"]
        return "\n".join(parts) if parts else self.text

    def tasks(self) -> list[Json]:
        """The task cards of a streamed message as a person sees them, first shown first: a
        later update of the same ``id`` changes its title, status and output, appends its
        ``details`` and adds its ``sources``."""
        cards: dict[str, Json] = {}
        for chunk in (c for c in self.chunks if c.get("type") == "task_update"):
            card = cards.setdefault(chunk["id"], {"id": chunk["id"], "details": "", "sources": []})
            card |= {k: chunk[k] for k in ("title", "status", "output") if k in chunk}
            card["details"] += chunk.get("details", "")
            card["sources"] += chunk.get("sources", [])
        return list(cards.values())

    def api(self, team: str, *, metadata: bool = False) -> Json:
        """The message as the Web API shows it (its metadata only when asked for)."""
        text = self.text if self.markdown is None else self.markdown
        out = {"type": "message", "ts": self.ts, "text": text, "team": team}
        keys = ("user", "thread_ts", "bot_id", "app_id", "blocks", "files", "subtype")
        keys += ("metadata",) if metadata else ()
        return out | {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


def ts_key(ts: str) -> tuple[int, int]:
    """A message ts as (seconds, microseconds), for ordering."""
    seconds, _, micros = ts.partition(".")
    return int(seconds), int((micros + "000000")[:6])


class Workspace:
    """One workspace with this one app installed: what it holds, and queries on it.

    ``page_size``: most messages per ``conversations.*`` page. ``stream_max_chars``: the
    cumulative cap on one streamed message (msg_too_long). ``stream_ttl``: seconds after
    which Slack ends an open stream, counted from its start (None: never). ``events``: the bot
    events the app subscribes to, ``agent``: whether it is declared as an agent (both from
    manifest.json; ``agent_refusal``: what agents.* answer when it is not); ``home_tab``: its
    Home tab is on (manifest.json), ``home_views`` what each person's shows. ``ai_search``: the
    workspace has Slack's AI search (``assistant.search.*``); ``action_tokens``: those handed
    out with people's messages, and whose each is.
    """

    bot_token, app_token = BOT_TOKEN, APP_TOKEN
    bot_user_id, bot_id, team_id, app_id = BOT_USER_ID, BOT_ID, TEAM_ID, APP_ID

    def __init__(self, *, page_size: int = 1000) -> None:
        self.page_size = page_size
        self.scopes = manifest_scopes()  # an install from our manifest.json
        self.stream_max_chars = 12_000
        self.stream_ttl: float | None = None
        self.events = manifest_events()  # an install from our manifest.json
        self.agent = manifest_agent()
        self.home_tab = manifest_home_tab()  # views.publish of a home view: not_enabled if off
        self.home_views: dict[str, Json] = {}  # user -> the Home tab view published for them
        self.agent_refusal = "feature_disabled"
        self.sessions: dict[tuple[str, str], AgentSession] = {}
        self.ai_search = False
        self.action_tokens: dict[str, str] = {}  # action_token -> the person it searches as
        self.port = 0  # where the fake listens, once started
        self.messages: dict[tuple[str, str], Message] = {}
        self.channels: dict[str, Channel] = {}  # declared; any other C/G/D id: a member
        self.reactions: dict[tuple[str, str], set[str]] = {}
        self.statuses: list[Status] = []
        self.titles: dict[tuple[str, str], str] = {}
        self.suggested_prompts: dict[tuple[str, str], SuggestedPrompts] = {}
        self.assistant_threads: list[AssistantThread] = []
        self.ephemerals: list[Ephemeral] = []
        self.responses: list[ResponsePost] = []
        self.hooks: dict[str, tuple[str, str]] = {}  # response_url secret → (channel, ts)
        self.tickets: set[str] = set()  # Socket Mode tickets handed out, not yet used
        self.connections_opened = 0
        self._last_us = 0

    # -- messages ------------------------------------------------------------------------

    def new_ts(self) -> str:
        """A fresh message ts, later than every one before."""
        self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str | None = "U1",
        thread_ts: str | None = None,
        bot_id: str | None = None,
        files: list[Json] | None = None,
        subtype: str | None = None,
        metadata: Json | str | None = None,
        ts: str | None = None,
    ) -> Json:
        """Store a message as if someone posted it (at ``ts``, else now); return it (with
        ``channel``)."""
        msg = Message(channel, ts or self.new_ts(), text, user, thread_ts, bot_id, files=files)
        msg.subtype = subtype
        msg.metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        self.messages[(channel, msg.ts)] = msg
        return {**msg.api(self.team_id), "channel": channel}

    def post(self, channel: str, text: str, thread_ts: str | None, **kw: Any) -> Message:
        """Store a message by this app's bot."""
        msg = Message(channel, self.new_ts(), text, self.bot_user_id, thread_ts or None, **kw)
        msg.bot_id, msg.app_id = self.bot_id, self.app_id
        self.messages[(channel, msg.ts)] = msg
        return msg

    def expire(self, msg: Message) -> Message:
        """End ``msg``'s stream if it is older than ``stream_ttl`` (Slack ends a stream about
        five minutes after it started, however busy); return it."""
        ttl = self.stream_ttl
        if msg.streaming and ttl is not None and time.monotonic() - msg.at > ttl:
            msg.streaming = False
        return msg

    def permalink(self, channel: str, ts: str) -> str:
        """A message's link, as ``chat.getPermalink`` makes it (a reply's names its thread)."""
        link = f"https://{DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        msg = self.messages.get((channel, ts))
        if msg is not None and msg.thread_ts not in (None, ts):
            link += f"?thread_ts={msg.thread_ts}&cid={channel}"
        return link

    def find(self, params: Json, ts_key: str = "ts", missing: str = "message_not_found") -> Message:
        """The message a call names by ``channel`` and ``ts_key``, or Slack's ``missing``."""
        msg = self.messages.get((params.get("channel") or "", str(params.get(ts_key) or "")))
        if msg is None:
            raise SlackError(missing)
        return msg

    def stored(self, channel: str, ts: str) -> Message:
        """A message a test names; LookupError if there is none."""
        msg = self.messages.get((channel, ts))
        if msg is None:
            raise LookupError(f"no message {ts} in {channel}")
        return msg

    def thread_messages(self, channel: str, thread_ts: str) -> list[Message]:
        """A thread's root and replies, oldest first."""
        found = [m for (ch, ts), m in self.messages.items() if ch == channel]
        return sorted((m for m in found if thread_ts in (m.ts, m.thread_ts)), key=lambda m: m.ts)

    def top_level(self, channel: str) -> list[Message]:
        """A channel's messages outside threads (roots, broadcasts), newest first."""
        found = [
            m
            for (ch, _), m in self.messages.items()
            if ch == channel and (m.thread_ts in (None, m.ts) or m.subtype == "thread_broadcast")
        ]
        return sorted(found, key=lambda m: ts_key(m.ts), reverse=True)

    # -- what a person sees --------------------------------------------------------------

    def seen(self, m: Message) -> Json:
        """A message as a person sees it: ``text`` visible, ``streaming`` flag, ``channel``."""
        self.expire(m)
        return {"user": m.user, "bot_id": m.bot_id, **m.api(self.team_id)} | {
            "channel": m.channel,
            "text": m.visible(),
            "streaming": m.streaming,
        }

    def thread(self, channel: str, thread_ts: str) -> list[Json]:
        """A thread as a person sees it, root first."""
        return [self.seen(m) for m in self.thread_messages(channel, thread_ts)]

    def channel_messages(self, channel: str) -> list[Json]:
        """Every message of a channel, replies included, oldest first."""
        found = [m for (ch, _), m in self.messages.items() if ch == channel]
        return [self.seen(m) for m in sorted(found, key=lambda m: m.ts)]

    def bot_replies(self, channel: str, thread_ts: str) -> list[Json]:
        """This bot's messages in a thread."""
        return [m for m in self.thread(channel, thread_ts) if m["bot_id"] == self.bot_id]

    def current_status(self, channel: str, thread_ts: str) -> str:
        """The thread's status line now: the last one set, unless a bot reply followed."""
        sets = [s for s in self.statuses if (s.channel, s.thread_ts) == (channel, thread_ts)]
        mine = [m for m in self.thread_messages(channel, thread_ts) if m.bot_id == self.bot_id]
        if not sets or any(m.at > sets[-1].at for m in mine):
            return ""
        return sets[-1].status

    def feedback_buttons(self, channel: str, ts: str) -> Json | None:
        """The ``feedback_buttons`` element a message carries, if any."""
        msg = self.messages.get((channel, ts))
        found = feedback_element(msg.blocks if msg else None)
        return found[1] if found else None

    # -- channels and scopes -------------------------------------------------------------

    def add_channel(
        self,
        channel: str,
        *,
        name: str | None = None,
        member: bool = True,
        private: bool = False,
        user: str | None = None,
        people: Iterable[str] = (),
    ) -> Channel:
        """Declare a conversation, e.g. ``add_channel("C2", member=False, private=True,
        people=("U1", "U2"))`` (``people``: who is in it besides the bot)."""
        if user is None and channel.startswith("D"):
            user = "U" + channel[1:]
        found = Channel(channel, name or channel.lower(), private, member, user, frozenset(people))
        self.channels[channel] = found
        return found

    def channel(self, channel: str) -> Channel | None:
        """A declared conversation, else one the bot is in if the id looks like one."""
        if channel in self.channels:
            return self.channels[channel]
        if len(channel) < 2 or channel[0] not in "CGD":
            return None
        user = "U" + channel[1:] if channel.startswith("D") else None
        return Channel(channel, channel.lower(), private=channel.startswith("G"), user=user)

    def im_of(self, user: str) -> str:
        """The id of ``user``'s DM with the bot (declared, else ``D`` + the user id's tail)."""
        declared = [c.id for c in self.channels.values() if c.is_im and c.user == user]
        return declared[0] if declared else "D" + user[1:]

    def grant(self, *scopes: str) -> None:
        """Give the bot token more scopes (e.g. ``assistant:write``, ``channels:read``)."""
        have = self.scopes.split(",")
        self.scopes = ",".join(have + [s for s in scopes if s not in have])

    def revoke(self, *scopes: str) -> None:
        """Take scopes away from the bot token (e.g. an install from an older manifest)."""
        self.scopes = ",".join(s for s in self.scopes.split(",") if s not in scopes)

    def readable(self, channel_id: Any, kind: str) -> Channel:
        """The channel ``conversations.<kind>`` may look at, or Slack's refusal (the scope it
        needs is checked before: :func:`fakes.slack.scopes.check_scope`)."""
        channel = self.channel(str(channel_id or ""))
        if channel is None:
            raise SlackError("channel_not_found")
        if not channel.member and channel.private:
            raise SlackError("channel_not_found")  # a private channel it is not in: invisible
        if not channel.member and kind == "history":
            raise SlackError("not_in_channel")
        return channel

    def member_of(self, channel_id: Any) -> None:
        """Slack's refusal when the bot is not in a declared channel (reads and ephemerals)."""
        channel = self.channels.get(str(channel_id or ""))
        if channel is not None and not channel.member:
            raise SlackError("channel_not_found" if channel.private else "not_in_channel")

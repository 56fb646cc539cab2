"""Plain records the fake Slack keeps and tests read: calls, statuses, pane state, posts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

Json = dict[str, Any]


@dataclass
class Call:
    """One Web API call as received (``response`` and ``status``: what the fake answered)."""

    method: str
    params: Json
    token: str
    at: float
    response: Json = field(default_factory=dict)
    status: int = 200


class Status(NamedTuple):
    """One ``assistant.threads.setStatus`` call."""

    channel: str
    thread_ts: str
    status: str
    loading_messages: list[str] | None
    at: float


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


SESSION_STATUSES = ("active", "processing", "suspended", "closed")  # agents.sessions.setStatus


@dataclass
class AgentSession:
    """A thread's agent session: its status now, its title, every status it was set to."""

    channel: str
    thread_ts: str
    status: str
    title: str | None = None
    history: list[tuple[str, float]] = field(default_factory=list)  # (status, when)

    def set(self, status: str, at: float) -> None:
        """Move to ``status`` (recorded even when it is the same)."""
        self.status = status
        self.history.append((status, at))

    @property
    def statuses(self) -> list[str]:
        """Every status set, in order."""
        return [status for status, _ in self.history]


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


@dataclass
class Channel:
    """A conversation as the bot sees it: membership and privacy decide what it may read."""

    id: str
    name: str
    private: bool = False
    member: bool = True
    user: str | None = None  # the person of a DM (``D…``)
    people: frozenset[str] = frozenset()  # who is in it, besides the bot

    def members(self, bot_user_id: str) -> list[str]:
        """``conversations.members``: the people, the bot when it is in, a DM's person."""
        found = set(self.people) | ({bot_user_id} if self.member else set())
        return sorted(found | ({self.user} if self.user else set()))

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


def truthy(value: Any) -> bool:
    """What Slack reads as true in a JSON or form argument."""
    return value is True or str(value).lower() in ("1", "true")

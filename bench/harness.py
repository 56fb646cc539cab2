"""The fakes as the benchmark runs them, observed through their public hooks only.

FakeSlack's ``on_envelope_sent`` says when each event reached the bot's socket; FakeOpenAI's
``on_request`` and ``on_stream_end`` say when each question reached the model and when its
answer's last byte left. Questions are recognised by the ``q-<key>`` they carry.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fakes.openai import FakeOpenAI, Reply, StreamRecord
from fakes.slack import FakeSlack

from .profiles import World, answer_chunks

BACKLOG = 4096  # the default listen queue (128) drops connections in a burst of 200
_KEY = re.compile(r"q-([A-Za-z0-9_-]+)")

Json = dict[str, Any]


def question_key(body: Json) -> str | None:
    """The key of the question a model request answers: the last ``q-…`` in its messages."""
    found = _KEY.findall(json.dumps(body.get("messages")))
    return found[-1] if found else None


@dataclass
class Recorder:
    """What the hooks saw; times are ``time.monotonic()`` of this process."""

    sent: dict[tuple[str, str], float] = field(default_factory=dict)  # (channel, ts) → wire
    envelopes: dict[tuple[str, str], str] = field(default_factory=dict)  # → envelope_id
    retries: int = 0
    arrivals: dict[str, float] = field(default_factory=dict)  # key → model request
    ends: dict[str, float] = field(default_factory=dict)  # key → model's last byte
    requests: int = 0

    def envelope_sent(self, envelope: Json, at: float) -> None:
        event = (envelope.get("payload") or {}).get("event") or {}
        where = (str(event.get("channel")), str(event.get("ts")))
        if envelope.get("retry_attempt"):
            self.retries += 1
        elif event.get("type") != "message" or where not in self.sent:  # a mention's twin
            self.sent[where] = at
            self.envelopes[where] = envelope["envelope_id"]

    def request(self, body: Json) -> None:
        self.requests += 1
        if key := question_key(body):
            self.arrivals.setdefault(key, time.monotonic())

    def stream_end(self, record: StreamRecord) -> None:
        if key := question_key(record.body):
            self.ends.setdefault(key, record.ended_at)


def bench_slack(world: World, recorder: Recorder, rate_limits: bool = False) -> FakeSlack:
    """FakeSlack with Slack's round trip, handshake cost and a deep listen queue."""
    return FakeSlack(
        latency=world.rtt,
        connect_cost=world.connect_rtts * world.rtt,
        backlog=BACKLOG,
        rate_limits=rate_limits,
        on_envelope_sent=recorder.envelope_sent,
    )


def bench_openai(world: World, recorder: Recorder) -> FakeOpenAI:
    """FakeOpenAI answering every request with the world's answer, at its pace."""
    reply = Reply(
        chunks=answer_chunks(world.tokens),
        first_token_delay=world.first_token,
        token_delay=world.token_gap,
    )
    return FakeOpenAI(
        default=lambda body: reply,
        on_request=recorder.request,
        on_stream_end=recorder.stream_end,
        backlog=BACKLOG,
    )


def message_event(slack: FakeSlack, msg: Json, kind: str = "message") -> Json:
    """The event Slack sends for a message someone posted in a channel."""
    event = {"type": kind, "user": msg["user"], "text": msg["text"], "ts": msg["ts"]}
    event |= {"channel": msg["channel"], "event_ts": msg["ts"], "team": slack.team_id}
    event |= {"client_msg_id": str(uuid.uuid4())}
    if kind == "message":
        event["channel_type"] = "channel"
    return event | ({"thread_ts": msg["thread_ts"]} if msg.get("thread_ts") else {})


async def post(
    slack: FakeSlack, channel: str, text: str, user: str, thread_ts: str | None = None
) -> Json:
    """A person posts ``text``: Slack stores it and sends the bot its ``message`` event, and
    its ``app_mention`` event first when it mentions the bot."""
    msg = slack.add_message(channel, text, user=user, thread_ts=thread_ts)
    events = [message_event(slack, msg)]
    if f"<@{slack.bot_user_id}>" in text:
        events.insert(0, message_event(slack, msg, "app_mention"))
    await asyncio.gather(*(slack.send_event(e, event_id=_event_id()) for e in events))
    return msg


def _event_id() -> str:
    return "Ev" + secrets.token_hex(5).upper()

"""Visibility: who may read a channel, asked of the fake Slack through the real door."""

from __future__ import annotations

import asyncio

from slackgpt.slack.visibility import MEMBERS_TTL, NOT_A_MEMBER, Visibility


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_removed_member_is_refused_once_the_minute_is_over(slack, door):
    channel = slack.add_channel("G1", private=True, people=("U1",))
    clock = Clock()
    seen = Visibility(door, clock=clock)
    assert await seen.refusal("U1", "G1") is None
    channel.people = frozenset()  # U1 leaves the channel
    assert await seen.refusal("U1", "G1") is None  # still remembered...
    clock.now += MEMBERS_TTL + 1
    assert await seen.refusal("U1", "G1") == NOT_A_MEMBER  # ...for a minute only
    assert len(slack.calls_to("conversations.members")) == 2


async def test_slacks_refusal_is_the_answer(slack, door):
    slack.add_channel("G2", private=True, member=False, people=("U1",))
    assert await Visibility(door).refusal("U1", "G2") == "channel_not_found"


async def test_many_questions_about_one_channel_at_once_ask_slack_once(slack, door):
    slack.add_channel("G3", private=True, people=("U1", "U2"))
    slack.add_channel("G4", private=True, member=False)
    seen = Visibility(door)
    answers = await asyncio.gather(*(seen.refusal(f"U{n}", "G3") for n in range(1, 11)))
    assert answers == [None, None] + [NOT_A_MEMBER] * 8
    assert len(slack.calls_to("conversations.info")) == 1
    assert len(slack.calls_to("conversations.members")) == 1
    refused = await asyncio.gather(*(seen.refusal("U1", "G4") for _ in range(5)))
    assert refused == ["channel_not_found"] * 5  # Slack's refusal, for every one of them
    assert len(slack.calls_to("conversations.info")) == 2

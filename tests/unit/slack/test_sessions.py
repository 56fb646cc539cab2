"""Agent sessions against the fake Slack: learned once when Slack has none for the app (asked
again an hour later), the stop event's missing subscription said once, an answer's turn."""

from __future__ import annotations

import logging

from slackgpt.slack.api import SlackApi
from slackgpt.slack.delivery import Delivery
from slackgpt.slack.events import Target
from slackgpt.slack.quota import Quota
from slackgpt.slack.sessions import RECHECK, Sessions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_app_without_sessions_is_asked_again_only_after_an_hour(slack, door, caplog):
    slack.agent = False
    clock, root = Clock(), slack.add_message("C1", "q")
    sessions = Sessions(door, clock=clock)
    caplog.set_level(logging.INFO, logger="slackgpt")
    target = Target("C1", root["ts"])
    assert await sessions.set(target, "processing") is None
    assert await sessions.set(target, "active") is None
    assert len(slack.calls_to("agents.sessions.setStatus")) == 1 and not sessions.possible
    clock.now += RECHECK
    slack.agent = True  # moved to agent view meanwhile
    assert (await sessions.set(target, "processing"))["status"] == "processing"
    assert sessions.agent is True
    assert len([r for r in caplog.records if "no agent sessions" in r.getMessage()]) == 1


async def test_other_refusals_are_not_taken_for_a_missing_feature(slack, door):
    sessions = Sessions(door)
    assert await sessions.set(Target("X1", "1.000001"), "processing") is None  # no such channel
    assert sessions.agent is None and sessions.possible


async def test_the_missing_stop_subscription_is_said_once(slack, door, caplog):
    slack.events.discard("agent_session_stopped")
    caplog.set_level(logging.WARNING, logger="slackgpt")
    sessions, root = Sessions(door), slack.add_message("C1", "q")
    for status in ("processing", "active"):
        await sessions.set(Target("C1", root["ts"]), status)
    assert len([r for r in caplog.records if "agent_session_stopped" in r.getMessage()]) == 1


async def test_a_turn_begins_processing_and_ends_active_unless_the_stream_did(slack, door):
    sessions = Sessions(door)
    for streamed in (False, True):
        root = slack.add_message("C1", "q")
        target = Target("C1", root["ts"], "U1", "T1")
        delivery = Delivery(door, target)
        turn = sessions.turn(target, "A title", first=True)
        turn.begin(delivery)
        assert await turn.live() and delivery.session == "active"
        delivery.session_ended = streamed
        await turn.end(delivery)
        statuses = slack.session_statuses("C1", root["ts"])
        assert statuses == (["processing"] if streamed else ["processing", "active"])
        assert slack.sessions[("C1", root["ts"])].title == "A title"


async def test_a_session_found_untitled_is_named_by_the_question_that_starts_it(slack, door):
    root = slack.add_message("C1", "q")
    target = Target("C1", root["ts"], "U1", "T1")
    await door.call("agents.sessions.setStatus", channel_id="C1", thread_ts=root["ts"],
                    status="active")  # made earlier, without a title
    turn = Sessions(door).turn(target, "Named", first=True)
    turn.begin(Delivery(door, target))
    assert await turn.live()
    assert slack.sessions[("C1", root["ts"])].title == "Named"
    assert len(slack.calls_to("agents.sessions.rename")) == 1


async def test_waiting_on_the_person_suspends_the_session(slack, door):
    root = slack.add_message("C1", "q")
    target = Target("C1", root["ts"], "U1", "T1")
    turn = Sessions(door).turn(target, None)
    turn.begin(Delivery(door, target))
    await turn.waiting()
    await turn.working()
    assert slack.session_statuses("C1", root["ts"]) == ["processing", "suspended", "processing"]


async def test_no_new_session_waits_for_the_budget(slack):
    quota = Quota(per_minute={"agents.sessions.setStatus": 5}, per_channel={})
    door = SlackApi(slack.bot_token, slack.api_url, quota=quota)
    try:
        sessions, roots = Sessions(door), [slack.add_message("C1", f"q{i}") for i in range(6)]
        begun = [await sessions.set(Target("C1", r["ts"]), "processing", wait=False)
                 for r in roots]
        assert [b is not None for b in begun] == [True] * 4 + [False] * 2  # 1 of 5 kept
        assert len(slack.calls_to("agents.sessions.setStatus")) == 4
        assert await sessions.set(Target("C1", roots[0]["ts"]), "active") is not None
    finally:
        await door.close()

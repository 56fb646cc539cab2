"""Pace: one message's share of Slack's budgets, held and spent through the door."""

from __future__ import annotations

from slackgpt.slack.pacing import START, STOP, UPDATE, Pace
from slackgpt.slack.quota import Quota


def quota(**per_minute: int) -> Quota:
    return Quota(per_minute={k.replace("_", "."): v for k, v in per_minute.items()}, per_channel={})


async def test_a_stream_holds_its_start_and_its_stop_or_neither():
    budgets = quota(chat_startStream=2, chat_stopStream=1)
    first, second = Pace(budgets, 1.0), Pace(budgets, 1.0)
    assert await first.hold_stream() is True
    assert await second.hold_stream() is False  # the stop is gone: the start is not used up
    assert await budgets.available(START)
    assert first.take(START) and first.take(STOP) and not first.take(STOP)


async def test_the_last_update_is_held_or_must_be_in_the_budget():
    budgets = quota(chat_update=1)
    pace = Pace(budgets, 1.0)
    assert await pace.hold_last_update() is True
    assert await pace.last_update_ready() is True  # held, though the minute's budget is spent
    assert pace.take(UPDATE) is True
    assert await pace.last_update_ready() is False


async def test_messages_updated_at_once_share_the_budget_and_let_go_when_done():
    budgets = quota(chat_update=60)  # one a second
    paces = [Pace(budgets, 0.5) for _ in range(3)]
    assert paces[0].interval() == 0.5  # nothing posted yet
    for pace in paces:
        pace.posted()
    assert paces[0].interval() == 3.0  # three messages share one update a second
    for pace in paces[1:]:
        pace.done()
    assert paces[0].interval() == 1.0


async def test_done_lets_go_of_what_was_held():
    pace = Pace(quota(chat_update=5), 1.0)
    await pace.hold_last_update()
    pace.done()
    assert pace.take(UPDATE) is False

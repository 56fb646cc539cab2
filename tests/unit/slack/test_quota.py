"""Slack budgets per method: waiting, reserving, sharing, and a 429's penalty."""

from __future__ import annotations

import asyncio

import pytest

from slackgpt.slack.quota import Quota

pytestmark = pytest.mark.timeout(20)


async def test_calls_within_the_budget_go_at_once_and_the_next_waits():
    quota = Quota(window=1, per_minute={"chat.update": 5}, per_channel={})
    for _ in range(5):
        assert await quota.available("chat.update")  # so this take does not wait
        await quota.take("chat.update")
    assert not await quota.available("chat.update")
    sixth = asyncio.ensure_future(quota.take("chat.update"))
    await asyncio.sleep(0.1)  # a negative check: a take that did not wait would be done now
    assert not sixth.done()
    await asyncio.wait_for(sixth, 5)  # the window (1 s here) moves on, and it goes


async def test_methods_without_a_budget_never_wait():
    quota = Quota(window=1, per_minute={}, per_channel={})
    for _ in range(100):
        await quota.take("chat.whatever")
    assert await quota.available("chat.whatever")


async def test_reserve_takes_only_what_is_there_now():
    quota = Quota(window=60, per_minute={"chat.startStream": 2}, per_channel={})
    assert await quota.reserve("chat.startStream")
    assert await quota.available("chat.startStream")
    assert await quota.reserve("chat.startStream")
    assert not await quota.available("chat.startStream")
    assert not await quota.reserve("chat.startStream")  # nothing used by a refused reserve


async def test_posting_is_paced_per_channel():
    quota = Quota(window=60, per_minute={}, per_channel={"chat.postMessage": (2, 60.0)})
    assert await quota.reserve("chat.postMessage", "C1")
    assert await quota.reserve("chat.postMessage", "C1")
    assert not await quota.available("chat.postMessage", "C1")
    assert await quota.available("chat.postMessage", "C2")  # another channel, its own pace


async def test_a_429_makes_calls_cost_double_for_a_while():
    now = [0.0]
    quota = Quota(window=60, per_minute={"chat.update": 4}, per_channel={}, clock=lambda: now[0])
    quota.penalize("chat.update", retry_after=2)
    assert await quota.reserve("chat.update") and await quota.reserve("chat.update")
    assert not await quota.available("chat.update")  # 4 calls' worth used by 2
    assert quota.interval("chat.update", 0.0) == 0.0  # nobody busy yet
    quota.busy("chat.update", +1)
    assert quota.interval("chat.update", 0.0) == pytest.approx(60 / 4 * 2)
    now[0] += 601
    assert quota.interval("chat.update", 0.0) == pytest.approx(60 / 4)


async def test_the_interval_stretches_with_messages_sharing_a_budget():
    quota = Quota(window=60, per_minute={"chat.appendStream": 100}, per_channel={})
    assert quota.interval("chat.appendStream", 1.0) == 1.0
    for _ in range(20):
        quota.busy("chat.appendStream", +1)
    assert quota.interval("chat.appendStream", 1.0) == pytest.approx(12.0)
    for _ in range(25):
        quota.busy("chat.appendStream", -1)
    assert quota.interval("chat.appendStream", 1.0) == 1.0  # never below zero busy


async def test_two_quotas_on_one_store_share_the_budget():
    first = Quota(window=60, per_minute={"reactions.add": 3}, per_channel={})
    second = Quota(first.storage, window=60, per_minute={"reactions.add": 3}, per_channel={})
    assert await first.reserve("reactions.add") and await second.reserve("reactions.add")
    assert await first.reserve("reactions.add")
    assert not await second.available("reactions.add")


async def test_waiting_is_cancellable():
    quota = Quota(window=60, per_minute={"chat.update": 1}, per_channel={})
    await quota.take("chat.update")
    waiting = asyncio.ensure_future(quota.take("chat.update"))
    await asyncio.sleep(0.1)  # a negative check: a take that did not wait would be done now
    assert not waiting.done()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_call_that_only_learns_leaves_a_share_for_answers():
    quota = Quota(window=60, per_minute={"conversations.replies": 10}, per_channel={})
    learned = 0
    while await quota.reserve("conversations.replies", keep=0.4):
        learned += 1
    assert learned == 6  # 4 of 10 kept
    assert await quota.reserve("conversations.replies")  # an answer still gets one

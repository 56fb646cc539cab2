"""Slack budgets in Redis: shared by copies, under the bot's prefix, and kept through an outage."""

from __future__ import annotations

import logging

import pytest
import redis.asyncio as aioredis
from limits.aio.storage import RedisStorage

from fakes.redis_server import start_redis
from slackgpt.slack.quota import Quota, storage_for
from slackgpt.state.redis import RedisState
from tests.helpers import watch

pytestmark = pytest.mark.timeout(20)

BUDGET = {"reactions.add": 2}


async def test_copies_share_one_budget_under_the_prefix(redis_url):
    one = RedisState(redis_url, None)  # each copy shares its memory's pool with its budgets
    two = RedisState(redis_url, None)
    raw = aioredis.from_url(redis_url, decode_responses=True)
    try:
        first = Quota(storage_for(redis_url, one.pool), per_minute=BUDGET)
        second = Quota(storage_for(redis_url, two.pool), per_minute=BUDGET)
        assert await first.reserve("reactions.add") is True
        assert await second.reserve("reactions.add") is True
        assert await first.reserve("reactions.add") is False  # the two calls were the budget
        assert await second.available("reactions.add") is False
        keys = await raw.keys("*")
        assert keys and all(key.startswith("slackgpt:limits:") for key in keys)
    finally:
        await raw.aclose()
        await one.close()
        await two.close()


@pytest.mark.parametrize("scheme", ["redis", "valkey"])
async def test_valkey_urls_use_the_redis_client(redis_url, scheme):
    url = redis_url.replace("redis://", f"{scheme}://")
    state = RedisState(url, None)
    try:
        storage = storage_for(url, state.pool)
        assert isinstance(storage, RedisStorage)
        quota = Quota(storage, per_minute=BUDGET)
        assert await quota.reserve("reactions.add") is True
        assert await state.redis.keys("slackgpt:limits:*")
    finally:
        await state.close()


def test_a_unix_socket_url_is_understood():
    assert isinstance(storage_for("unix:///run/redis/redis.sock?db=0"), RedisStorage)


async def test_an_outage_leaves_each_copy_its_own_budget(caplog):
    caplog.set_level(logging.WARNING, logger="slackgpt.slack.quota")
    server = start_redis()
    state = RedisState(server.url, None)
    try:
        quota = Quota(storage_for(server.url, state.pool), per_minute=BUDGET)
        assert await quota.reserve("reactions.add") is True
        server.stop()
        tries = watch([state.pool], "get_connection")  # each use of the store takes one
        await quota.take("reactions.add")  # Slack calls go on: counted in this process
        tried = tries.started
        assert await quota.reserve("reactions.add") is True
        assert await quota.reserve("reactions.add") is False  # and still within a budget
        assert tried > 0 and tries.started == tried  # the dead store is not tried per call
    finally:
        server.stop()
        await state.close()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "each copy counts its own calls" in warnings[0]

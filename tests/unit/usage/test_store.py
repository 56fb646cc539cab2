"""The usage stores: SQLite (a file that outlives the bot) and Redis (shared by copies), the
same promises; what a Home tab reads (a person's day and month, the top people and channels)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from slackgpt.usage.budget import Spent, Standing, periods
from slackgpt.usage.redis_store import RedisUsage
from slackgpt.usage.store import CHANNEL, PERSON, PersonUsage, SqliteUsage, UsageUnavailable

MAY_3 = periods(datetime(2026, 5, 3, 12, tzinfo=UTC).timestamp())
MAY_4 = periods(datetime(2026, 5, 4, 12, tzinfo=UTC).timestamp())


@pytest.fixture
async def sqlite(tmp_path):
    store = SqliteUsage(tmp_path / "state" / "usage.sqlite3")
    await store.open()
    yield store
    await store.close()


@pytest.fixture(params=["sqlite", "redis"])
async def store(request, tmp_path, redis_url):
    store = SqliteUsage(tmp_path / "usage.sqlite3") if request.param == "sqlite" else \
        RedisUsage(redis_url)
    await store.open()
    yield store
    await store.close()


async def test_counts_per_person_channel_and_workspace(store):
    assert await store.standing("U1", MAY_3) == Standing()
    after = await store.add("U1", "C1", Spent(100, 20, 0.5), MAY_3)
    assert after == Standing(120, 120, 0.5)
    after = await store.add("U2", "C2", Spent(10, 5, 0.25), MAY_3)
    assert after == Standing(15, 135, 0.75)  # U2's own day; the workspace's month
    await store.add("U1", "C2", Spent(1, 1), MAY_4)
    assert await store.standing("U1", MAY_4) == Standing(2, 137, 0.75)  # a new day, same month
    assert await store.person("U1", MAY_4) == PersonUsage(2, 0.0, 122, 0.5)
    assert await store.top(PERSON, MAY_4.month) == [("U1", 122), ("U2", 15)]
    assert await store.top(CHANNEL, MAY_3.day, most=1) == [("C1", 120)]
    assert store.up()


async def test_the_sqlite_counts_outlive_the_bot_and_old_days_go(tmp_path):
    path = tmp_path / "usage.sqlite3"
    today = periods(time.time())
    first = SqliteUsage(path)
    await first.open()
    await first.add("U1", "C1", Spent(40, 2, 0.1), today)
    await first.add("U1", "C1", Spent(7, 0), periods(time.time() - 90 * 86400))
    await first.close()
    again = SqliteUsage(path)
    await again.open()  # keeps KEEP_DAYS days of days
    try:
        assert await again.standing("U1", today) == Standing(42, 42, 0.1)
        assert await again.top(PERSON, periods(time.time() - 90 * 86400).day) == []
    finally:
        await again.close()


async def test_an_unwritable_usage_file_says_what_to_do(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    store = SqliteUsage(blocked / "usage.sqlite3")
    with pytest.raises(UsageUnavailable) as caught:
        await store.open()
    assert "USAGE_FILE" in str(caught.value) and "REDIS_URL" in str(caught.value)
    await store.close()


async def test_two_copies_share_the_counts_through_redis(redis_url):
    one, two = RedisUsage(redis_url), RedisUsage(redis_url.replace("redis:", "valkey:"))
    try:
        await one.add("U1", "C1", Spent(10, 0), MAY_3)
        assert await two.add("U1", "C1", Spent(5, 0), MAY_3) == Standing(15, 15, 0.0)
        keys = await one.redis.keys("slackgpt:usage:*")
        assert keys and all([await one.redis.pttl(k) > 0 for k in keys])  # all expire
    finally:
        await one.close()
        await two.close()


async def test_an_unreachable_redis_reads_as_nothing_used(caplog):
    store = RedisUsage("redis://127.0.0.1:9/0", timeout=0.5)  # nothing listens on port 9
    try:
        assert await store.standing("U1", MAY_3) == Standing()
        assert await store.add("U1", "C1", Spent(1, 1), MAY_3) == Standing()
        assert await store.top(PERSON, MAY_3.month) == []
        assert not store.up()
    finally:
        await store.close()
    assert "budgets do not hold" in caplog.text


async def test_redis_counts_survive_a_flushed_script_cache_and_many_at_once(redis_url):
    store = RedisUsage(redis_url)
    try:
        await store.add("U1", "C1", Spent(1, 0), MAY_3)
        await store.redis.script_flush()  # as after a Redis restart: the scripts are sent again
        many = [store.add(f"U{i % 3}", "C1", Spent(2, 0), MAY_3) for i in range(30)]
        await asyncio.gather(*many)  # one connection, one call at a time, none lost
        assert await store.standing("U1", MAY_3) == Standing(21, 61, 0.0)
    finally:
        await store.close()

"""The Redis-protocol server tests start themselves (fakes/redis_server.py)."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from fakes.redis_server import async_redis_server, redis_server, start_redis

pytestmark = pytest.mark.timeout(15)

# Take a lock only if it is still ours, as a claim/lease would.
EXTEND_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


async def test_two_clients_share_one_server(redis_url: str) -> None:
    assert redis_url.startswith("redis://127.0.0.1:") and redis_url.endswith("/0")
    one = aioredis.from_url(redis_url, decode_responses=True)
    two = aioredis.from_url(redis_url, decode_responses=True)
    try:
        assert await one.set("claim:Ev1", "bot-a", nx=True, ex=30) is True
        assert await two.set("claim:Ev1", "bot-b", nx=True, ex=30) is None  # already taken
        assert await two.get("claim:Ev1") == "bot-a"
        assert 0 < await two.ttl("claim:Ev1") <= 30
        assert [await one.incr("n"), await two.incr("n"), await one.incr("n")] == [1, 2, 3]
        assert await two.expire("n", 1) is True and 0 < await one.pttl("n") <= 1000
        assert await one.pexpire("n", 50) is True  # the same clock, in milliseconds
        await asyncio.sleep(0.1)
        assert await one.exists("n") == 0 and await two.get("n") is None
        assert await one.eval(EXTEND_IF_OURS, 1, "claim:Ev1", "bot-a", 60_000) == 1
        assert await two.eval(EXTEND_IF_OURS, 1, "claim:Ev1", "bot-b", 60_000) == 0
        assert 30_000 < await two.pttl("claim:Ev1") <= 60_000
        extend = two.register_script(EXTEND_IF_OURS)  # EVALSHA, falling back to a load
        assert await extend(keys=["claim:Ev1"], args=["bot-a", 5_000]) == 1
    finally:
        await one.aclose()
        await two.aclose()


async def test_each_server_is_fresh_and_gone_after_the_block() -> None:
    async with async_redis_server() as server:
        client = aioredis.from_url(server.url)
        await client.set("k", "v")
        await client.aclose()
    async with async_redis_server() as other:
        client = aioredis.from_url(other.url)
        assert await client.get("k") is None
        await client.aclose()
    stale = aioredis.from_url(server.url)
    with pytest.raises(RedisConnectionError):
        await stale.ping()
    await stale.aclose()


def test_start_and_stop_are_quick() -> None:
    started = time.monotonic()
    server = start_redis()
    up = time.monotonic() - started
    started = time.monotonic()
    server.stop()
    server.stop()  # a second stop does nothing
    down = time.monotonic() - started
    assert up < 2.0 and down < 2.0, (up, down)


def test_a_client_left_open_does_not_hold_up_the_stop() -> None:
    import redis

    with redis_server() as server:
        client = redis.Redis.from_url(server.url)
        assert client.ping() is True
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    client.close()

"""The shared memory (RedisState) against a real Redis-protocol server: two copies, one memory.

Each test starts its own server on 127.0.0.1 (fakes/redis_server.py; fakeredis with Lua, or
redis-server when installed); nothing is mocked.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from fakes.redis_server import HOST, redis_server
from slackgpt.logs import public_url
from slackgpt.state.local import CLAIM_TTL, CONTEXT_TTL, LocalState
from slackgpt.state.redis import (
    PREFIX,
    READY,
    SHARED_OUTSIDE_TTL,
    THREAD_TTL,
    RedisState,
    StoreUnavailable,
    client_url,
)
from tests.helpers import until

pytestmark = pytest.mark.timeout(20)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client to look at what the bot stored."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def copies(redis_url: str) -> AsyncIterator[list[RedisState]]:
    """Two copies of the bot's memory on the same server (no hourly limit)."""
    states = [RedisState(redis_url, None), RedisState(redis_url, None)]
    yield states
    for state in states:
        await state.close()


async def gone(raw: aioredis.Redis, key: str) -> bool:
    """True once ``key`` is no longer in the store (e.g. expired)."""
    return not await raw.exists(key)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


async def test_a_claim_is_won_by_one_copy_and_kept_for_a_day(copies, raw):
    one, two = copies
    assert await one.claim("C1:1.0") is True
    assert await two.claim("C1:1.0") is False
    assert await one.claim("C1:1.0") is False  # a redelivery to the winner too
    assert await two.claim("C1:2.0") is True
    assert CLAIM_TTL - 5 < await raw.ttl(f"{PREFIX}claim:C1:1.0") <= CLAIM_TTL
    owner = await raw.get(f"{PREFIX}claim:C1:1.0")
    assert owner and owner.rsplit(":", 1)[1].isdigit()  # host:pid, for whoever debugs


async def test_a_short_claim_lapses_for_every_copy(copies, raw):
    one, two = copies
    assert await one.claim("summary:C1:1.0:U1", ttl=10) is True
    assert await two.claim("summary:C1:1.0:U1", ttl=10) is False
    assert 0 < await raw.pttl(f"{PREFIX}claim:summary:C1:1.0:U1") <= 10_000


async def test_many_copies_claiming_at_once_give_one_winner(redis_url):
    # 20 new connections at once to a server in this process's own thread: on a loaded
    # machine some take over the 1 s default, which is not what this test is about.
    states = [RedisState(redis_url, None, timeout=10.0) for _ in range(5)]
    try:
        results = await asyncio.gather(*(s.claim("C1:9.0") for s in states for _ in range(4)))
    finally:
        for state in states:
            await state.close()
    assert sorted(results) == [False] * 19 + [True]


async def test_thread_memory_is_shared_and_in_never_loses_to_out(copies, raw):
    one, two = copies
    assert await two.thread_has_bot("C1", "1.0") is None
    await one.remember_thread("C1", "1.0", True)
    assert await two.thread_has_bot("C1", "1.0") is True
    await two.remember_thread("C1", "1.0", False)  # a copy that read the thread before
    assert await one.thread_has_bot("C1", "1.0") is True
    await one.remember_thread("C1", "2.0", False)
    assert await two.thread_has_bot("C1", "2.0") is False
    await two.remember_thread("C1", "2.0", True)  # the bot was mentioned there since
    assert await one.thread_has_bot("C1", "2.0") is True
    await one.remember_thread("C1", "3.0", False)
    assert THREAD_TTL - 5 < await raw.ttl(f"{PREFIX}thread:C1:1.0") <= THREAD_TTL
    assert SHARED_OUTSIDE_TTL - 5 < await raw.ttl(f"{PREFIX}thread:C1:3.0") <= SHARED_OUTSIDE_TTL


async def test_an_expired_thread_memory_is_unknown_again(copies, raw):
    one, two = copies
    await one.remember_thread("C1", "1.0", False)
    await raw.pexpire(f"{PREFIX}thread:C1:1.0", 50)  # as a day later
    await until(lambda: gone(raw, f"{PREFIX}thread:C1:1.0"), what="the key to expire")
    assert await two.thread_has_bot("C1", "1.0") is None


async def test_the_channel_in_view_is_shared_and_follows_the_person(copies, raw):
    one, two = copies
    assert await two.context_of("D1", "1.0") is None
    await one.remember_context("D1", "1.0", "C1")
    assert await two.context_of("D1", "1.0") == "C1"
    await two.remember_context("D1", "1.0", "C2")  # moved; the event reached the other copy
    assert await one.context_of("D1", "1.0") == "C2"
    assert CONTEXT_TTL - 5 < await raw.ttl(f"{PREFIX}context:D1:1.0") <= CONTEXT_TTL
    await one.remember_context("D1", "1.0", None)  # and away from any channel
    assert await two.context_of("D1", "1.0") is None
    assert await two.context_of("D2", "1.0") is None


async def test_a_decision_is_settled_once_for_every_copy(copies, raw):
    one, two = copies
    assert await two.settled("approval:r1") is None
    assert await one.settle("approval:r1", "approved:U1", ttl=60) == "approved:U1"
    assert await two.settle("approval:r1", "expired", ttl=60) == "approved:U1"  # the first holds
    assert await two.settled("approval:r1") == "approved:U1"
    assert 55 < await raw.ttl(f"{PREFIX}settle:approval:r1") <= 60
    racing = await asyncio.gather(*(c.settle("approval:r2", f"by:{i}", 60)
                                    for i, c in enumerate(copies * 5)))
    assert len(set(racing)) == 1  # one winner, seen by all


async def test_hourly_counts_are_shared_across_copies(redis_url):
    clock = Clock()
    one = RedisState(redis_url, 2, clock=clock)
    two = RedisState(redis_url, 2, clock=clock)
    try:
        assert await one.count_request("U1") == (True, 0.0)
        clock.now += 100
        allowed, wait = await two.count_request("U1")
        assert allowed is True and wait == pytest.approx(3500)  # that was the last one
        clock.now += 100
        allowed, wait = await one.count_request("U1")
        assert allowed is False and wait == pytest.approx(3400)
        assert (await two.count_request("U2"))[0] is True  # per person
        clock.now += 3401  # the first question left the window
        assert (await two.count_request("U1"))[0] is True
        assert (await one.count_request("U1"))[0] is False
    finally:
        await one.close()
        await two.close()


async def test_the_sliding_window_matches_the_local_limiter(redis_url):
    """The same questions at the same times give the same answers in both memories."""
    clock = Clock()
    shared = RedisState(redis_url, 3, window=60.0, clock=clock)
    local = LocalState(3, clock=clock)
    local._limiter.window = 60.0  # the local one's window, as short
    answers = []
    try:
        for step in (0, 1, 1, 5, 10, 30, 44, 1, 0.5, 59, 61, 2, 3):
            clock.now += step
            mine, theirs = await shared.count_request("U1"), await local.count_request("U1")
            assert mine[0] == theirs[0] and mine[1] == pytest.approx(theirs[1]), (step, mine)
            answers.append(mine[0])
    finally:
        await shared.close()
    assert answers.count(False) >= 3 and answers.count(True) >= 6  # both kinds were compared


async def test_a_persons_counts_vanish_after_the_window(redis_url, raw):
    state = RedisState(redis_url, 5, window=0.2)
    try:
        assert (await state.count_request("U1"))[0] is True
        assert await raw.exists(f"{PREFIX}rate:U1") == 1
        await until(lambda: gone(raw, f"{PREFIX}rate:U1"), what="the counts to expire")
        assert await raw.exists(f"{PREFIX}rate:U1") == 0  # memory stays bounded
    finally:
        await state.close()


async def test_without_a_limit_nothing_is_counted(copies, raw):
    assert await copies[0].count_request("U1") == (True, 0.0)
    assert await raw.keys("*") == []


async def test_every_key_is_under_the_prefix_and_prefixes_do_not_meet(redis_url, raw):
    ours = RedisState(redis_url, 1)
    theirs = RedisState(redis_url, 1, prefix="otherbot:")
    try:
        await ours.claim("C1:1.0")
        await ours.remember_thread("C1", "1.0", True)
        await ours.remember_context("D1", "1.0", "C1")
        await ours.count_request("U1")
        assert all(key.startswith(PREFIX) for key in await raw.keys("*"))
        assert len(await raw.keys("*")) == 4
        assert await theirs.claim("C1:1.0") is True
        assert await theirs.thread_has_bot("C1", "1.0") is None
        assert await theirs.context_of("D1", "1.0") is None
        assert (await theirs.count_request("U1"))[0] is True
    finally:
        await ours.close()
        await theirs.close()


async def test_the_store_is_shared_and_says_so(copies):
    assert copies[0].shared is True and LocalState(None).shared is False


async def test_valkey_urls_reach_the_same_server(redis_url, copies):
    valkey = RedisState(redis_url.replace("redis://", "valkey://"), None)
    try:
        await copies[0].remember_context("D1", "1.0", "C1")
        assert await valkey.context_of("D1", "1.0") == "C1"
    finally:
        await valkey.close()


def test_urls_for_the_client_and_for_people():
    assert client_url("valkeys://h:6380/1") == "rediss://h:6380/1"
    assert client_url("unix:///run/redis.sock") == "unix:///run/redis.sock"
    assert public_url("redis://:hunter22@h:6379/0") == "redis://:***@h:6379/0"
    assert public_url("rediss://bot:hunter22@h:6379/0") == "rediss://bot:***@h:6379/0"
    assert public_url("redis://h:6379/0") == "redis://h:6379/0"


# -- the store itself -------------------------------------------------------------------------


async def test_check_names_the_server_and_opens_connections_for_a_burst(copies, raw):
    assert (await copies[0].check()).startswith(("Redis ", "Valkey ", "a Redis-protocol"))
    assert len(await raw.client_list()) >= READY + 1  # the bot's, and this test's own


async def test_check_explains_an_unreachable_store_without_the_password():
    state = RedisState(f"redis://:hunter22secret@{HOST}:{free_port()}/0", None)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await state.check()
    finally:
        await state.close()
    message = str(caught.value)
    assert "could not reach the store at REDIS_URL (redis://:***@127.0.0.1:" in message
    assert "ConnectionError" in message and "unset REDIS_URL" in caught.value.fix
    assert "hunter22secret" not in message


@pytest.mark.skipif(not shutil.which("redis-server"), reason="fakeredis ignores passwords")
async def test_check_explains_a_wrong_password():
    with redis_server("redis-server") as server:
        raw = aioredis.from_url(server.url)
        await raw.config_set("requirepass", "the-right-one")
        await raw.aclose()
        state = RedisState(server.url.replace("redis://", "redis://:the-wrong-one@"), None)
        try:
            with pytest.raises(StoreUnavailable) as caught:
                await state.check()
        finally:
            await state.close()
    assert "did not let the bot in" in caught.value.detail
    assert "REDIS_URL" in caught.value.fix and "the-wrong-one" not in str(caught.value)


# -- an outage --------------------------------------------------------------------------------


async def test_an_outage_is_unknown_never_a_refusal_and_is_said_once(caplog):
    caplog.set_level(logging.DEBUG, logger="slackgpt.state.redis")
    state = RedisState(f"redis://{HOST}:{free_port()}/0", 2, timeout=0.5)
    try:
        assert await state.claim("C1:1.0") is None  # the caller claims with Slack instead
        assert await state.thread_has_bot("C1", "1.0") is None  # read the thread
        await state.remember_thread("C1", "1.0", True)  # no exception
        await state.remember_context("D1", "1.0", "C1")
        assert await state.context_of("D1", "1.0") is None
        assert await state.settle("approval:r1", "approved:U1", 60) is None  # not a yes
        assert await state.settled("approval:r1") is None
        counted = [(await state.count_request("U1"))[0] for _ in range(3)]
        assert counted == [True, True, False]  # this process still counts
    finally:
        await state.close()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "REDIS_URL" in errors[0].getMessage()
    assert "Slack's eyes reaction" in errors[0].getMessage()


async def test_the_store_coming_back_is_used_at_once(caplog):
    from fakeredis import TcpFakeServer

    caplog.set_level(logging.WARNING, logger="slackgpt.state.redis")
    port = free_port()
    state = RedisState(f"redis://{HOST}:{port}/0", None, timeout=0.5, retry_after=0.2)
    server = None
    try:
        assert await state.claim("C1:1.0") is None
        server = TcpFakeServer((HOST, port), server_type="redis")
        thread = asyncio.get_running_loop().run_in_executor(None, server.serve_forever, 0.02)
        assert await state.claim("C1:1.0") is None  # not tried again at once
        claims: list[bool | None] = []

        async def tried_again() -> bool:  # each call before retry_after (0.2 s) is None
            claims.append(await state.claim("C1:1.0"))
            return claims[-1] is not None

        await until(tried_again, what="the store to be tried again")
        assert claims[-1] is True  # the first try after the pause wins the claim
        assert await state.claim("C1:1.0") is False
    finally:
        await state.close()
        if server is not None:
            server.shutdown()
            server.server_close()
            await thread
    assert any("is back after" in r.getMessage() for r in caplog.records)


async def test_a_store_that_hangs_costs_one_timeout_not_one_per_question(caplog):
    caplog.set_level(logging.DEBUG, logger="slackgpt.state.redis")

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, never answers
        writer.close()

    server = await asyncio.start_server(silent, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    state = RedisState(f"redis://{HOST}:{port}/0", None, timeout=0.2)
    try:
        assert await state.claim("C1:1.0") is None  # one timeout
        assert await state.thread_has_bot("C1", "1.0") is None
        assert await state.claim("C1:2.0") is None
    finally:
        await state.close()
        server.close()
    # Each call that tried the store and timed out says so (an error, then "still
    # unreachable"): only the first one tried.
    said = [r.getMessage() for r in caplog.records if r.name == "slackgpt.state.redis"]
    assert len(said) == 1 and "TimeoutError" in said[0], said


async def test_a_key_of_the_wrong_type_is_not_a_lost_store(raw, redis_url, caplog):
    """Someone SET a person's counter to a string: that person is counted in this process,
    and everything else goes on in the store (it is not taken for an outage)."""
    caplog.set_level(logging.WARNING, logger="slackgpt.state.redis")
    await raw.set(PREFIX + "rate:U1", "not a sorted set")
    await raw.lpush(PREFIX + "thread:C1:1.0", "not a string")
    state = RedisState(redis_url, 5)
    try:
        assert await state.count_request("U1") == (True, 0.0)  # counted alone, not refused
        assert await state.thread_has_bot("C1", "1.0") is None  # unknown: read from Slack
        assert await state.claim("C1:2.0") is True  # the store is not taken for down
        assert await state.count_request("U2") == (True, 0.0)
        assert await raw.zcard(PREFIX + "rate:U2") == 1  # ...and still counts in the store
    finally:
        await state.close()
    said = [r.getMessage() for r in caplog.records]
    assert not any("cannot be reached" in line for line in said)
    assert any(PREFIX + "rate:U1" in line and "DEL" in line for line in said)

"""Usage counts in Redis or Valkey (``REDIS_URL``), shared by every copy of the bot.

Per period (a UTC day or month) and kind (person, channel, workspace), three sorted sets:
``slackgpt:usage:<period>:<kind>:tokens``, ``…:cost`` and ``…:answers``, scored by ID (``*``
for the workspace); so "who used the most this month" is one ``ZREVRANGE``. An answer is
counted by one script (one round trip), the budgets read by another, on a connection of the
store's own. Day keys expire after KEEP_DAYS, month keys after KEEP_MONTHS; they live as
long as the Redis keeps its data (see docs/operations.md, "Spend budgets").

While the store cannot be reached, reads say nothing was used (answers go on) and an answer's
use is lost; one error line a minute says so.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection
from redis.exceptions import NoScriptError, RedisError

from slackgpt.deadline import deadline
from slackgpt.logs import first_line
from slackgpt.state.redis import TIMEOUT, client_url
from slackgpt.usage.budget import Periods, Spent, Standing
from slackgpt.usage.store import KEEP_DAYS, KEEP_MONTHS, PERSON, REPEAT_ERROR, PersonUsage

log = logging.getLogger(__name__)

RETRY_AFTER = 2.0  # seconds after a failure before the store is tried again
# The scripts name their keys themselves (few arguments to send: an answer's count is the
# store's dearest call), as every key of the bot lives on one Redis or Valkey.
# Count one answer: ARGV day, month, person, channel, tokens, cost. Returns the standing: the
# person's tokens today, the workspace's tokens and cost this month.
ADD = """
local day, month, tokens, cost = ARGV[1], ARGV[2], tonumber(ARGV[5]), tonumber(ARGV[6])
local ids = {person = ARGV[3], channel = ARGV[4], workspace = '*'}
for kind, id in pairs(ids) do
  for period, ttl in pairs({[day] = %(day_ttl)d, [month] = %(month_ttl)d}) do
    local key = '%(prefix)susage:' .. period .. ':' .. kind .. ':'
    redis.call('ZINCRBY', key .. 'tokens', tokens, id)
    if cost > 0 then
      redis.call('ZINCRBY', key .. 'cost', cost, id)
      redis.call('PEXPIRE', key .. 'cost', ttl)
    end
    redis.call('ZINCRBY', key .. 'answers', 1, id)
    redis.call('PEXPIRE', key .. 'tokens', ttl)
    redis.call('PEXPIRE', key .. 'answers', ttl)
  end
end
%(standing)s
"""
# What counts against the budgets: ARGV day, month, person.
STANDING = """
local workspace = '%(prefix)susage:' .. ARGV[2] .. ':workspace:'
return {redis.call('ZSCORE', '%(prefix)susage:' .. ARGV[1] .. ':person:tokens', ARGV[3]),
        redis.call('ZSCORE', workspace .. 'tokens', '*'),
        redis.call('ZSCORE', workspace .. 'cost', '*')}
"""


class _Line:
    """One connection of the usage store's own, one call at a time: a script run by its SHA
    (sent whole the first time a server lacks it), straight on the connection. An answer's two
    calls so skip the client's pool, retries and callbacks: a quarter of their CPU."""

    def __init__(self, url: str, timeout: float):
        self.pool = ConnectionPool.from_url(
            client_url(url), max_connections=1, decode_responses=True,
            socket_timeout=timeout, socket_connect_timeout=timeout,
        )
        self.lock, self.timeout = asyncio.Lock(), timeout
        self.connection: Connection | None = None

    async def run(self, script: str, sha: str, *args: object) -> object:
        """The script's reply; the connection's own timeouts bound the call, and a wait for
        the connection is bounded by as much (no timer when it is free, as it mostly is)."""
        if self.lock.locked():
            async with deadline(self.timeout):
                await self.lock.acquire()
        else:
            await self.lock.acquire()
        try:
            return await self._call(script, sha, args)
        finally:
            self.lock.release()

    async def _call(self, script: str, sha: str, args: tuple[object, ...]) -> object:
        if self.connection is None:
            self.connection = await self.pool.get_connection()
        connection = self.connection
        try:
            await connection.send_command("EVALSHA", sha, 0, *args)
            try:
                return await connection.read_response()
            except NoScriptError:  # a server that restarted, or a new one
                await connection.send_command("EVAL", script, 0, *args)
                return await connection.read_response()
        except BaseException:  # a reply may be left unread: the next call starts afresh
            await connection.disconnect()
            raise

    async def close(self) -> None:
        self.connection = None
        await self.pool.aclose()


class RedisUsage:
    """:class:`~slackgpt.usage.store.UsageStore` in the Redis at ``url``: an answer's two
    calls (the budgets read before, the count after) on a connection of their own, each
    given up after ``timeout`` seconds (waiting for the connection included); the Home tab's
    reads on an ordinary client."""

    name = "usage_redis"

    def __init__(self, url: str, prefix: str = "slackgpt:", timeout: float = TIMEOUT):
        self.redis = Redis.from_url(
            client_url(url), decode_responses=True, socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        self.prefix, self.timeout = prefix, timeout
        self._line = _Line(url, timeout)
        standing = STANDING % {"prefix": prefix}
        ttls = {"day_ttl": KEEP_DAYS * 86_400_000, "month_ttl": KEEP_MONTHS * 31 * 86_400_000}
        self._add = ADD % {"prefix": prefix, "standing": standing.replace("ARGV[2]", "month")
                           .replace("ARGV[1]", "day").replace("ARGV[3]", "ids.person"), **ttls}
        self._standing = standing
        self._shas = {script: hashlib.sha1(script.encode()).hexdigest()
                      for script in (self._add, self._standing)}
        self._down_since: float | None = None
        self._retry_at = self._said_at = 0.0

    def key(self, period: str, kind: str, metric: str) -> str:
        return f"{self.prefix}usage:{period}:{kind}:{metric}"

    async def open(self) -> None:
        return None  # the store is checked at start-up with the bot's memory; connects on use

    async def standing(self, user: str, when: Periods) -> Standing:
        return _standing(await self._safely(self._run(self._standing, when.day, when.month,
                                                      user)))

    async def add(self, user: str, channel: str, spent: Spent, when: Periods) -> Standing:
        args = (when.day, when.month, user, channel, spent.tokens, repr(spent.cost))
        return _standing(await self._safely(self._run(self._add, *args)))

    async def person(self, user: str, when: Periods) -> PersonUsage:
        pipe = self.redis.pipeline(transaction=False)
        for period in (when.day, when.month):
            for metric in ("tokens", "cost"):
                pipe.zscore(self.key(period, PERSON, metric), user)
        found = await self._safely(pipe.execute())
        if not isinstance(found, list):
            return PersonUsage()
        day_t, day_c, month_t, month_c = (float(v or 0) for v in found)
        return PersonUsage(int(day_t), day_c, int(month_t), month_c)

    async def top(self, kind: str, period: str, most: int = 10) -> list[tuple[str, int]]:
        call = self.redis.zrevrange(self.key(period, kind, "tokens"), 0, most - 1, withscores=True)
        found = await self._safely(call)
        return [(str(i), int(s)) for i, s in found] if isinstance(found, list) else []

    def up(self) -> bool:
        return self._down_since is None

    async def close(self) -> None:
        await self._line.close()
        await self.redis.aclose()

    def _run(self, script: str, *args: object) -> Awaitable[object]:
        return self._line.run(script, self._shas[script], *args)

    async def _safely(self, call: Awaitable[object]) -> object | None:
        """``call``'s result, or None (said once a minute) when the store fails; after a
        failure, the store is left alone for RETRY_AFTER seconds."""
        if self._down_since is not None and time.monotonic() < self._retry_at:
            getattr(call, "close", lambda: None)()  # a coroutine not awaited: closed quietly
            return None
        try:
            result = await call
        except (TimeoutError, RedisError, OSError) as error:
            self._failed(error)
            return None
        if self._down_since is not None:
            log.warning("usage counts: the shared store (REDIS_URL) is back")
            self._down_since = None
        return result

    def _failed(self, error: BaseException) -> None:
        now = time.monotonic()
        self._retry_at = now + RETRY_AFTER
        if self._down_since is None:
            self._down_since = now
        if now - self._said_at >= REPEAT_ERROR:
            self._said_at = now
            log.error("usage counts: the shared store (REDIS_URL) failed (%s); until it is "
                      "back, answers are not counted and budgets do not hold",
                      first_line(error, kind=True))


def _standing(found: object) -> Standing:
    """The script's answer (scores or None each) as a Standing; nothing used when absent."""
    if not isinstance(found, list) or len(found) != 3:
        return Standing()
    person, tokens, cost = (float(v) if v is not None else 0.0 for v in found)
    return Standing(int(person), int(tokens), cost)

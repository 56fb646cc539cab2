"""The bot's memory in Redis or Valkey (``REDIS_URL``), shared by every copy of the bot.

:class:`RedisState` keeps :class:`~slackgpt.state.local.LocalState`'s promises, so that copies
behave as one: a claim is won by one copy only (``SET NX``), a thread learned by one copy
is known to all, a person's hourly questions are counted across copies (a sorted set per
person, trimmed by time in one Lua script), the AI pane's channel in view reaches the
copy that answers, and a decision (an approval click) settles once for all copies. Every
key starts with ``prefix`` and expires; nothing needs a backup.

When the store cannot be reached, nothing is dropped or answered twice: :meth:`claim` says
``None`` (the answerer then claims with Slack's 👀, as without a store), thread memory is
"unknown" (the thread is read from Slack), counts fall back to this process, and the pane's
channel is not remembered. One error line says so (again at most once a minute), and one
line when the store is back.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import time
from collections.abc import Callable, Coroutine
from typing import TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from slackgpt.logs import first_line, public_url
from slackgpt.state.local import CLAIM_TTL, CONTEXT_TTL, HOUR, RateLimiter

log = logging.getLogger(__name__)

T = TypeVar("T")
_DOWN = object()  # what a call returns when the store cannot be reached

PREFIX = "slackgpt:"
THREAD_TTL = 30 * 24 * HOUR  # "the bot is in this thread"; a forgotten one is read once again
SHARED_OUTSIDE_TTL = 24 * HOUR  # "the bot is not in this thread" (every copy notes its joins)
TIMEOUT = 1.0  # seconds for a connection or a reply; the answer path waits on some calls
CONNECTIONS = 64  # more callers at once wait up to TIMEOUT for a free connection
READY = 16  # connections opened at start-up: a burst of questions does not wait for them
_WRONG_TYPE = "WRONGTYPE"  # Redis: a key holds another kind of value than the command needs
REPEAT_ERROR = 60.0  # seconds between error lines while the store stays unreachable
RETRY_AFTER = 2.0  # seconds after a failure before the store is tried again (not each call)
FIX = (
    "Start Redis or Valkey there, or correct REDIS_URL (redis://HOST:6379/0, rediss:// for "
    "TLS, redis://:PASSWORD@HOST:6379/0 with a password); unset REDIS_URL to keep the memory "
    "in one process (a single copy of the bot)."
)

# Count a question in a sliding window: drop what left the window, add this one if there is
# room, keep the set no longer than the window. Returns {added, count, oldest score}.
COUNT = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local added = 0
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  count, added = count + 1, 1
end
redis.call('PEXPIRE', key, math.ceil(window * 1000))
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {added, count, oldest[2] or false}
"""


class StoreUnavailable(Exception):
    """The store at ``REDIS_URL`` cannot be used: ``detail`` says why, ``fix`` what to do."""

    def __init__(self, detail: str, fix: str):
        super().__init__(f"{detail}. {fix}")
        self.detail, self.fix = detail, fix


def client_url(url: str) -> str:
    """``url`` with a scheme the ``redis`` client knows (``valkey://`` is ``redis://``)."""
    scheme, sep, rest = url.partition("://")
    return {"valkey": "redis", "valkeys": "rediss"}.get(scheme, scheme) + sep + rest


class RedisState:
    """:class:`~slackgpt.state.local.State` in Redis or Valkey, shared by every copy of the bot.

    ``window`` and ``clock`` (wall-clock seconds, the same on every copy) shape the hourly
    count; tests shorten them.
    """

    shared = True

    def __init__(
        self,
        url: str,
        requests_per_hour: int | None,
        *,
        prefix: str = PREFIX,
        window: float = HOUR,
        clock: Callable[[], float] = time.time,
        timeout: float = TIMEOUT,
        retry_after: float = RETRY_AFTER,
    ):
        self.url, self.prefix, self.window, self.clock = url, prefix, window, clock
        self.limit = requests_per_hour
        self.pool = BlockingConnectionPool.from_url(
            client_url(url),
            max_connections=CONNECTIONS,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), 1),  # a stale pooled socket
            decode_responses=True,
        )
        self.redis = Redis.from_pool(self.pool)
        self._count = self.redis.register_script(COUNT)
        self._fallback = RateLimiter(requests_per_hour, window=window, clock=clock)
        self._owner = f"{socket.gethostname()}:{os.getpid()}"
        self._serial = itertools.count()
        self._down_since: float | None = None
        self._said_at = self._retry_at = 0.0
        self._wrong_keys: dict[str, float] = {}  # key -> when it was last said
        self.retry_after = retry_after

    # -- State ------------------------------------------------------------------------------

    async def claim(self, key: str, ttl: float = CLAIM_TTL) -> bool | None:
        """True for the first copy with ``key``; False for every later call within ``ttl``
        seconds; None when the store cannot be reached (the caller must claim another way)."""
        where = self._key("claim", key)
        taken = await self._safe(
            self.redis.set(where, self._owner, nx=True, px=max(1, int(ttl * 1000))), where
        )
        return None if taken is _DOWN else bool(taken)

    async def thread_has_bot(self, channel: str, thread_ts: str) -> bool | None:
        where = self._key("thread", channel, thread_ts)
        value = await self._safe(self.redis.get(where), where)
        return None if value in (None, _DOWN) else value == "1"

    async def remember_thread(self, channel: str, thread_ts: str, has_bot: bool) -> None:
        where = self._key("thread", channel, thread_ts)
        if has_bot:
            await self._safe(self.redis.set(where, "1", ex=int(THREAD_TTL)), where)
        else:  # never over a "1": a copy may have joined since this one read the thread
            outside = self.redis.set(where, "0", nx=True, ex=int(SHARED_OUTSIDE_TTL))
            await self._safe(outside, where)

    async def count_request(self, user: str) -> tuple[bool, float]:
        if self.limit is None:
            return True, 0.0
        now = self.clock()
        member = f"{now!r}:{self._owner}:{next(self._serial)}"
        args = [repr(now), repr(self.window), self.limit, member]
        where = self._key("rate", user)
        counted = await self._safe(self._count(keys=[where], args=args), where)
        if counted is _DOWN:  # this process counts alone (until the store is back)
            return self._fallback.allow(user)
        added, count, oldest = counted
        wait = float(oldest) + self.window - now if oldest is not None else 0.0
        if added and count < self.limit:
            return True, 0.0
        return bool(added), max(0.0, wait)

    async def remember_context(
        self, channel: str, thread_ts: str, context_channel: str | None
    ) -> None:
        where = self._key("context", channel, thread_ts)
        await self._safe(self.redis.set(where, context_channel or "", ex=int(CONTEXT_TTL)), where)

    async def context_of(self, channel: str, thread_ts: str) -> str | None:
        where = self._key("context", channel, thread_ts)
        value = await self._safe(self.redis.get(where), where)
        return None if value is _DOWN else value or None

    async def settle(self, key: str, value: str, ttl: float) -> str | None:
        where = self._key("settle", key)
        taken = self.redis.set(where, value, nx=True, px=max(1, int(ttl * 1000)))
        taken = await self._safe(taken, where)
        if taken is _DOWN:
            return None
        if taken:
            return value
        return await self.settled(key)

    async def settled(self, key: str) -> str | None:
        where = self._key("settle", key)
        value = await self._safe(self.redis.get(where), where)
        return None if value is _DOWN else value

    def up(self) -> bool:
        """False from a failed call until the store answers again (the metrics' health)."""
        return self._down_since is None

    async def close(self) -> None:
        """Close the connections (the pool is shared with the Slack budgets)."""
        await self.redis.aclose()

    # -- the store itself -------------------------------------------------------------------

    async def check(self) -> str:
        """What answers at ``url`` (e.g. ``Redis 7.2.4``), after trying each kind of command
        the bot uses; raises :class:`StoreUnavailable` with a fix naming ``REDIS_URL``."""
        where = public_url(self.url)
        try:
            await self._probe()
        except AuthenticationError as error:
            why = first_line(error, kind=True)
            detail = f"the store at REDIS_URL ({where}) did not let the bot in: {why}"
            raise StoreUnavailable(detail, "Put the right user and password in REDIS_URL "
                                   "(redis://USER:PASSWORD@HOST:6379/0).") from None
        except ResponseError as error:
            why = first_line(error, kind=True)
            detail = f"the store at REDIS_URL ({where}) refused a command: {why}"
            raise StoreUnavailable(detail, f"Let REDIS_URL's user run GET, SET, DEL, EVAL and "
                                   f"EVALSHA on keys {self.prefix}* on a writable primary "
                                   "(not a replica).") from None
        except (TimeoutError, RedisError, OSError) as error:
            why = first_line(error, kind=True)
            detail = f"could not reach the store at REDIS_URL ({where}): {why}"
            raise StoreUnavailable(detail, FIX) from None
        await self._open(READY)
        return await self._server()

    async def _probe(self) -> None:
        """Each kind of command the bot uses, once, on a key of its own."""
        await self.redis.ping()
        probe = self._key("check", self._owner)
        await self.redis.set(probe, "1", nx=True, ex=60)
        await self._count(keys=[probe + ":count"], args=[time.time(), 1.0, 1, "probe"])
        await self.redis.delete(probe, probe + ":count")

    async def _open(self, count: int) -> None:
        """Open ``count`` connections now (each costs a few round trips: connect, HELLO)."""
        opened = await asyncio.gather(
            *(self.pool.get_connection() for _ in range(count)), return_exceptions=True
        )
        for connection in opened:
            if not isinstance(connection, BaseException):
                await self.pool.release(connection)

    async def _server(self) -> str:
        """``Redis 7.2.4``, ``Valkey 8.0.1``; or a plain name where INFO is not allowed."""
        try:
            info = await self.redis.info("server")
        except RedisError:
            return "a Redis-protocol server"
        if "valkey_version" in info:
            return f"Valkey {info['valkey_version']}"
        return f"Redis {info.get('redis_version', '?')}"

    def _key(self, kind: str, *parts: str) -> str:
        return self.prefix + ":".join((kind, *parts))

    async def _safe(self, call: Coroutine[object, object, T], key: str) -> T | object:
        """``call``'s result (on ``key``), or ``_DOWN`` (logged) when it failed. After the
        store could not be reached it is left alone for ``retry_after`` seconds: a store that
        hangs would otherwise cost every question a timeout. A key that holds another kind of
        value fails its own calls only: the store is not down."""
        if self._down_since is not None and time.monotonic() < self._retry_at:
            call.close()
            return _DOWN
        try:
            result = await call
        except (TimeoutError, RedisError, OSError) as error:
            if _WRONG_TYPE in str(error):
                self._wrong_type(key)
            else:
                self._retry_at = time.monotonic() + self.retry_after
                self._unreachable(error)
            return _DOWN
        if self._down_since is not None:
            down = time.monotonic() - self._down_since
            log.warning("the shared store (REDIS_URL) is back after %.0fs", down)
            self._down_since = None
        return result

    def _wrong_type(self, key: str) -> None:
        """Say, once a minute per key, that ``key`` holds a value the bot did not put there."""
        now = time.monotonic()
        if now - self._wrong_keys.get(key, -REPEAT_ERROR) < REPEAT_ERROR:
            return
        self._wrong_keys[key] = now
        while len(self._wrong_keys) > 1000:
            self._wrong_keys.pop(next(iter(self._wrong_keys)))
        log.warning(
            "the shared store's key %s holds another kind of value than the bot keeps there; "
            "the bot works around it (e.g. counts that person in this copy). Remove it: "
            "redis-cli DEL %s", key, key,
        )

    def _unreachable(self, error: BaseException) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
        elif now - self._said_at < REPEAT_ERROR:
            log.debug("shared store still unreachable: %s", first_line(error, kind=True))
            return
        self._said_at = now
        log.error(
            "the shared store at REDIS_URL (%s) cannot be reached (%s); until it is back, claims "
            "are made with Slack's eyes reaction, threads are read from Slack, per-person limits "
            "count in each copy, the AI pane's channel in view is not remembered, and "
            "approvals cannot be given",
            public_url(self.url),
            first_line(error, kind=True),
        )

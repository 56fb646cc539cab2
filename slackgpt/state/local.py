"""What the bot remembers between events: claimed messages, its threads, per-person counts,
the channel each AI-pane thread is looking at, and decisions settled once (approvals).

:class:`LocalState` keeps it in this process (one copy of the bot). Several copies share it
through a store (see ``REDIS_URL``) that implements the same :class:`State` protocol.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol

HOUR = 3600.0
CLAIM_TTL = 24 * HOUR  # Slack redelivers an event for minutes, not days
OUTSIDE_TTL = 600.0  # how long "the bot is not in this thread" is trusted without a store
CONTEXT_TTL = 7 * 24 * HOUR  # a pane thread's channel in view; Slack resends it on a change


class State(Protocol):
    """Memory the answer path needs; every method is safe to call from many tasks."""

    shared: bool
    """True when every copy of the bot sees this memory: a claim then holds across copies."""

    async def claim(self, key: str, ttl: float = CLAIM_TTL) -> bool | None:
        """True for the first caller with ``key`` (a message); False for every later one
        within ``ttl`` seconds.

        None when a shared store cannot be reached: the caller must claim another way.
        """
        ...

    async def thread_has_bot(self, channel: str, thread_ts: str) -> bool | None:
        """True/False when known whether the bot takes part in a thread; None when unknown."""
        ...

    async def remember_thread(self, channel: str, thread_ts: str, has_bot: bool) -> None:
        """Note whether the bot takes part in a thread (True is never forgotten first)."""
        ...

    async def count_request(self, user: str) -> tuple[bool, float]:
        """Count a question by ``user`` if within their hourly limit: (allowed, wait)."""
        ...

    async def remember_context(
        self, channel: str, thread_ts: str, context_channel: str | None
    ) -> None:
        """Note the channel a person views beside an AI-pane thread (None: none any more).

        One key per thread, one value, kept for ``CONTEXT_TTL``; the latest write wins.
        """
        ...

    async def context_of(self, channel: str, thread_ts: str) -> str | None:
        """The channel last noted for an AI-pane thread, or None."""
        ...

    async def settle(self, key: str, value: str, ttl: float) -> str | None:
        """Set ``key`` to ``value`` unless it holds one already (for ``ttl`` seconds): the
        value it holds now, ``value`` when this call set it; None when a shared store cannot
        be reached. One decision for all copies (an approval click, its timeout)."""
        ...

    async def settled(self, key: str) -> str | None:
        """The value :meth:`settle` left at ``key``; None when none (or out of reach)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class _Bounded:
    """A dict that forgets its oldest entries beyond ``size`` (and expired ones on read)."""

    def __init__(self, size: int, clock: Callable[[], float]):
        self.size, self.clock = size, clock
        self._items: OrderedDict[object, tuple[object, float]] = OrderedDict()

    def get(self, key: object) -> object | None:
        value, expires = self._items.get(key, (None, float("inf")))
        if expires <= self.clock():
            del self._items[key]
            return None
        return value

    def put(self, key: object, value: object, ttl: float | None = None) -> None:
        expires = self.clock() + ttl if ttl is not None else float("inf")
        self._items[key] = (value, expires)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class RateLimiter:
    """At most ``limit`` requests per user in any sliding ``window`` seconds.

    Memory stays bounded: a user's record is dropped once none of their requests is in the
    window. ``limit=None`` allows everything and records nothing.
    """

    def __init__(
        self,
        limit: int | None,
        *,
        window: float = HOUR,
        clock: Callable[[], float] = time.monotonic,
    ):
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._last_sweep = clock()

    def __len__(self) -> int:
        """How many users are being tracked."""
        return len(self._hits)

    def allow(self, user: str) -> tuple[bool, float]:
        """Record a request by ``user`` if allowed; return (allowed, seconds until the next one).

        A refused request is not recorded. The wait is 0 while the user has requests left.
        """
        if self.limit is None:
            return True, 0.0
        now = self.clock()
        self._sweep(now)
        hits = self._hits.get(user)
        if hits is None:
            hits = self._hits[user] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False, hits[0] + self.window - now
        hits.append(now)
        wait = hits[0] + self.window - now if len(hits) >= self.limit else 0.0
        return True, wait

    def _sweep(self, now: float) -> None:
        """Forget users whose last request left the window (at most once a minute)."""
        if now - self._last_sweep < min(60.0, self.window):
            return
        self._last_sweep = now
        expired = [u for u, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]
        for user in expired:
            del self._hits[user]


class LocalState:
    """:class:`State` in this process's memory, bounded in size."""

    shared = False

    def __init__(
        self,
        requests_per_hour: int | None,
        *,
        remember: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._claims = _Bounded(remember, clock)
        self._threads = _Bounded(remember, clock)
        self._contexts = _Bounded(remember, clock)
        self._settled = _Bounded(remember, clock)
        self._limiter = RateLimiter(requests_per_hour, clock=clock)

    async def claim(self, key: str, ttl: float = CLAIM_TTL) -> bool:
        if self._claims.get(key):
            return False
        self._claims.put(key, True, ttl)
        return True

    async def thread_has_bot(self, channel: str, thread_ts: str) -> bool | None:
        value = self._threads.get((channel, thread_ts))
        return None if value is None else bool(value)

    async def remember_thread(self, channel: str, thread_ts: str, has_bot: bool) -> None:
        # Without a shared store, another copy may answer in a thread this one thinks is not
        # the bot's: "not" is trusted for a while only, and never replaces "the bot's" (a read
        # that started before the bot joined may end after).
        key = (channel, thread_ts)
        if has_bot or self._threads.get(key) is not True:
            self._threads.put(key, has_bot, None if has_bot else OUTSIDE_TTL)

    async def count_request(self, user: str) -> tuple[bool, float]:
        return self._limiter.allow(user)

    async def remember_context(
        self, channel: str, thread_ts: str, context_channel: str | None
    ) -> None:
        self._contexts.put((channel, thread_ts), context_channel or "", CONTEXT_TTL)

    async def context_of(self, channel: str, thread_ts: str) -> str | None:
        return str(self._contexts.get((channel, thread_ts)) or "") or None

    async def settle(self, key: str, value: str, ttl: float) -> str:
        held = self._settled.get(key)
        if held is None:
            self._settled.put(key, value, ttl)
            return value
        return str(held)

    async def settled(self, key: str) -> str | None:
        held = self._settled.get(key)
        return None if held is None else str(held)

    async def close(self) -> None:
        return None

"""Slack's rate limits, kept: a budget per Web API method (per channel for posting).

Slack limits each method per app per workspace (every copy of the bot shares one budget):
Tier 2 about 20 calls a minute, Tier 3 50, Tier 4 100, ``chat.postMessage`` about one a
second per channel. Calls wait for their budget instead of collecting 429s; a 429 that still
comes is honoured and makes that method's calls cost double for a while. The counters live
in a `limits <https://limits.readthedocs.io>`_ storage: this process's memory, or Redis when
``REDIS_URL`` is set, so that copies share them. While Redis cannot be reached, each copy
counts in its own memory (a warning says so): Slack calls go on, and a 429 is honoured.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from slackgpt.metrics.base import NO_METRICS, Metrics

log = logging.getLogger(__name__)

TIER_2, TIER_3, TIER_4, SPECIAL = 20, 50, 100, 600  # calls a minute; "special" is unpublished
PER_MINUTE: Mapping[str, int] = {
    "chat.startStream": TIER_2,
    "chat.stopStream": TIER_2,
    "chat.update": TIER_3,
    "reactions.add": TIER_3,
    "conversations.replies": TIER_3,
    "conversations.history": TIER_3,
    "conversations.info": TIER_3,
    "conversations.members": TIER_4,
    "apps.connections.open": TIER_3,
    "agents.sessions.setStatus": TIER_3,
    "agents.sessions.rename": TIER_3,
    "chat.appendStream": TIER_4,
    "chat.postEphemeral": TIER_4,
    "users.info": TIER_4,
    "assistant.threads.setTitle": TIER_4,
    "assistant.threads.setSuggestedPrompts": TIER_4,
    "views.publish": TIER_4,
    "assistant.threads.setStatus": SPECIAL,
    "assistant.search.context": SPECIAL,
    "assistant.search.info": TIER_2,
    "chat.postMessage": SPECIAL,
    "auth.test": SPECIAL,
}
# Posting: "1 per second per channel, short bursts allowed": 5 in any 5 seconds.
PER_CHANNEL: Mapping[str, tuple[int, float]] = {"chat.postMessage": (5, 5.0)}
PENALTY_SECONDS = 600.0  # how long a 429 makes its method cost double
MAX_WAIT = 60.0
RETRY_SHARED = 5.0  # seconds of counting alone after the shared storage failed
_SCHEMES = {"redis": "redis", "rediss": "rediss", "valkey": "redis", "valkeys": "rediss"}


def storage_for(
    redis_url: str | None, pool: object | None = None, prefix: str = "slackgpt:"
) -> Storage:
    """Where the counters live: Redis (shared by every copy) or this process's memory.

    ``pool``: a ``redis.asyncio`` connection pool to share (the bot's memory uses it too);
    keys start with ``prefix``. ``valkey://`` goes through the ``redis`` client as well.
    """
    if not redis_url:
        return MemoryStorage()
    scheme, _, rest = redis_url.partition("://")
    scheme = _SCHEMES.get(scheme, f"redis+{scheme}")  # unix:// is limits' redis+unix://
    options = {"connection_pool": pool} if pool is not None else {}
    uri = f"async+{scheme}://{rest}"
    return RedisStorage(uri, implementation="redispy", key_prefix=f"{prefix}limits", **options)


def budgets(
    redis_url: str | None, pool: object | None = None, *, limited: bool = True,
    metrics: Metrics = NO_METRICS,
) -> Quota:
    """Slack's budgets, in Redis when ``redis_url`` is set (``pool``: the connections the
    bot's memory uses too); ``limited=False`` for a Slack without limits (benchmarks)."""
    if not limited:
        return Quota(storage_for(redis_url, pool), per_minute={}, per_channel={}, metrics=metrics)
    return Quota(storage_for(redis_url, pool), metrics=metrics)


class Quota:
    """Budgets per Slack method; ``window`` (seconds) is Slack's minute (tests shorten it).

    ``metrics`` hears of every wait for a budget, and (through the door's client, see
    :mod:`~slackgpt.slack.wire`) of every call.
    """

    def __init__(
        self,
        storage: Storage | None = None,
        *,
        window: float = 60.0,
        per_minute: Mapping[str, int] = PER_MINUTE,
        per_channel: Mapping[str, tuple[int, float]] = PER_CHANNEL,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics = NO_METRICS,
    ):
        self.storage = storage or MemoryStorage()
        self.metrics = metrics
        self._limiter = MovingWindowRateLimiter(self.storage)
        self._local = MovingWindowRateLimiter(MemoryStorage())  # while the storage is down
        self._alone_until: float | None = None
        scale = window / 60.0
        seconds = max(1, round(window))
        self._methods = {m: RateLimitItemPerSecond(n, seconds) for m, n in per_minute.items()}
        self._channels = {
            m: RateLimitItemPerSecond(n, max(1, round(s * scale)))
            for m, (n, s) in per_channel.items()
        }
        self._per_minute, self._window = dict(per_minute), window
        self._penalties: dict[str, float] = {}
        self._busy: Counter[str] = Counter()
        self.clock = clock

    async def take(self, method: str, channel: str | None = None) -> None:
        """Use one call of ``method`` (in ``channel``), waiting for the budget if need be."""
        began: float | None = None
        for item, keys in self._items(method, channel):
            while not await self._use("hit", item, keys, cost=self.cost(method)):
                began = began or time.monotonic()
                stats = await self._use("get_window_stats", item, keys)
                await asyncio.sleep(min(MAX_WAIT, max(0.05, stats.reset_time - time.time())))
        if began is not None:
            self.metrics.budget_wait(method, time.monotonic() - began)

    async def reserve(
        self, method: str, channel: str | None = None, *, keep: float = 0.0
    ) -> bool:
        """Use one call of ``method`` if the budget has it now; False (nothing used) if not.

        ``keep``: the share of the method's budget to leave for others (e.g. 0.4 keeps 40 %
        of a minute's calls for answers when a call is only to learn something).
        """
        items = self._items(method, channel)
        # A hit is a test-and-use on its own; the test first only keeps a refused second
        # budget (the channel's) from using up the first.
        if len(items) > 1 and not await self.available(method, channel):
            return False
        if not await self._spare(method, keep):
            return False
        for item, keys in items:
            if not await self._use("hit", item, keys, cost=self.cost(method)):
                return False
        return True

    async def _spare(self, method: str, keep: float) -> bool:
        item = self._methods.get(method)
        if not keep or item is None:
            return True
        stats = await self._use("get_window_stats", item, (method,))
        return stats.remaining - self.cost(method) >= keep * item.amount

    async def available(self, method: str, channel: str | None = None) -> bool:
        """True when a call of ``method`` would not have to wait now."""
        for item, keys in self._items(method, channel):
            if not await self._use("test", item, keys, cost=self.cost(method)):
                return False
        return True

    def interval(self, method: str, base: float) -> float:
        """Seconds between two updates of one message by ``method``, so that the messages
        being updated at once (see :meth:`busy`) share its budget; at least ``base``."""
        per_minute = self._per_minute.get(method)
        if not per_minute:
            return base
        return max(base, self._busy[method] * self._window / per_minute * self.cost(method))

    def busy(self, method: str, change: int) -> None:
        """Count a message that starts (+1) or stops (-1) being updated with ``method``."""
        self._busy[method] = max(0, self._busy[method] + change)

    def penalize(self, method: str, retry_after: float) -> None:
        """Slack answered 429 anyway: its budget is smaller than thought, for a while."""
        log.warning("Slack rate-limited %s (retry after %gs)", method, retry_after)
        self._penalties[method] = self.clock() + max(PENALTY_SECONDS, retry_after)

    async def _use(self, op: str, item: RateLimitItem, keys: tuple, **options: int) -> Any:
        """The limiter's ``op`` (hit, test, get_window_stats) on the shared counters; on this
        process's own while the shared storage fails (tried again every RETRY_SHARED s)."""
        if self._alone_until is None or self.clock() >= self._alone_until:
            try:
                result = await getattr(self._limiter, op)(item, *keys, **options)
            except Exception as error:  # a budget must never stop the bot's Slack calls
                if self._alone_until is None:
                    kind = type(error).__name__
                    log.warning("Slack budgets: the shared storage failed (%s: %s); each copy "
                                "counts its own calls until it is back", kind, error)
                self._alone_until = self.clock() + RETRY_SHARED
            else:
                if self._alone_until is not None:
                    log.warning("Slack budgets: the shared storage is back")
                    self._alone_until = None
                return result
        return await getattr(self._local, op)(item, *keys, **options)

    def cost(self, method: str) -> int:
        """What one call of ``method`` uses of its budget now (2 for a while after a 429)."""
        return 2 if self._penalties.get(method, 0.0) > self.clock() else 1

    def _items(self, method: str, channel: str | None) -> list[tuple[RateLimitItem, tuple]]:
        items: list[tuple[RateLimitItem, tuple]] = []
        if method in self._methods:
            items.append((self._methods[method], (method,)))
        if channel and method in self._channels:
            items.append((self._channels[method], (method, channel)))
        return items

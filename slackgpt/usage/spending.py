"""Spend budgets on the answer path: before the model, whether a person may still spend (one
store round trip, nothing counted); after it, what the answer used, counted, and the one-time
notice at 80 %.

:class:`Spending` is all the answerer holds. Usage is counted for every answer (the Home tab
shows it); with no budget set nothing is read before the model, and a store that cannot be
opened leaves usage uncounted instead of stopping the bot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType

from slackgpt.config.operations import Limits, Prices
from slackgpt.config.profiles import DEFAULT
from slackgpt.config.settings import Settings
from slackgpt.metrics.base import NO_METRICS, Metrics
from slackgpt.model.client import ModelClient
from slackgpt.state.local import State
from slackgpt.usage import budget
from slackgpt.usage.meter import Meter
from slackgpt.usage.redis_store import RedisUsage
from slackgpt.usage.store import SqliteUsage, UsageStore, UsageUnavailable

log = logging.getLogger(__name__)


@dataclass
class Spending:
    """The budgets (``limits``) kept in ``store`` (None: no budget is set), the prices,
    the metrics; ``state`` remembers who was told at 80 % (across copies with a store)."""

    limits: Limits = field(default_factory=Limits)
    store: UsageStore | None = None
    state: State | None = None
    prices: Prices = field(default_factory=lambda: MappingProxyType({}))
    metrics: Metrics = NO_METRICS
    clock: Callable[[], float] = time.time
    measuring: bool = False  # count tokens for the metrics even without budgets
    _when: budget.Periods | None = field(default=None, init=False, repr=False)  # until 00:00

    @classmethod
    def for_settings(
        cls, settings: Settings, state: State, metrics: Metrics, measuring: bool
    ) -> Spending:
        """As the bot runs it: usage counted in REDIS_URL's Redis when it is set, else in
        USAGE_FILE (what the Home tab shows, and what budgets hold against)."""
        ops, url = settings.operations, settings.redis_url
        store: UsageStore = RedisUsage(url) if url else SqliteUsage(ops.usage_file)
        metrics.watch_store(store.name, store.up)
        return cls(ops.limits, store, state, ops.prices, metrics, measuring=measuring)

    async def open(self) -> None:
        """Open the store. With a budget it must open (raises UsageUnavailable with the fix);
        without one, a store that cannot is said once and usage goes uncounted."""
        if self.store is None:
            return
        try:
            await self.store.open()
        except UsageUnavailable as error:
            if self.limits.any:
                raise
            log.warning("usage is not counted (the Home tab shows none): %s", error)
            self.store = None

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()

    async def refusal(self, user: str) -> str | None:
        """Why ``user`` is not answered (a budget is used up), or None. One store read with
        a budget (none without); nothing is counted."""
        if self.store is None or not self.limits.any:
            return None
        now, when = self._now()
        verdict = budget.verdict(self.limits, await self.store.standing(user, when), when)
        if not verdict.over:
            return None
        log.info("not asking the model for %s: the %s budget is used up", user, verdict.limit)
        self.metrics.budget_event("refused", str(verdict.limit))
        return budget.refusal(verdict, now)

    def meter(
        self, model: ModelClient, profile: str = DEFAULT, prices: Prices | None = None
    ) -> ModelClient:
        """``model`` for one answer in a conversation of ``profile``, its use counted (the
        model itself when nothing counts); ``prices``: the profiles file's, over MODEL_PRICES."""
        if self.store is None and not self.measuring:
            return model
        table = {**self.prices, **prices} if prices else self.prices
        return Meter(model, table, self.metrics, profile)  # type: ignore[return-value]

    async def settle(self, user: str, channel: str, model: ModelClient) -> str | None:
        """Count what the answer used (``model``: from :meth:`meter`); the notice to tell
        ``user`` privately when it brought a budget to 80 % (once a period), else None."""
        spent = model.spent if isinstance(model, Meter) else None
        if self.store is None or spent is None or not spent.tokens:
            return None
        now, when = self._now()
        verdict = budget.verdict(self.limits, await self.store.add(user, channel, spent, when),
                                 when)
        if not verdict.near or not await self._first_time(user, verdict, now):
            return None
        self.metrics.budget_event("notified", str(verdict.limit))
        return budget.notice(verdict, now)

    def _now(self) -> tuple[float, budget.Periods]:
        """The clock, and the day and month it counts in (worked out once a day)."""
        now = self.clock()
        if self._when is None or not now < self._when.day_ends:
            self._when = budget.periods(now)
        return now, self._when

    async def _first_time(self, user: str, verdict: budget.Verdict, now: float) -> bool:
        """True the first time ``user`` is told about this budget in its period."""
        if self.state is None:
            return True
        period = int(verdict.resets)
        told = f"budget-told:{verdict.limit}:{period}:{user}"
        return await self.state.claim(told, ttl=max(60.0, verdict.resets - now)) is not False

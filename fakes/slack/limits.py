"""Slack's Web API rate limits for FakeSlack, as token buckets.

Slack limits each method per app per workspace (every copy of a bot shares one allowance)
in tiers of calls a minute, tolerating "occasional bursts"; ``chat.postMessage`` also allows
about one message a second per channel. A :class:`Limit` is a bucket holding ``burst`` calls
(by default a whole minute's allowance) that refills at ``per_minute`` a minute. Sources:
Slack's rate-limit guide and the ``rate_limits`` field of each method page, read from the
vendored reference (:mod:`fakes.slack.reference`).
Numbers Slack does not publish (the special tier, the burst sizes) are guesses, marked so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fakes.slack import reference
from fakes.slack.reference import Reference


@dataclass(frozen=True)
class Limit:
    """``per_minute`` calls a minute on average, up to ``burst`` at once (None: per_minute)."""

    per_minute: float
    burst: float | None = None

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.capacity < 1:
            raise ValueError("a limit needs per_minute > 0 and room for at least one call")

    @property
    def capacity(self) -> float:
        """How many calls may come at once after a quiet spell."""
        return self.per_minute if self.burst is None else self.burst


TIERS = {1: Limit(1), 2: Limit(20), 3: Limit(50), 4: Limit(100)}
SPECIAL = Limit(600)  # "special" tier: generous, numbers unpublished (a guess)

# Per method, per workspace: the tier on each method page (``rate_limits``: t1..t4; t5 is
# "special"). conversations.replies says t3, the tier of internal apps (see the notes for
# distributed ones).
TIER_OF_PAGE = {"t1": TIERS[1], "t2": TIERS[2], "t3": TIERS[3], "t4": TIERS[4], "t5": SPECIAL}


def method_limits(ref: Reference | None = None) -> dict[str, Limit]:
    """Each vendored method's limit, from its page's ``rate_limits`` (Slack's reference)."""
    pages = (ref or reference.load()).methods.values()
    return {page.name: TIER_OF_PAGE[page.tier] for page in pages if page.tier in TIER_OF_PAGE}


# Per method, per channel: "1 per second, short bursts >1 allowed" (burst size a guess).
CHANNEL_LIMITS: dict[str, Limit] = {"chat.postMessage": Limit(60, burst=5)}


class _Bucket:
    def __init__(self, limit: Limit, window: float, now: float) -> None:
        self.capacity, self.rate = limit.capacity, limit.per_minute / window
        self.tokens, self.at = self.capacity, now

    def wait(self, now: float) -> float:
        """Seconds until a call fits (0.0: it fits now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) / self.rate


class RateLimiter:
    """Slack's allowances for one workspace, shared by every client of the fake.

    ``window`` is how many seconds a "minute" lasts (6.0 runs ten times faster than Slack);
    ``limits`` and ``channel_limits`` override or extend :func:`method_limits` and
    :data:`CHANNEL_LIMITS` (a ``None`` value lifts a method's limit). Refused calls use no
    allowance. Methods in neither table are not limited.
    """

    def __init__(
        self,
        *,
        window: float = 60.0,
        limits: Mapping[str, Limit | None] | None = None,
        channel_limits: Mapping[str, Limit | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window <= 0:
            raise ValueError("window must be positive")
        self.window, self.clock = window, clock
        self.limits: dict[str, Limit | None] = {**method_limits(), **(limits or {})}
        self.channel_limits: dict[str, Limit | None] = {**CHANNEL_LIMITS, **(channel_limits or {})}
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def admit(self, method: str, params: Mapping[str, Any]) -> float:
        """0.0 if the call goes ahead (its allowance used), else seconds until one would."""
        now = self.clock()
        buckets = [self._bucket(method, "", self.limits.get(method), now)]
        channel = str(params.get("channel") or params.get("channel_id") or "")
        if channel:
            buckets.append(self._bucket(method, channel, self.channel_limits.get(method), now))
        found = [b for b in buckets if b is not None]
        wait = max((b.wait(now) for b in found), default=0.0)
        if wait == 0.0:
            for bucket in found:
                bucket.tokens -= 1
        return wait

    def reset(self) -> None:
        """Give every method its full allowance back."""
        self._buckets.clear()

    def _bucket(self, method: str, key: str, limit: Limit | None, now: float) -> _Bucket | None:
        if limit is None:
            return None
        if (method, key) not in self._buckets:
            self._buckets[(method, key)] = _Bucket(limit, self.window, now)
        return self._buckets[(method, key)]

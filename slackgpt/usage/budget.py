"""Spend budgets, decided: what an answer cost, which period it counts in, whether a person is
within, near (80 %) or over a budget, when it resets, and the sentences that say so.

Pure: no store, no clock (``now`` is passed in, seconds since the epoch). Days and months
are UTC: a person's day resets at 00:00 UTC, the workspace's month on the 1st.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slackgpt.config.operations import Limits, Prices

NEAR = 0.8  # the share of a budget at which a person is told, once
PERSON_DAY, WORKSPACE_TOKENS, WORKSPACE_COST = "person_day", "workspace_tokens", "workspace_cost"
LIMITS = (PERSON_DAY, WORKSPACE_TOKENS, WORKSPACE_COST)
WORKSPACE = "*"  # the id under which the workspace's own totals are kept


@dataclass(frozen=True)
class Spent:
    """What model requests used: tokens, their cost (0 without a price), and whether the
    tokens were estimated because the server reported none."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    estimated: bool = False

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Spent) -> Spent:
        return Spent(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost + other.cost,
            self.estimated or other.estimated,
        )


@dataclass(frozen=True)
class Standing:
    """What counts against the budgets now: a person's tokens today, the workspace's tokens
    and cost this month."""

    person_today: int = 0
    workspace_tokens: int = 0
    workspace_cost: float = 0.0


@dataclass(frozen=True)
class Periods:
    """The day and month a moment counts in (``2026-05-03``, ``2026-05``) and when each
    ends (seconds since the epoch)."""

    day: str
    month: str
    day_ends: float
    month_ends: float


def periods(now: float) -> Periods:
    """The UTC day and month of ``now``."""
    moment = datetime.fromtimestamp(now, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    return Periods(
        day.strftime("%Y-%m-%d"),
        month.strftime("%Y-%m"),
        (day + timedelta(days=1)).timestamp(),
        next_month.timestamp(),
    )


@dataclass(frozen=True)
class Verdict:
    """The budget closest to its end: ``limit`` (None: no budget is set), how much of it is
    ``used`` of ``budget``, and when it resets."""

    limit: str | None = None
    used: float = 0.0
    budget: float = 0.0
    resets: float = 0.0

    @property
    def share(self) -> float:
        return self.used / self.budget if self.budget else 0.0

    @property
    def over(self) -> bool:
        return self.limit is not None and self.used >= self.budget

    @property
    def near(self) -> bool:
        return self.limit is not None and self.share >= NEAR


def verdict(limits: Limits, standing: Standing, when: Periods) -> Verdict:
    """The set budget with the largest share used (the first of equals), or no budget."""
    candidates = [
        Verdict(PERSON_DAY, standing.person_today, limits.person_tokens_per_day, when.day_ends),
        Verdict(WORKSPACE_TOKENS, standing.workspace_tokens, limits.workspace_tokens_per_month,
                when.month_ends),
        Verdict(WORKSPACE_COST, standing.workspace_cost, limits.workspace_cost_per_month,
                when.month_ends),
    ]
    chosen = [v for v in candidates if v.budget is not None]
    return max(chosen, key=lambda v: v.share, default=Verdict())


def cost_of(prices: Prices, model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """What the tokens cost at ``model``'s price per million (0 when it has none)."""
    price = prices.get(model)
    if price is None:
        return 0.0
    return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000


def refusal(v: Verdict, now: float) -> str:
    """Why a person over a budget is not answered, and when they can ask again."""
    again = when_text(v.resets, now)
    if v.limit == PERSON_DAY:
        return (f"You've used your daily budget of {v.budget:,.0f} tokens, so I won't ask the "
                f"model for now. You can ask again {again}.")
    return ("This workspace has used its monthly budget for me, so I won't ask the model for "
            f"now. Questions can be asked again {again}; an admin can raise the budget sooner.")


def notice(v: Verdict, now: float) -> str:
    """What a person is told once a budget is 80 % used (or all of it, by their last one)."""
    resets = when_text(v.resets, now)
    if v.limit == PERSON_DAY:
        if v.over:
            return (f"You've now used all of your daily budget of {v.budget:,.0f} tokens; you "
                    f"can ask again {resets}.")
        return (f"Heads-up: you've used {math.floor(v.share * 100)}% of your daily budget of "
                f"{v.budget:,.0f} tokens. It resets {resets}.")
    share = "all" if v.over else f"{math.floor(v.share * 100)}%"
    return (f"Heads-up: this workspace has used {share} of its monthly budget for me. It "
            f"resets {resets}.")


def when_text(at: float, now: float) -> str:
    """``<!date^…|Mon 4 May 00:00 UTC> (in about 5 hours)``: shown in the reader's own time
    zone by Slack, with a UTC fallback."""
    moment = datetime.fromtimestamp(at, UTC)
    fallback = moment.strftime("%a %-d %b %H:%M UTC")
    token = f"<!date^{int(at)}^{{date_short_pretty}} at {{time}}|{fallback}>"
    return f"{token} ({wait_words(at - now)})"


def wait_words(seconds: float) -> str:
    """``in about 5 hours``, rounded up to minutes, hours or days."""
    minutes = max(1, math.ceil(seconds / 60))
    if minutes < 60:
        return "in about a minute" if minutes == 1 else f"in about {minutes} minutes"
    hours = round(minutes / 60)
    if hours < 48:
        return "in about an hour" if hours == 1 else f"in about {hours} hours"
    return f"in about {round(hours / 24)} days"

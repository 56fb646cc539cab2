"""The spend budgets' decisions: periods and resets, verdicts, cost, the sentences."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from slackgpt.config.operations import Limits, Price
from slackgpt.usage import budget as b


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


def test_days_and_months_are_utc_and_end_where_they_should():
    when = b.periods(at(2026, 12, 31, 23, 59, 59))
    assert (when.day, when.month) == ("2026-12-31", "2026-12")
    assert when.day_ends == at(2027, 1, 1) == when.month_ends
    february = b.periods(at(2028, 2, 29, 12))  # a leap day
    assert (february.day_ends, february.month_ends) == (at(2028, 3, 1), at(2028, 3, 1))
    assert b.periods(at(2026, 5, 3)).day == "2026-05-03"  # midnight counts in the new day


def test_the_verdict_is_the_budget_most_used():
    when = b.periods(at(2026, 5, 3, 10))
    limits = Limits(person_tokens_per_day=1000, workspace_tokens_per_month=10_000,
                    workspace_cost_per_month=5.0)
    calm = b.verdict(limits, b.Standing(100, 1000, 0.5), when)
    assert calm.limit == b.PERSON_DAY and not calm.near and not calm.over
    near = b.verdict(limits, b.Standing(100, 8_000, 0.5), when)
    assert (near.limit, near.near, near.over) == (b.WORKSPACE_TOKENS, True, False)
    assert near.resets == when.month_ends
    over = b.verdict(limits, b.Standing(100, 8_000, 5.0), when)
    assert (over.limit, over.over) == (b.WORKSPACE_COST, True)
    person = b.verdict(limits, b.Standing(1000), when)
    assert person.over and person.resets == when.day_ends


def test_no_budget_means_no_verdict():
    verdict = b.verdict(Limits(), b.Standing(10**9, 10**9, 10**9), b.periods(0))
    assert verdict.limit is None and not verdict.near and not verdict.over
    assert not Limits().any and Limits(workspace_cost_per_month=1.0).any


def test_cost_comes_from_the_price_table_per_million():
    prices = MappingProxyType({"m": Price(input=0.25, output=2.0)})
    assert b.cost_of(prices, "m", 1_000_000, 500_000) == pytest.approx(1.25)
    assert b.cost_of(prices, "other", 10**6, 10**6) == 0.0
    spent = b.Spent(10, 5, 0.5) + b.Spent(1, 2, 0.25, estimated=True)
    assert (spent.tokens, spent.cost, spent.estimated) == (18, 0.75, True)


def test_the_refusal_says_which_budget_and_when_it_resets():
    now = at(2026, 5, 3, 19)
    when = b.periods(now)
    person = b.verdict(Limits(50_000), b.Standing(50_000), when)
    text = b.refusal(person, now)
    assert "daily budget of 50,000 tokens" in text and "in about 5 hours" in text
    assert f"<!date^{int(at(2026, 5, 4))}^" in text and "|Mon 4 May 00:00 UTC>" in text
    workspace = b.verdict(Limits(workspace_tokens_per_month=10), b.Standing(0, 10), when)
    assert "workspace has used its monthly budget" in b.refusal(workspace, now)
    assert "in about 28 days" in b.refusal(workspace, now)


def test_the_notice_says_how_much_is_used():
    now = at(2026, 5, 3, 23, 30)
    when = b.periods(now)
    near = b.verdict(Limits(1000), b.Standing(857), when)
    assert near.near and "used 85% of your daily budget of 1,000 tokens" in b.notice(near, now)
    assert "in about 30 minutes" in b.notice(near, now)
    spent = b.verdict(Limits(1000), b.Standing(1200), when)
    assert "now used all of your daily budget" in b.notice(spent, now)
    month = b.verdict(Limits(workspace_cost_per_month=10.0), b.Standing(0, 0, 9.0), when)
    assert "workspace has used 90% of its monthly budget" in b.notice(month, now)


@pytest.mark.parametrize(("seconds", "words"), [
    (0, "in about a minute"), (59, "in about a minute"), (61, "in about 2 minutes"),
    (3600, "in about an hour"), (5 * 3600 - 30, "in about 5 hours"),
    (3 * 86400, "in about 3 days"),
])
def test_waits_in_words(seconds, words):
    assert b.wait_words(seconds) == words

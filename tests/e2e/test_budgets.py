"""Spend budgets, with the real bot against the fakes: a person over their daily budget is
refused privately and the model is not asked; the 80 % notice comes once; copies share the
counts through Redis; the counts outlive a restart in the SQLite file."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from fakes.openai import Reply
from slackgpt.config.operations import Limits
from slackgpt.usage.budget import Spent, periods
from slackgpt.usage.store import SqliteUsage
from tests.helpers import until_handled, watch

pytestmark = pytest.mark.timeout(40)


def budgets(settings, path: Path, **limits: int):
    """The operations part of the settings with these budgets, counted in ``path``."""
    return replace(settings.operations, limits=Limits(**limits), usage_file=path)


async def spend(path: Path, user: str, tokens: int) -> None:
    """What ``user`` already spent today, written where the bot will read it."""
    store = SqliteUsage(path)
    await store.open()
    try:
        await store.add(user, "C0", Spent(tokens, 0), periods(time.time()))
    finally:
        await store.close()


async def ask(slack, bots, text: str, user: str = "U1") -> dict:
    """A mention by ``user``, handled (answered or refused) by one of ``bots``."""
    watched = watch([bot.answerer for bot in bots], "answer")
    question = await slack.mention("C1", f"<@{slack.bot_user_id}> {text}", user=user)
    await until_handled(watched, 1, timeout=10)
    return question


async def test_over_the_daily_budget_a_person_is_refused_and_the_model_not_asked(
    start_bot, settings, slack, llm, tmp_path
):
    path = tmp_path / "usage.sqlite3"
    await spend(path, "U1", 1000)
    bot = await start_bot(operations=budgets(settings, path, person_tokens_per_day=1000))
    question = await ask(slack, [bot], "one more?")
    assert llm.requests == []  # nothing was sent to the model
    [told] = slack.ephemerals
    assert told.user == "U1" and told.thread_ts == question["ts"]
    assert "daily budget of 1,000 tokens" in told.text and "<!date^" in told.text
    assert not slack.bot_replies("C1", question["ts"])  # nothing in the thread for others
    await ask(slack, [bot], "and you?", user="U2")  # someone else still may
    assert len(llm.requests) == 1


async def test_at_80_percent_a_person_is_told_once(start_bot, settings, slack, llm, tmp_path):
    path = tmp_path / "usage.sqlite3"
    await spend(path, "U1", 79_990)  # an answer of 10 tokens or more brings 80 %
    bot = await start_bot(operations=budgets(settings, path, person_tokens_per_day=100_000))
    llm.script(Reply(text="First."), Reply(text="Second."))
    first = await ask(slack, [bot], "first")
    await ask(slack, [bot], "second")
    assert len(llm.requests) == 2  # both answered
    [told] = slack.ephemerals
    assert told.thread_ts == first["ts"] and "you've used 8" in told.text
    assert "% of your daily budget of 100,000 tokens" in told.text


async def test_copies_share_the_counts_through_redis(start_bot, settings, slack, llm, redis_url):
    operations = budgets(settings, Path("/nonexistent/unused"), person_tokens_per_day=1)
    one = await start_bot(redis_url=redis_url, operations=operations)
    two = await start_bot(redis_url=redis_url, operations=operations)
    answered_by = [watch([one.answerer], "answer"), watch([two.answerer], "answer")]
    await ask(slack, [one, two], "first")  # Slack hands the events to the copies in turn
    await ask(slack, [one, two], "second")
    assert [w.done for w in answered_by] == [1, 1]  # each copy took one
    assert len(llm.requests) == 1  # the second copy knew the first one's count
    assert "daily budget of 1 tokens" in slack.ephemerals[0].text


async def test_the_counts_outlive_a_restart(start_bot, settings, slack, llm, tmp_path):
    operations = budgets(settings, tmp_path / "usage.sqlite3", person_tokens_per_day=1)
    first = await start_bot(operations=operations)
    await ask(slack, [first], "first")
    await first.close()  # the bot stops; a new one starts on the same file
    second = await start_bot(operations=operations)
    await ask(slack, [second], "second")
    assert len(llm.requests) == 1
    assert "daily budget of 1 tokens" in slack.ephemerals[0].text

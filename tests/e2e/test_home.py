"""The Home tab, with the real bot against the fakes: after a question, its asker opens the tab
and sees the tokens it used today against their limit (usage counted in the SQLite file, or
in a real Redis); an operator (ADMIN_USERS) also sees the top people and channels, nobody
else does; the profile of the channel in view; the store gone is said; a
person opening the tab again and again costs one views.publish. Usage is counted with no
budget too."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from fakes.openai import Reply
from fakes.redis_server import start_redis
from slackgpt.config.operations import Limits
from slackgpt.config.profiles import Profile, Profiles
from slackgpt.usage.budget import periods
from tests.helpers import until_handled, watch

pytestmark = pytest.mark.timeout(40)

ADMIN = "U9"


def budgets(settings, path: Path, **limits: int):
    """The operations part of the settings with these budgets, counted in ``path``."""
    return replace(settings.operations, limits=Limits(**limits), usage_file=path)


async def ask(slack, bot, user: str, channel: str) -> None:
    """A mention by ``user`` in ``channel``, answered and counted."""
    asked = watch([bot.answerer], "answer")
    await slack.mention(channel, f"<@{slack.bot_user_id}> how are you?", user=user)
    await until_handled(asked, 1, timeout=10)


async def open_home(slack, bot, user: str) -> str:
    """``user`` opens the Home tab; what they read there once the bot has handled it."""
    opened = watch([bot.home], "opened")
    await slack.open_home(user, tab="home")
    await until_handled(opened, 1)
    return slack.home_text(user)


async def today(bot, user: str) -> int:
    """The tokens the bot counted for ``user`` today, in its own store."""
    return (await bot.spending.store.person(user, periods(time.time()))).today_tokens


@pytest.mark.parametrize("kept", ["sqlite", "redis"])
async def test_a_person_sees_their_own_tokens_today_and_an_operator_everyones(
    kept, request, start_bot, settings, slack, llm, tmp_path
):
    redis_url = request.getfixturevalue("redis_url") if kept == "redis" else None
    operations = budgets(settings, tmp_path / "usage.sqlite3", person_tokens_per_day=100_000)
    bot = await start_bot(operations=operations, redis_url=redis_url,
                          admin_users=frozenset({ADMIN}))
    llm.script(Reply(text="Fine, thanks."), Reply(text="Fine too."))
    await ask(slack, bot, "U1", "C1")
    await ask(slack, bot, "U2", "C2")
    mine = await today(bot, "U1")
    assert mine > 0

    text = await open_home(slack, bot, "U1")
    assert f"Your tokens today: {mine:,} of 100,000 tokens (0%), resets <!date^" in text
    assert f"*Today* (UTC)\n{mine:,} tokens" in text
    assert "U2" not in text and "<#C" not in text and "Top people" not in text

    everyone = await open_home(slack, bot, ADMIN)
    assert "Everyone this month (operators only)" in everyone
    assert f"<@U1>: {mine:,} tokens" in everyone and "<@U2>: " in everyone
    assert f"<#C1>: {mine:,} tokens" in everyone and "<#C2>: " in everyone
    assert len(slack.calls_to("views.publish")) == 2  # one for each opening
    assert all(call.response["ok"] for call in slack.calls_to("views.publish"))


async def test_without_a_budget_usage_is_counted_all_the_same(slack, llm, bot):
    await ask(slack, bot, "U1", "C1")
    used = await today(bot, "U1")
    text = await open_home(slack, bot, "U1")
    assert used > 0 and f"{used:,} tokens" in text
    assert "isn't counted" not in text and "Your tokens today: no limit" in text
    assert "No channel in view, so here is the `default` profile" in text
    assert f"*Model*\n`{bot.settings.openai_model}`" in text


async def test_opening_the_tab_again_and_again_publishes_once(slack, llm, bot):
    opened = watch([bot.home], "opened")
    for _ in range(5):
        await slack.open_home("U1", tab="home")
    await until_handled(opened, 5)
    assert len(slack.calls_to("views.publish")) == 1  # the view of moments ago stands
    await slack.acked(await slack.open_home("U1"))  # the Messages tab still offers prompts
    await slack.wait_for(lambda: slack.calls_to("assistant.threads.setSuggestedPrompts"))
    assert len(slack.calls_to("views.publish")) == 1


async def test_the_profile_of_the_channel_in_view(slack, llm, start_bot, settings):
    support = Profile(name="support", channels=frozenset({"C7"}), model="support-model",
                      mcp_servers=(), allowed_users=frozenset({"U2"}))
    bot = await start_bot(profiles=Profiles(named=(support,)))
    viewing = watch([bot.pane], "viewing")
    await slack.change_app_context("C7", user="U1")
    await until_handled(viewing, 1)
    text = await open_home(slack, bot, "U1")
    assert "In <#C7>, the channel you're looking at, I answer with the `support` profile." in text
    assert "*Model*\n`support-model`" in text and "*MCP servers*\nnone" in text
    assert "*Who may ask*\n1 person, not you" in text and "only answer the people" in text


async def test_with_the_store_gone_the_tab_says_what_it_cannot_show(
    slack, llm, start_bot, settings, tmp_path
):
    server = start_redis()
    try:
        operations = budgets(settings, tmp_path / "unused", person_tokens_per_day=1_000)
        bot = await start_bot(operations=operations, redis_url=server.url,
                              admin_users=frozenset({ADMIN}))
    finally:
        server.stop()  # the shared store goes away while the bot runs
    text = await open_home(slack, bot, ADMIN)
    assert "Usage can't be shown right now: the shared store (REDIS_URL) can't be reached" in text
    assert "Your tokens today: 1,000 tokens, resets" in text  # the limit, not a made-up use
    assert "Top people and channels can't be shown" in text
    [published] = slack.calls_to("views.publish")
    assert published.response["ok"]


async def test_a_tab_that_cannot_be_read_still_says_why(slack, llm, bot):
    async def broken(user: str) -> None:
        raise RuntimeError("the store's driver broke")

    bot.home.facts = broken
    text = await open_home(slack, bot, "U1")
    assert text == "Your usage\n:warning: Your usage can't be shown right now (RuntimeError); " \
                   "please try again later."

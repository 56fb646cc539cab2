"""The Home tab's view, built from what was read: a person's own usage and limits, the profile
where they ask, operators' top people and channels; what it cannot show, said; every view
one Slack takes (checked as the fake Slack checks views.publish), its free text escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from fakes.slack.views import check_view, text_of
from slackgpt.config.mcp_servers import McpServer
from slackgpt.config.operations import Limits
from slackgpt.config.profiles import Profile
from slackgpt.pane.home_view import (
    COUNTED,
    NOT_COUNTED,
    UNREACHABLE,
    HomeFacts,
    failed_view,
    home_view,
    mcp_said,
    tools_said,
)
from slackgpt.usage.budget import Standing
from slackgpt.usage.store import PersonUsage

NOW = datetime(2026, 5, 3, 19, 0, tzinfo=UTC).timestamp()  # 5 hours before the day ends
LIMITS = Limits(person_tokens_per_day=10_000, workspace_tokens_per_month=1_000_000,
                workspace_cost_per_month=50.0)
MINE = PersonUsage(today_tokens=1_200, today_cost=0.0125, month_tokens=34_567, month_cost=0.5)
EVERYONE = Standing(person_today=1_200, workspace_tokens=250_000, workspace_cost=12.5)
TOP_PEOPLE = [("U2", 150_000), ("U1", 34_567)]
TOP_CHANNELS = [("C7", 200_000), ("D9", 50_000)]


def facts(**changes) -> HomeFacts:
    base = dict(user="U1", now=NOW, limits=LIMITS, counting=COUNTED, mine=MINE,
                workspace=EVERYONE, priced=True, per_hour=30, channel="C7",
                profile=Profile(name="support", tools=("search_slack",)), model="gpt-5",
                tools="search_slack", mcp="tickets", top_people=TOP_PEOPLE,
                top_channels=TOP_CHANNELS)
    return HomeFacts(**(base | changes))


def shown(view: dict) -> str:
    """The view's text, once Slack has taken it."""
    check_view(view)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    return text_of(view)


def test_a_person_sees_their_own_day_and_month_and_their_limits():
    text = shown(home_view(facts()))
    assert "*Today* (UTC)\n1,200 tokens · cost 0.01" in text
    assert "*This month* (UTC)\n34,567 tokens · cost 0.50" in text
    assert "Your tokens today: 1,200 of 10,000 tokens (12%), resets <!date^" in text
    assert "(in about 5 hours)" in text
    assert "Everyone's tokens this month: 250,000 of 1,000,000 tokens (25%)" in text
    assert "Everyone's cost this month: 12.50 of 50.00 (25%), resets" in text
    assert "Your questions: 30 in any hour" in text
    assert "As of <!date^" in text


def test_a_person_never_sees_anyone_elses_usage():
    text = shown(home_view(facts()))
    assert "U2" not in text and "150,000" not in text and "C7>: " not in text
    assert "Top people" not in text and "operators" not in text
    restricted = Profile(name="support", allowed_users=frozenset({"U1", "U3", "U4"}))
    who = shown(home_view(facts(profile=restricted)))
    assert "3 people, you among them" in who and "U3" not in who


def test_an_operator_also_sees_the_top_people_and_channels():
    text = shown(home_view(facts(admin=True, user="U9")))
    assert "Everyone this month (operators only)" in text
    assert "1. <@U2>: 150,000 tokens\n2. <@U1>: 34,567 tokens" in text
    assert "1. <#C7>: 200,000 tokens\n2. a DM (D9): 50,000 tokens" in text
    assert "*All together*: 250,000 tokens · cost 12.50" in text
    many = Profile(allowed_users=frozenset(f"U{i:02d}" for i in range(12)))
    assert "12 people: <@U00>, <@U01>" in shown(home_view(facts(admin=True, profile=many)))
    assert "and 2 more" in shown(home_view(facts(admin=True, profile=many)))
    quiet = shown(home_view(facts(admin=True, top_people=[], top_channels=[])))
    assert quiet.count("No use yet.") == 2


def test_without_limits_each_says_no_limit_and_costs_need_prices():
    text = shown(home_view(facts(limits=Limits(), priced=False, per_hour=None)))
    assert "Your tokens today: no limit (1,200 tokens used)" in text
    assert "Everyone's tokens this month: no limit (250,000 tokens used)" in text
    assert "Your questions: no limit" in text
    assert "cost" not in text.lower()  # no price table: no costs, no cost limit


def test_without_a_usage_store_nothing_is_counted_and_the_tab_says_so():
    view = home_view(facts(counting=NOT_COUNTED, limits=Limits(), mine=PersonUsage(),
                           workspace=Standing(), admin=True))
    text = shown(view)
    assert "Usage isn't counted: the bot could not keep its usage file" in text
    assert "`USAGE_FILE`" in text and not re.search(r"\b0 tokens", text)
    assert "Top people and channels can't be shown" in text
    assert "Where you ask" in text  # the profile is shown all the same


def test_an_unreachable_store_is_said_not_shown_as_zero():
    text = shown(home_view(facts(counting=UNREACHABLE, store="the shared store (REDIS_URL)",
                                 mine=PersonUsage(), workspace=Standing(), admin=True)))
    assert "Usage can't be shown right now: the shared store (REDIS_URL) can't be reached" in text
    assert not re.search(r"\b0 tokens", text) and not re.search(r"\b0%", text)
    assert "Your tokens today: 10,000 tokens, resets <!date^" in text  # the limit, not the use
    assert "Top people and channels can't be shown" in text


def test_the_profile_where_the_person_asks():
    text = shown(home_view(facts(refusal="Sorry, I don't answer in this channel.")))
    assert "In <#C7>, the channel you're looking at, I answer with the `support` profile." in text
    assert "Sorry, I don't answer in this channel." in text
    assert "*Model*\n`gpt-5`" in text and "*Tools*\nsearch_slack" in text
    assert "*MCP servers*\ntickets" in text and "*Who may ask*\neveryone the bot answers" in text
    default = shown(home_view(facts(channel=None, profile=Profile(), refusal=None)))
    assert "No channel in view, so here is the `default` profile" in default
    assert "You may ask there." in default


HOSTILE = "<!channel> *boss* <@U0BOSS> <https://evil.example|click> & `x`"


def test_free_text_is_escaped_and_pings_no_one():
    profile = Profile(name=HOSTILE, allowed_users=frozenset({"U1"}))
    text = shown(home_view(facts(
        profile=profile, model=HOSTILE, tools=HOSTILE, mcp=HOSTILE, refusal=HOSTILE,
        channel="C1>|<!here", store=HOSTILE, admin=True,
        top_people=[("<!everyone>", 5)], top_channels=[("<!here|x>", 5)],
    )))
    for raw in ("<!channel>", "<!here", "<!everyone>", "<@U0BOSS>", "<https://evil", "& "):
        assert raw not in text
    assert "&lt;https://evil.example|click&gt; &amp;" in text
    assert "&amp; 'x'`" in text  # in code, a backtick of its own cannot end the code span


def test_long_names_and_lists_stay_within_slacks_limits():
    long = "n" * 5_000
    profile = Profile(name=long, allowed_users=frozenset(f"U{i:04d}" for i in range(5_000)))
    view = home_view(facts(profile=profile, model=long, tools=", ".join([long] * 5),
                           mcp=long, refusal=long, admin=True,
                           top_people=[(f"U{i}", 10 - i) for i in range(10)],
                           top_channels=[(f"C{i}", 10 - i) for i in range(10)]))
    assert "…" in shown(view)


def test_a_view_that_cannot_be_built_still_says_why():
    text = shown(failed_view("the usage counts failed: <!here> boom"))
    assert ":warning: the usage counts failed: &lt;!here&gt; boom" in text


@pytest.mark.parametrize(("profile", "rounds", "said"), [
    (Profile(), 6, "search_slack, read_slack_message (all the built-in tools)"),
    (Profile(tools=()), 6, "none"),
    (Profile(tools=("search_slack",)), 6, "search_slack"),
    (Profile(), 0, "none (TOOL_ROUNDS=0)"),
])
def test_tools_said(profile, rounds, said):
    assert tools_said(profile, rounds) == said


def test_mcp_servers_said_for_the_channel_and_the_profile():
    servers = [McpServer("tickets", url="https://t.example/mcp"),
               McpServer("wiki", url="https://w.example/mcp", channels=frozenset({"C7"}))]
    assert mcp_said(Profile(), servers, "C7") == "tickets, wiki"
    assert mcp_said(Profile(), servers, "C8") == "tickets"
    assert mcp_said(Profile(), servers, None) == "tickets"
    assert mcp_said(Profile(mcp_servers=("wiki",)), servers, "C7") == "wiki"
    assert mcp_said(Profile(mcp_servers=()), servers, "C7") == "none"
    assert mcp_said(Profile(), [], "C7") == "none"

"""The built-in Slack tools against the fake Slack: links parsed and read only for someone who
may read them, search results checked again, the start-up check."""

from __future__ import annotations

import logging

import pytest

from fakes.slack.events import user_event
from slackgpt.slack.visibility import Visibility
from slackgpt.tools.base import Asker
from slackgpt.tools.slack_links import Link, ReadSlackMessage, has_links, parse_link
from slackgpt.tools.slack_search import SlackSearch, search_check
from slackgpt.tools.slack_tools import SlackTools

pytestmark = pytest.mark.timeout(20)


def test_links_name_their_message():
    top = "https://acme.slack.com/archives/C1H9RESGA/p1358546515000008"
    reply = ("https://acme.enterprise.slack.com/archives/C1H9RESGL/p1358546517000023"
             "?thread_ts=1358546515.000008&cid=C1H9RESGL")
    assert parse_link(top) == Link(top, "C1H9RESGA", "1358546515.000008")
    assert parse_link(reply) == Link(reply, "C1H9RESGL", "1358546517.000023", "1358546515.000008")
    for bad in ("http://acme.slack.com/archives/C1/p1358546515000008",
                "https://slack.com.evil.test/archives/C1/p1358546515000008",
                "https://acme.slack.com/archives/C1/p13585465150",
                "https://acme.slack.com/files/U1/F1/x.png", "not a link"):
        assert parse_link(bad) is None, bad
    assert has_links(f"look <{top}|here>") and not has_links("https://example.com/x")


async def test_a_link_is_read_for_someone_who_may_read_it(slack, door):
    slack.add_channel("C2", name="general", member=True)
    root = slack.add_message("C2", "<@U3> the plan is <https://x.test|here>", user="U2")
    replies = [slack.add_message("C2", f"reply {n}", user="U3", thread_ts=root["ts"])
               for n in range(3)]
    tool = ReadSlackMessage(door, Visibility(door))
    asker = Asker("U1", "C1", "1.0")

    whole = await tool.run({"url": slack.permalink("C2", root["ts"])}, asker)
    one = await tool.run({"url": slack.permalink("C2", replies[1]["ts"])}, asker)

    assert not whole.error and whole.summary == "4 messages"
    assert "U2 (the linked message): @U3 the plan is here (https://x.test)" in whole.text
    assert one.summary == "3 messages" and "reply 0" not in one.text
    assert "U3 (the linked message): reply 1" in one.text
    assert one.sources[0].url == slack.permalink("C2", replies[1]["ts"])


@pytest.mark.parametrize(("where", "why"), [
    ("private", "not in that conversation"), ("dm", "cannot be found"),
    ("not_in", "the bot is not in that channel"), ("gone", "cannot be found"),
])
async def test_a_link_that_is_not_read_says_why(slack, door, where, why):
    slack.add_channel("G1", private=True, people=("U2",))
    slack.add_channel("C3", member=False)
    channel = {"private": "G1", "dm": "D2", "not_in": "C3", "gone": "C1"}[where]
    gone = "1700000000.000001"
    ts = slack.add_message(channel, "secret", user="U2")["ts"] if where != "gone" else gone
    result = await ReadSlackMessage(door, Visibility(door)).run(
        {"url": slack.permalink(channel, ts)}, Asker("U1", "C1", "1.0"))
    assert result.error and why in result.text and "secret" not in result.text
    bad = await ReadSlackMessage(door, Visibility(door)).run({"url": "x"}, Asker("U1", "C", "1"))
    assert bad.error


async def test_search_results_the_asker_may_not_see_are_dropped(slack, door, monkeypatch):
    slack.add_channel("G1", private=True, people=("U2",))
    slack.add_channel("C2", name="general")
    leaked = [
        {"channel_id": "G1", "channel_name": "hr", "content": "salaries", "message_ts": "1.1",
         "permalink": "https://t.slack.com/archives/G1/p1", "author_name": "Kim"},
        {"channel_id": "C2", "channel_name": "general", "content": "lunch at noon",
         "message_ts": "1.2", "permalink": "https://t.slack.com/archives/C2/p2"},
        {"channel_id": "C1", "channel_name": "here", "content": "the question itself",
         "message_ts": "9.9", "permalink": "https://t.slack.com/archives/C1/p9"},
    ]

    async def as_if_slack_leaked(slack, query: str, token: str, limit: int) -> list[dict]:
        return leaked  # what Slack should never send: the bot checks anyway

    asker = Asker("U1", "C1", "9.0", action_token="tok", message_ts="9.9")
    result = await SlackSearch(door, Visibility(door), as_if_slack_leaked).run(
        {"query": "noon"}, asker)
    assert "salaries" not in result.text and "the question itself" not in result.text
    assert "lunch at noon" in result.text and result.summary == "1 result"
    assert [s.url for s in result.sources] == ["https://t.slack.com/archives/C2/p2"]


async def test_search_needs_a_query_a_token_and_slack(slack, door):
    tool = SlackSearch(door, Visibility(door))
    assert (await tool.run({"query": " "}, Asker("U1", "C1", "1", action_token="t"))).error
    assert (await tool.run({"query": "x"}, Asker("U1", "C1", "1"))).error
    slack.ai_search = True
    token = user_event(slack.state, "app_mention", slack.add_message("C1", "hi"))["action_token"]
    slack.fail("assistant.search.context", "assistant_search_context_disabled")
    failed = await tool.run({"query": "x"}, Asker("U1", "C1", "1", action_token=token))
    assert failed.error and "assistant_search_context_disabled" in failed.text
    none = await tool.run({"query": "nothing matches"}, Asker("U1", "C1", "1", action_token=token))
    assert not none.error and none.summary == "no results"


async def test_the_start_up_check_turns_search_on_and_says_so_once(slack, door, caplog):
    caplog.set_level(logging.INFO, "slackgpt.tools.slack_tools")
    tools = SlackTools(door, Visibility(door))
    asker = Asker("U1", "C1", "1.0", action_token="t")
    assert not (await tools.start()).enabled
    assert list(tools.search.tools_for(asker, "")) == []
    assert list(tools.links.tools_for(asker, "")) == []
    slack.ai_search = True
    assert (await tools.start()).enabled
    assert [t.name for t in tools.search.tools_for(asker, "")] == ["search_slack"]
    assert [t.name for t in tools.links.tools_for(asker, "")] == ["read_slack_message"]
    assert list(tools.search.tools_for(Asker("U1", "C1", "1.0"), "")) == []  # no token
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "Slack search is off", "Slack search is on (public channels, as the person asking)"]
    slack.revoke("search:read.public")
    refused = await search_check(door)
    assert refused.problem and "missing_scope" in refused.detail

"""The door's calls for tools, against the fake Slack: search as a person, a thread read from
one message on, and task chunks made safe to show."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from fakes.slack.events import user_event
from slackgpt.slack.api import SlackApi, error_code
from slackgpt.slack.api_tools import TASK_TEXT_LIMIT, safe_chunks
from slackgpt.slack.events import Target

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def door(slack):
    api = SlackApi(slack.bot_token, slack.api_url)
    yield api
    await api.close()


def token_for(slack, user: str) -> str:
    return user_event(slack.state, "app_mention", slack.add_message("C1", "hi", user=user))[
        "action_token"]


async def test_search_is_asked_whether_it_is_there(slack, door):
    assert await door.search_enabled() is False
    slack.ai_search = True
    assert await door.search_enabled() is True
    slack.revoke("search:read.public")
    with pytest.raises(SlackApiError) as refused:
        await door.search_enabled()
    assert error_code(refused.value) == "missing_scope"


async def test_search_runs_as_the_person_and_returns_messages(slack, door):
    slack.ai_search = True
    slack.add_message("C1", "the deploy freeze starts friday", user="U2")
    found = await door.search_messages("deploy freeze", token_for(slack, "U1"), limit=50)
    assert [m["content"] for m in found] == ["the deploy freeze starts friday"]
    assert slack.calls_to("assistant.search.context")[-1].params["limit"] == 20  # Slack's most
    with pytest.raises(SlackApiError) as refused:
        await door.search_messages("deploy", "not-a-token", limit=5)
    assert error_code(refused.value) == "invalid_action_token"


async def test_a_thread_from_one_reply_on(slack, door):
    root = slack.add_message("C1", "root")
    replies = [slack.add_message("C1", f"r{i}", thread_ts=root["ts"]) for i in range(5)]
    page = await door.thread_from("C1", root["ts"], replies[1]["ts"], limit=3)
    assert [m["text"] for m in page] == ["r1", "r2", "r3"]
    assert str(slack.calls_to("conversations.replies")[-1].params["inclusive"]) in ("1", "true")
    whole = await door.thread_from("C1", root["ts"], None, limit=50)
    assert len(whole) == 6
    assert "inclusive" not in slack.calls_to("conversations.replies")[-1].params


def test_task_texts_are_made_inert_and_short():
    [chunk] = safe_chunks([{
        "type": "task_update", "id": "t", "title": "<!channel> look", "status": "complete",
        "details": "x" * 300,
        "sources": [{"type": "url", "url": "https://a.slack.com/x", "text": "@here"}],
    }]) or []
    assert "<!channel>" not in chunk["title"] and "\u2060" in chunk["title"]
    assert len(chunk["details"]) == TASK_TEXT_LIMIT
    assert chunk["sources"][0]["text"] != "@here"
    assert safe_chunks([]) is None


async def test_streams_carry_chunks_and_tasks_as_a_timeline(slack, door):
    root = slack.add_message("C1", "q", user="U1")
    target = Target("C1", root["ts"], "U1", slack.team_id)
    task = {"type": "task_update", "id": "t1", "title": "Searching Slack",
            "status": "in_progress"}
    ts = await door.start_stream(target, "", chunks=[task])
    await door.append_stream("C1", ts, "", [{**task, "status": "complete"},
                                           {"type": "markdown_text", "text": "<!here> done"}])
    await door.stop_stream("C1", ts, chunks=[{"type": "markdown_text", "text": "."}])
    start = slack.calls_to("chat.startStream")[-1].params
    assert start["task_display_mode"] == "timeline" and "markdown_text" not in start
    assert slack.tasks("C1", ts)[0]["status"] == "complete"
    assert slack.bot_text("C1", root["ts"]) == "@\u2060here done."
    plain = await door.start_stream(target, "words")
    assert "task_display_mode" not in slack.calls_to("chat.startStream")[-1].params
    assert plain

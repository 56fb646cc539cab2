"""Slack search through the door, against the fake Slack: whether the workspace has it, and
messages found as a person; streams that carry task chunks."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from fakes.slack.events import user_event
from slackgpt.slack.api import error_code
from slackgpt.slack.events import Target
from slackgpt.slack.search import search_enabled, search_messages

pytestmark = pytest.mark.timeout(20)


def token_for(slack, user: str) -> str:
    return user_event(slack.state, "app_mention", slack.add_message("C1", "hi", user=user))[
        "action_token"]


async def test_search_is_asked_whether_it_is_there(slack, door):
    assert await search_enabled(door) is False
    slack.ai_search = True
    assert await search_enabled(door) is True
    slack.revoke("search:read.public")
    with pytest.raises(SlackApiError) as refused:
        await search_enabled(door)
    assert error_code(refused.value) == "missing_scope"


async def test_search_runs_as_the_person_and_returns_messages(slack, door):
    slack.ai_search = True
    slack.add_message("C1", "the deploy freeze starts friday", user="U2")
    found = await search_messages(door, "deploy freeze", token_for(slack, "U1"), limit=50)
    assert [m["content"] for m in found] == ["the deploy freeze starts friday"]
    assert slack.calls_to("assistant.search.context")[-1].params["limit"] == 20  # Slack's most
    with pytest.raises(SlackApiError) as refused:
        await search_messages(door, "deploy", "not-a-token", limit=5)
    assert error_code(refused.value) == "invalid_action_token"


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

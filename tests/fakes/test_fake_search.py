"""FakeSlack's Real-time Search (``assistant.search.*``), the action tokens on people's events,
thread reads around one message, and the task cards of streamed messages, as Slack's method
pages say."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from fakes.slack import FakeSlack
from fakes.slack.events import user_event

pytestmark = pytest.mark.timeout(20)


def web(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


async def call(slack: FakeSlack, method: str, **args: Any) -> dict:
    return (await web(slack).api_call(method, json=args)).data  # type: ignore[return-value]


async def refused(slack: FakeSlack, method: str, **args: Any) -> dict:
    with pytest.raises(SlackApiError) as error:
        await call(slack, method, **args)
    return error.value.response.data  # type: ignore[return-value]


def event_of(slack: FakeSlack, user: str = "U1", kind: str = "app_mention") -> dict:
    """The event of a message ``user`` writes to the bot (no socket needed to make it)."""
    message = slack.add_message("C1", f"<@{slack.bot_user_id}> hello", user=user)
    return user_event(slack.state, kind, message)


async def token_of(slack: FakeSlack, user: str = "U1") -> str:
    """The action token on a mention ``user`` writes (as Slack puts it on the event)."""
    return event_of(slack, user)["action_token"]


async def test_info_says_whether_the_workspace_has_ai_search(slack):
    assert (await call(slack, "assistant.search.info"))["is_ai_search_enabled"] is False
    slack.ai_search = True
    assert (await call(slack, "assistant.search.info"))["is_ai_search_enabled"] is True


async def test_people_s_events_carry_an_action_token_that_searches_as_them(slack):
    mention, message = event_of(slack, "U7"), event_of(slack, "U8", "message")
    assert slack.action_tokens[mention["action_token"]] == "U7"
    assert slack.action_tokens[message["action_token"]] == "U8"
    assert mention["action_token"] != message["action_token"]


async def test_a_search_runs_as_a_person_with_their_token(slack):
    slack.ai_search = True
    assert (await refused(slack, "assistant.search.context", query="x"))["error"] == (
        "invalid_action_token")
    body = await refused(slack, "assistant.search.context", query="x", action_token="made-up")
    assert body["error"] == "invalid_action_token"
    token = await token_of(slack)
    body = await refused(slack, "assistant.search.context", query="?!", action_token=token)
    assert body["error"] == "missing_query"


async def test_a_workspace_without_ai_search_or_a_token_without_the_scope(slack):
    token = await token_of(slack)
    body = await refused(slack, "assistant.search.context", query="deploy", action_token=token)
    assert body["error"] == "feature_not_enabled"
    slack.ai_search = True
    slack.revoke("search:read.public")
    body = await refused(slack, "assistant.search.context", query="deploy", action_token=token)
    assert (body["error"], body["needed"]) == ("missing_scope", "search:read.public")


async def test_a_bot_token_searches_public_channels_only(slack):
    slack.ai_search = True
    token = await token_of(slack)
    body = await refused(slack, "assistant.search.context", query="deploy", action_token=token,
                         channel_types=["public_channel", "private_channel"])
    assert body["error"] == "missing_scope"


async def test_results_are_what_the_person_may_see_best_first(slack):
    slack.ai_search = True
    slack.add_channel("C2", name="general", member=False)  # public: anyone may see it
    slack.add_channel("G1", name="secret", private=True, people=("U1",))
    public = slack.add_message("C2", "deploy freeze starts friday", user="U2")
    slack.add_message("C2", "the deploy is done", user="U3")
    slack.add_message("G1", "deploy freeze secret plan", user="U1")
    slack.add_message("D9", "deploy freeze in a DM", user="U9")
    slack.add_message("C2", "lunch?", user="U2")
    token = await token_of(slack)

    found = await call(slack, "assistant.search.context", query="deploy freeze",
                       action_token=token, limit=5)

    messages = found["results"]["messages"]
    assert [m["content"] for m in messages] == [
        "deploy freeze starts friday", "the deploy is done"]
    first = messages[0]
    assert first["channel_id"] == "C2" and first["channel_name"] == "general"
    assert first["message_ts"] == public["ts"] and first["author_user_id"] == "U2"
    assert first["is_author_bot"] is False
    assert first["permalink"] == slack.permalink("C2", public["ts"])
    assert first["permalink"].startswith("https://fake-team.slack.com/archives/C2/p")
    assert found["response_metadata"] == {"next_cursor": ""}


async def test_a_reply_s_link_names_its_thread(slack):
    root = slack.add_message("C1", "root")
    reply = slack.add_message("C1", "reply", thread_ts=root["ts"])
    assert slack.permalink("C1", root["ts"]).endswith("/p" + root["ts"].replace(".", ""))
    assert slack.permalink("C1", reply["ts"]).endswith(f"?thread_ts={root['ts']}&cid=C1")


async def test_task_cards_update_by_id_and_append_details(slack):
    root = slack.add_message("D1", "q", user="U1")
    where = {"channel": "D1", "thread_ts": root["ts"]}
    task = {"type": "task_update", "id": "t1", "title": "Searching Slack",
            "status": "in_progress", "details": "deploy"}
    started = await call(slack, "chat.startStream", **where, chunks=[task],
                         task_display_mode="timeline")
    done = {**task, "title": "Searched Slack", "status": "complete", "details": " · 2 results",
            "sources": [{"type": "url", "url": "https://x.slack.com/a", "text": "#general"}]}
    await call(slack, "chat.appendStream", channel="D1", ts=started["ts"],
               chunks=[done, {"type": "markdown_text", "text": "Found it."}])
    long = {**task, "title": "x" * 257}
    body = await refused(slack, "chat.appendStream", channel="D1", ts=started["ts"],
                         chunks=[long])
    assert body["error"] == "invalid_chunks"
    [card] = slack.tasks("D1", started["ts"])
    assert card["title"] == "Searched Slack" and card["status"] == "complete"
    assert card["details"] == "deploy · 2 results" and len(card["sources"]) == 1
    message = slack.state.stored("D1", started["ts"])
    assert message.task_display_mode == "timeline" and message.markdown == "Found it."


async def test_a_method_can_take_longer_than_the_others(slack):
    slack.method_latency["assistant.search.info"] = 0.2
    call_at = slack.calls
    await call(slack, "assistant.search.info")
    assert call_at[-1].method == "assistant.search.info"
    assert slack.method_latency == {"assistant.search.info": 0.2}

"""The fake speaks Slack's agent surface: agent sessions (agents.sessions.setStatus/rename,
chat.stopStream's session_status), the agent view's events (app_home_opened,
app_context_changed, agent_session_stopped) and a stream's cutoff, as their pages say."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from fakes.slack import FakeSlack
from tests.helpers import Listener, web

pytestmark = pytest.mark.timeout(15)

NO_STOP_EVENT = "missing_agent_session_stopped_event_subscription"


async def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        await call
    return str(info.value.response["error"])


# -- the install -----------------------------------------------------------------------------


def test_an_install_from_our_manifest_is_an_agent_with_its_events(slack: FakeSlack) -> None:
    assert slack.agent is True
    assert {"app_home_opened", "app_context_changed", "agent_session_stopped"} <= slack.events
    assert "assistant_thread_started" not in slack.events  # agent_view replaces it


# -- agents.sessions.* -----------------------------------------------------------------------


async def test_set_status_creates_the_session_with_its_title_once(slack: FakeSlack) -> None:
    client = web(slack)
    root = slack.add_message("D1", "plan my trip")
    first = await client.agents_sessions_setStatus(
        channel_id="D1", thread_ts=root["ts"], status="processing", title="Trip"
    )
    assert (first["status"], first["agent_status"], first["title"]) == (
        "processing", "processing", "Trip"
    )
    assert "warning" not in first.data
    later = await client.agents_sessions_setStatus(
        channel_id="D1", thread_ts=root["ts"], status="active", title="Ignored"
    )
    assert later["title"] == "Trip"  # "Only used when creating a new session"
    assert slack.session_statuses("D1", root["ts"]) == ["processing", "active"]
    renamed = await client.agents_sessions_rename(channel_id="D1", thread_ts=root["ts"],
                                                  title="Lisbon")
    assert renamed["title"] == slack.sessions[("D1", root["ts"])].title == "Lisbon"


@pytest.mark.parametrize(
    ("method", "arguments", "error"),
    [
        ("agents.sessions.setStatus", {"status": "thinking"}, "invalid_arguments"),
        ("agents.sessions.setStatus", {"status": "active", "thread_ts": None},
         "thread_ts_required"),
        ("agents.sessions.setStatus", {"status": "active", "channel_id": "X1"},
         "channel_not_found"),
        ("agents.sessions.setStatus", {"status": "active", "channel_id": "C7"},
         "not_authorized"),
        ("agents.sessions.setStatus", {"status": "active", "username": "Bob"}, "missing_scope"),
        ("agents.sessions.setStatus", {"status": "active", "title": "t" * 201},
         "invalid_arguments"),
        ("agents.sessions.rename", {"title": "New"}, "session_not_found"),
        ("agents.sessions.rename", {"title": ""}, "invalid_arguments"),
    ],
)
async def test_session_calls_are_refused_as_their_pages_say(
    slack: FakeSlack, method: str, arguments: dict[str, Any], error: str
) -> None:
    slack.add_channel("C7", member=False)
    root = slack.add_message("C1", "a question")
    kwargs = {"channel_id": "C1", "thread_ts": root["ts"]} | arguments
    assert await error_of(web(slack).api_call(method, json=kwargs)) == error


@pytest.mark.parametrize("refusal", ["feature_disabled", "not_agent_app"])
async def test_an_app_not_declared_as_an_agent_has_no_sessions(
    slack: FakeSlack, refusal: str
) -> None:
    slack.agent, slack.agent_refusal = False, refusal
    client, root = web(slack), slack.add_message("D1", "hi")
    call = client.agents_sessions_setStatus(channel_id="D1", thread_ts=root["ts"], status="active")
    assert await error_of(call) == refusal
    rename = client.agents_sessions_rename(channel_id="D1", thread_ts=root["ts"], title="x")
    assert await error_of(rename) == refusal
    prompts = [{"title": "Hi", "message": "Hello"}]
    no_thread = client.assistant_threads_setSuggestedPrompts(channel_id="D1", prompts=prompts)
    assert await error_of(no_thread) == "not_agent_app"
    assert slack.sessions == {}


async def test_without_the_stop_event_a_session_call_warns(slack: FakeSlack) -> None:
    slack.events.discard("agent_session_stopped")
    root = slack.add_message("D1", "hi")
    response = await web(slack).agents_sessions_setStatus(
        channel_id="D1", thread_ts=root["ts"], status="processing"
    )
    assert response["ok"] and response["warning"] == NO_STOP_EVENT
    assert response["response_metadata"]["warnings"] == [NO_STOP_EVENT]


async def test_stop_stream_moves_the_session_to_its_session_status(slack: FakeSlack) -> None:
    client, root = web(slack), slack.add_message("D1", "hi")
    await client.agents_sessions_setStatus(channel_id="D1", thread_ts=root["ts"],
                                           status="processing")
    for status in ("processing", None, "nonsense"):
        ts = (await client.chat_startStream(channel="D1", thread_ts=root["ts"]))["ts"]
        stop = client.chat_stopStream(channel="D1", ts=ts, markdown_text="x",
                                      session_status=status)
        if status == "nonsense":
            assert await error_of(stop) == "invalid_arguments"
        else:
            await stop
    assert slack.session_statuses("D1", root["ts"]) == ["processing", "processing", "active"]


# -- what people do in the agent view ----------------------------------------------------------


async def test_opening_the_messages_tab_sends_app_home_opened(
    slack: FakeSlack, listener: Listener
) -> None:
    await slack.open_home("U5")
    await slack.wait_for(lambda: listener.events)
    event = listener.events[0]
    assert (event["type"], event["user"], event["tab"]) == ("app_home_opened", "U5", "messages")
    assert event["channel"] == slack.im_of("U5") and event["event_ts"]


async def test_a_context_change_names_the_channel_in_view(
    slack: FakeSlack, listener: Listener
) -> None:
    await slack.change_app_context("C2", user="U5")
    await slack.change_app_context(None, user="U5")
    await slack.wait_for(lambda: len(listener.events) == 2)
    seen, nothing = listener.events
    assert seen["type"] == "app_context_changed" and seen["user"] == "U5"
    assert seen["context"]["entities"] == [
        {"type": "slack#/types/channel_id", "value": "C2", "team_id": slack.team_id}
    ]
    assert nothing["context"] == {}  # "If no entities are present"
    slack.agent = False
    with pytest.raises(LookupError, match="agent_view"):
        await slack.change_app_context("C2")
    slack.agent = True
    slack.events.discard("app_home_opened")
    with pytest.raises(LookupError, match="app_home_opened"):
        await slack.open_home()


async def test_the_stop_button_stops_the_streams_and_sends_the_event(
    slack: FakeSlack, listener: Listener
) -> None:
    client, root = web(slack), slack.add_message("C1", "go on")
    where = {"channel": "C1", "thread_ts": root["ts"]}
    with pytest.raises(LookupError, match="no stop button"):
        await slack.click_stop("C1", root["ts"])
    await client.agents_sessions_setStatus(channel_id="C1", thread_ts=root["ts"],
                                           status="processing")
    who = {"recipient_user_id": "U1", "recipient_team_id": slack.team_id}
    ts = (await client.chat_startStream(**where, **who, markdown_text="Once"))["ts"]
    await slack.click_stop("C1", root["ts"], user="U2")
    await slack.wait_for(lambda: listener.events)
    event = listener.events[0]
    assert event["type"] == "agent_session_stopped" and event["user"] == "U2"
    assert (event["channel"], event["thread_ts"]) == ("C1", root["ts"])
    assert event["streaming_message_ts"] == [ts]
    more = client.chat_appendStream(channel="C1", ts=ts, markdown_text=" upon")
    assert await error_of(more) == "stopped_by_user"
    assert slack.session_statuses("C1", root["ts"]) == ["processing"]  # not by itself
    marked = [{"type": "markdown", "text": "Once _Stopped._"}]
    await client.chat_update(channel="C1", ts=ts, text="Once", blocks=marked)
    assert slack.bot_text("C1", root["ts"]) == "Once _Stopped._"
    slack.events.discard("agent_session_stopped")
    with pytest.raises(LookupError, match="agent_session_stopped"):
        await slack.click_stop("C1", root["ts"])


# -- the stream's cutoff -----------------------------------------------------------------------


async def test_a_stream_ends_stream_ttl_after_it_started_and_can_then_be_updated(
    slack: FakeSlack,
) -> None:
    client, root = web(slack), slack.add_message("D1", "long one")
    slack.stream_ttl = 0.3
    ts = (await client.chat_startStream(channel="D1", thread_ts=root["ts"],
                                        markdown_text="Part one"))["ts"]
    started = time.monotonic()
    with pytest.raises(SlackApiError):  # open: an update conflicts with the stream
        await client.chat_update(channel="D1", ts=ts, text="x")
    await client.chat_appendStream(channel="D1", ts=ts, markdown_text=", still")
    await asyncio.sleep(max(0.0, started + 0.35 - time.monotonic()))  # past the cutoff
    assert slack.bot_replies("D1", root["ts"])[0]["streaming"] is False
    late = client.chat_appendStream(channel="D1", ts=ts, markdown_text=" late")
    assert await error_of(late) == "message_not_in_streaming_state"
    stop = client.chat_stopStream(channel="D1", ts=ts)
    assert await error_of(stop) == "message_not_in_streaming_state"
    await client.chat_update(channel="D1", ts=ts, text="Part one, still late",
                             blocks=[{"type": "markdown", "text": "Part one, still late"}])
    assert slack.bot_text("D1", root["ts"]) == "Part one, still late"

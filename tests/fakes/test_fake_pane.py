"""The fake speaks Slack's AI-app surface: real slack_sdk clients and a real Bolt app agree.

Web API: assistant.threads.setSuggestedPrompts / setTitle, conversations.history / info,
feedback buttons in blocks. Socket Mode: assistant_thread_* events, messages in an assistant
thread, feedback clicks and message shortcuts as ``interactive`` envelopes, and their acks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    ContextActionsBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
)
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from fakes.slack import FakeSlack
from tests.helpers import web

pytestmark = pytest.mark.timeout(15)

PROMPTS = [
    {"title": "Summarise", "message": "Summarise this channel"},
    {"title": "Explain", "message": "Explain the last message"},
]


async def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        await call
    return str(info.value.response["error"])


def feedback_block(**changes: Any) -> dict[str, Any]:
    """A context_actions block with feedback buttons, built by slack_sdk's models."""
    block = ContextActionsBlock(
        elements=[
            FeedbackButtonsElement(
                action_id="feedback",
                positive_button=FeedbackButtonObject(text="Good", value="good-feedback"),
                negative_button=FeedbackButtonObject(
                    text="Bad", value="bad-feedback", accessibility_label="Bad answer"
                ),
            )
        ]
    ).to_dict()
    return block | changes


def buttons(**changes: Any) -> dict[str, Any]:
    """The feedback_buttons element of ``feedback_block()``, changed."""
    return feedback_block()["elements"][0] | changes


# -- assistant.threads.* -------------------------------------------------------------------


async def test_suggested_prompts_need_the_scope_and_are_recorded_per_thread(
    slack: FakeSlack,
) -> None:
    client = web(slack)
    slack.revoke("assistant:write")  # an install from a manifest without the pane
    root = slack.add_message("D1", "Chats", subtype="assistant_app_thread")
    call = client.assistant_threads_setSuggestedPrompts(
        channel_id="D1", thread_ts=root["ts"], prompts=PROMPTS
    )
    assert await error_of(call) == "missing_scope"
    slack.grant("assistant:write")
    await client.assistant_threads_setSuggestedPrompts(
        channel_id="D1", thread_ts=root["ts"], prompts=PROMPTS, title="Try one"
    )
    recorded = slack.suggested_prompts[("D1", root["ts"])]
    assert (recorded.title, recorded.prompts) == ("Try one", PROMPTS)
    later = slack.add_message("D1", "another chat")
    await client.assistant_threads_setSuggestedPrompts(channel_id="D1", prompts=PROMPTS[:1])
    assert slack.suggested_prompts[("D1", later["ts"])].prompts == PROMPTS[:1]  # latest message


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"prompts": PROMPTS * 2 + PROMPTS[:1]}, "invalid_arguments"),  # five prompts
        ({"prompts": [{"title": "no message"}]}, "invalid_arguments"),
        ({"prompts": [{"title": "", "message": "x"}]}, "invalid_arguments"),
        ({"prompts": []}, "invalid_arguments"),
        ({"prompts": PROMPTS, "thread_ts": "1.000001"}, "invalid_thread_ts"),
        ({"prompts": PROMPTS, "channel_id": "C404", "thread_ts": None}, "message_not_found"),
        ({"prompts": PROMPTS, "channel_id": "nope"}, "channel_not_found"),
    ],
)
async def test_suggested_prompts_are_validated(
    slack: FakeSlack, arguments: dict[str, Any], error: str
) -> None:
    slack.grant("assistant:write")
    root = slack.add_message("D1", "Chats", subtype="assistant_app_thread")
    kwargs = {"channel_id": "D1", "thread_ts": root["ts"]} | arguments
    call = web(slack).api_call("assistant.threads.setSuggestedPrompts", json=kwargs)
    assert await error_of(call) == error


async def test_prompts_sent_as_a_form_are_read_as_json(slack: FakeSlack) -> None:
    slack.grant("assistant:write")
    root = slack.add_message("D1", "Chats")
    form = {"channel_id": "D1", "thread_ts": root["ts"], "prompts": str(PROMPTS).replace("'", '"')}
    await web(slack).api_call("assistant.threads.setSuggestedPrompts", data=form)
    assert slack.suggested_prompts[("D1", root["ts"])].prompts == PROMPTS


async def test_set_title_records_it_and_renames_the_assistant_thread(slack: FakeSlack) -> None:
    client = web(slack)
    slack.grant("assistant:write")
    root = slack.add_message("D1", "Chats from today", subtype="assistant_app_thread")
    await client.assistant_threads_setTitle(channel_id="D1", thread_ts=root["ts"], title="Trip")
    assert slack.titles[("D1", root["ts"])] == "Trip"
    history = await client.conversations_history(channel="D1")
    assert history["messages"][0]["text"] == "Trip"
    assert history["messages"][0]["subtype"] == "assistant_app_thread"
    reply = slack.add_message("D1", "in the thread", thread_ts=root["ts"])
    cases = [
        ({"thread_ts": root["ts"], "title": ""}, "invalid_arguments"),
        ({"thread_ts": reply["ts"], "title": "x"}, "invalid_thread_ts"),  # not a thread root
        ({"title": "x"}, "invalid_arguments"),  # thread_ts is required (its page)
    ]
    for kwargs, error in cases:
        call = client.api_call("assistant.threads.setTitle", json={"channel_id": "D1", **kwargs})
        assert await error_of(call) == error


# -- conversations.history / info ----------------------------------------------------------


async def test_history_is_newest_first_and_pages_with_a_cursor(slack: FakeSlack) -> None:
    client = web(slack)
    posted = [slack.add_message("C1", f"m{i}") for i in range(5)]
    slack.add_message("C1", "a reply", user="U2", thread_ts=posted[1]["ts"])
    slack.add_message("C9", "elsewhere")
    texts, cursor, pages = [], None, 0
    while True:
        res = await client.conversations_history(channel="C1", limit=2, cursor=cursor)
        pages += 1
        texts += [m["text"] for m in res["messages"]]
        cursor = res["response_metadata"]["next_cursor"]
        assert res["has_more"] == bool(cursor)
        if not cursor:
            break
    assert texts == ["m4", "m3", "m2", "m1", "m0"] and pages == 3
    parent = (await client.conversations_history(channel="C1"))["messages"][3]
    assert (parent["text"], parent["reply_count"], parent["reply_users"]) == ("m1", 1, ["U2"])
    assert parent["thread_ts"] == posted[1]["ts"]
    err = await error_of(client.conversations_history(channel="C1", cursor="bm9wZQ=="))
    assert err == "invalid_cursor"


async def test_history_oldest_latest_and_inclusive(slack: FakeSlack) -> None:
    client = web(slack)
    ts = [slack.add_message("C1", f"m{i}")["ts"] for i in range(4)]

    async def texts(**kwargs: Any) -> list[str]:
        res = await client.conversations_history(channel="C1", **kwargs)
        return [m["text"] for m in res["messages"]]

    assert await texts(oldest=ts[1], latest=ts[3]) == ["m2"]
    assert await texts(oldest=ts[1], latest=ts[3], inclusive=True) == ["m3", "m2", "m1"]
    res = await client.conversations_history(channel="C1", latest=ts[1])
    assert res["latest"] == ts[1] and [m["text"] for m in res["messages"]] == ["m0"]
    assert await error_of(client.conversations_history(channel="C1", latest="x")) == (
        "invalid_ts_latest"
    )


async def test_history_refuses_channels_the_bot_cannot_read(slack: FakeSlack) -> None:
    client = web(slack)
    slack.add_channel("C2", name="random", member=False)
    slack.add_channel("C3", name="secret", member=False, private=True)
    slack.add_message("C2", "public chatter")
    assert await error_of(client.conversations_history(channel="C2")) == "not_in_channel"
    assert await error_of(client.conversations_history(channel="C3")) == "channel_not_found"
    assert await error_of(client.conversations_history(channel="X1")) == "channel_not_found"
    slack.add_channel("C2", name="random", member=True)  # invited
    res = await client.conversations_history(channel="C2")
    assert [m["text"] for m in res["messages"]] == ["public chatter"]
    slack.scopes = "chat:write"
    assert await error_of(client.conversations_history(channel="C2")) == "missing_scope"


async def test_replies_are_refused_where_the_bot_is_not_a_member(slack: FakeSlack) -> None:
    client = web(slack)
    slack.add_channel("C2", name="random", member=False)
    slack.add_channel("C3", name="secret", member=False, private=True)
    roots = {c: slack.add_message(c, "a thread root", user="U2") for c in ("C2", "C3", "C4")}
    for channel, error in (("C2", "not_in_channel"), ("C3", "channel_not_found")):
        call = client.conversations_replies(channel=channel, ts=roots[channel]["ts"])
        assert await error_of(call) == error
    res = await client.conversations_replies(channel="C4", ts=roots["C4"]["ts"])  # undeclared
    assert [m["text"] for m in res["messages"]] == ["a thread root"]


async def test_ephemeral_messages_are_recorded_apart_from_the_channel(slack: FakeSlack) -> None:
    client = web(slack)
    root = slack.add_message("C1", "question")
    res = await client.chat_postEphemeral(
        channel="C1", user="U2", text="only you see this", thread_ts=root["ts"]
    )
    assert res["message_ts"]
    [seen] = slack.ephemerals
    assert (seen.channel, seen.user, seen.text, seen.thread_ts) == (
        "C1", "U2", "only you see this", root["ts"]
    )
    assert [m["text"] for m in slack.thread("C1", root["ts"])] == ["question"]  # not stored
    slack.add_channel("C2", member=False)
    cases = [
        ({"channel": "C2", "user": "U2", "text": "x"}, "not_in_channel"),
        ({"channel": "nope", "user": "U2", "text": "x"}, "channel_not_found"),
        ({"channel": "C1", "user": "B1", "text": "x"}, "user_not_found"),
        ({"channel": "C1", "user": "U2"}, "no_text"),
    ]
    for kwargs, error in cases:
        assert await error_of(client.api_call("chat.postEphemeral", json=kwargs)) == error
    assert len(slack.ephemerals) == 1


async def test_conversations_info_needs_read_scopes_and_hides_private_channels(
    slack: FakeSlack,
) -> None:
    client = web(slack)
    slack.add_channel("C2", name="random", member=False)
    slack.add_channel("C3", name="secret", member=False, private=True)
    slack.revoke("channels:read")  # an install from a manifest without it
    assert await error_of(client.conversations_info(channel="C2")) == "missing_scope"
    slack.grant("channels:read", "groups:read", "im:read")
    channel = (await client.conversations_info(channel="C2"))["channel"]
    assert (channel["name"], channel["is_channel"], channel["is_member"]) == ("random", True, False)
    assert await error_of(client.conversations_info(channel="C3")) == "channel_not_found"
    dm = (await client.conversations_info(channel=slack.im_of("U7")))["channel"]
    assert (dm["id"], dm["is_im"]) == ("D7", True)


# -- feedback buttons in blocks ------------------------------------------------------------


async def test_feedback_buttons_ride_on_stop_stream_post_and_update(slack: FakeSlack) -> None:
    client = web(slack)
    root = slack.add_message("D1", "question")
    stream = await client.chat_startStream(channel="D1", thread_ts=root["ts"], markdown_text="A")
    await client.chat_stopStream(channel="D1", ts=stream["ts"], blocks=[feedback_block()])
    assert slack.feedback_buttons("D1", stream["ts"]) == feedback_block()["elements"][0]
    assert slack.bot_replies("D1", root["ts"])[0]["text"] == "A"
    posted = await client.chat_postMessage(
        channel="D1", thread_ts=root["ts"], text="B", blocks=[feedback_block(block_id="fb")]
    )
    assert posted["message"]["blocks"][0]["block_id"] == "fb"
    await client.chat_update(channel="D1", ts=posted["ts"], text="B2", blocks=[])
    assert slack.feedback_buttons("D1", posted["ts"]) is None


@pytest.mark.parametrize(
    "block",
    [
        feedback_block(elements=[]),
        feedback_block(elements=[buttons()] * 6),
        feedback_block(elements=[buttons(), buttons()]),  # the same action_id twice
        feedback_block(elements=[buttons(negative_button=None)]),
        feedback_block(elements=[buttons(positive_button={"text": "Good", "value": "v"})]),
        feedback_block(
            elements=[buttons(positive_button={"text": {"type": "mrkdwn", "text": "*G*"}})]
        ),
        feedback_block(
            elements=[buttons(positive_button={"text": {"type": "plain_text", "text": "G" * 76}})]
        ),
        feedback_block(elements=[buttons(postive_button={})]),  # a typo: an unknown key
        feedback_block(elements=[{"type": "button", "text": {"type": "plain_text", "text": "x"}}]),
        {"type": "actions", "elements": [buttons()]},  # feedback buttons outside context_actions
        feedback_block(elements=[{"type": ["feedback_buttons"]}]),
    ],
)
async def test_malformed_feedback_blocks_are_refused_and_change_nothing(
    slack: FakeSlack, block: dict[str, Any]
) -> None:
    client = web(slack)
    root = slack.add_message("D1", "question")
    err = await error_of(client.chat_postMessage(channel="D1", text="x", blocks=[block]))
    assert err == "invalid_blocks"
    stream = await client.chat_startStream(channel="D1", thread_ts=root["ts"], markdown_text="A")
    call = client.chat_stopStream(channel="D1", ts=stream["ts"], markdown_text="B", blocks=[block])
    assert await error_of(call) == "invalid_blocks"
    [live] = slack.bot_replies("D1", root["ts"])
    assert (live["text"], live["streaming"]) == ("A", True)


async def test_icon_buttons_are_accepted_beside_feedback_buttons(slack: FakeSlack) -> None:
    icon = {
        "type": "icon_button",
        "icon": "trash",
        "text": {"type": "plain_text", "text": "Delete"},
        "action_id": "delete",
        "value": "delete_item",
    }
    block = feedback_block(elements=[buttons(), icon])
    await web(slack).chat_postMessage(channel="D1", text="x", blocks=[block])


# -- Socket Mode, seen by slack_sdk's client -----------------------------------------------


class Socket:
    """A connected slack_sdk Socket Mode client that records requests and acks them."""

    def __init__(self, slack: FakeSlack, ack: bool = True, ack_payload: Any = None) -> None:
        self.client = SocketModeClient(
            app_token=slack.app_token, web_client=web(slack), ping_interval=0.5
        )
        self.seen: list[SocketModeRequest] = []
        self.ack, self.ack_payload = ack, ack_payload
        self.client.socket_mode_request_listeners.append(self._on_request)  # type: ignore[arg-type]

    async def _on_request(self, client: SocketModeClient, req: SocketModeRequest) -> None:
        self.seen.append(req)
        if self.ack:
            reply = SocketModeResponse(envelope_id=req.envelope_id, payload=self.ack_payload)
            await client.send_socket_mode_response(reply)


@pytest.fixture
async def socket(slack: FakeSlack) -> AsyncIterator[Socket]:
    sock = Socket(slack)
    await sock.client.connect()
    yield sock
    await sock.client.close()


async def test_assistant_thread_events_have_slacks_shape(slack: FakeSlack, socket: Socket) -> None:
    thread = await slack.start_assistant_thread("U1", context_channel="C1")
    assert (thread.channel, thread.user) == ("D1", "U1")
    await slack.wait_for(lambda: len(socket.seen) == 1)
    started = socket.seen[0]
    assert started.type == "events_api" and started.retry_attempt == 0
    event = started.payload["event"]
    assert event["type"] == "assistant_thread_started" and event["event_ts"]
    assert event["assistant_thread"] == {
        "user_id": "U1",
        "context": {"channel_id": "C1", "team_id": "T1"},
        "channel_id": "D1",
        "thread_ts": thread.thread_ts,
    }
    [root] = (await web(slack).conversations_replies(channel="D1", ts=thread.thread_ts))["messages"]
    assert (root["subtype"], root["user"]) == ("assistant_app_thread", "U1")
    assert root["text"].startswith("Chats from ")

    await slack.change_assistant_context(thread, "C2")
    msg = await slack.assistant_message(thread, "Summarise #C2")
    await slack.wait_for(lambda: len(socket.seen) == 3)
    changed = socket.seen[1].payload["event"]
    assert changed["type"] == "assistant_thread_context_changed"
    assert changed["assistant_thread"]["context"]["channel_id"] == "C2"
    said = socket.seen[2].payload["event"]
    assert (said["type"], said["channel"], said["channel_type"]) == ("message", "D1", "im")
    assert (said["thread_ts"], said["ts"], said["user"]) == (thread.thread_ts, msg["ts"], "U1")
    assert said["parent_user_id"] == "U1" and said["assistant_thread"]["action_token"]
    assert "context" not in said["assistant_thread"]
    for envelope in slack.envelopes:
        assert await slack.acked(envelope["envelope_id"]) is None  # a bare ack


async def answered_with_feedback(slack: FakeSlack, channel: str = "D1") -> tuple[str, str]:
    """A question in ``channel`` and the bot's streamed answer with feedback buttons."""
    client = web(slack)
    root = slack.add_message(channel, "question")
    stream = await client.chat_startStream(
        channel=channel,
        thread_ts=root["ts"],
        markdown_text="An answer",
        recipient_user_id="U1",
        recipient_team_id="T1",
    )
    await client.chat_stopStream(channel=channel, ts=stream["ts"], blocks=[feedback_block()])
    return root["ts"], stream["ts"]


async def test_a_feedback_click_is_an_interactive_block_actions_envelope(
    slack: FakeSlack,
) -> None:
    socket = Socket(slack, ack_payload={"text": "noted"})
    await socket.client.connect()
    try:
        thread_ts, ts = await answered_with_feedback(slack)
        envelope_id = await slack.click_feedback("D1", ts, positive=False, user="U1")
        assert await slack.acked(envelope_id) == {"text": "noted"}  # the ack's payload
    finally:
        await socket.client.close()
    envelope = slack.envelopes[-1]
    assert envelope["type"] == "interactive" and envelope["accepts_response_payload"] is False
    assert "retry_attempt" not in envelope  # only events_api envelopes are retried
    payload = socket.seen[-1].payload
    assert payload["type"] == "block_actions" and payload["api_app_id"] == "A1"
    assert payload["user"]["id"] == "U1" and payload["team"]["id"] == "T1"
    assert payload["channel"] == {"id": "D1", "name": "directmessage"}
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": "D1",
        "is_ephemeral": False,
        "thread_ts": thread_ts,
    }
    [action] = payload["actions"]
    assert (action["type"], action["action_id"], action["value"]) == (
        "feedback_buttons",
        "feedback",
        "bad-feedback",
    )
    assert action["text"]["text"] == "Bad" and action["action_ts"]
    message = payload["message"]
    assert (message["ts"], message["bot_id"], message["text"]) == (ts, "BBOT", "An answer")
    assert message["blocks"][0]["block_id"] == action["block_id"]  # Slack names the block
    assert payload["trigger_id"] and payload["state"] == {"values": {}}
    assert payload["response_url"].startswith(f"http://127.0.0.1:{slack.port}/actions/")


async def test_response_url_posts_are_recorded_and_can_replace_the_message(
    slack: FakeSlack, socket: Socket
) -> None:
    thread_ts, ts = await answered_with_feedback(slack)
    await slack.click_feedback("D1", ts)
    await slack.wait_for(lambda: bool(socket.seen))
    url = socket.seen[0].payload["response_url"]
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"text": "Thanks!", "response_type": "ephemeral"}) as res:
            assert res.status == 200 and (await res.json())["ok"] is True
        async with http.post(url, json={"text": "Rated", "replace_original": True}) as res:
            assert res.status == 200
        async with http.post(url.rsplit("/", 1)[0] + "/wrong", json={"text": "x"}) as res:
            assert res.status == 404
    assert [(r.channel, r.ts, r.body["text"]) for r in slack.responses] == [
        ("D1", ts, "Thanks!"),
        ("D1", ts, "Rated"),
    ]
    assert slack.bot_text("D1", thread_ts) == "Rated"
    with pytest.raises(LookupError):
        await slack.click_feedback("D1", thread_ts)  # the question carries no buttons


async def test_a_message_shortcut_is_an_interactive_message_action(
    slack: FakeSlack, socket: Socket
) -> None:
    slack.add_channel("C1", name="general")
    msg = slack.add_message("C1", "What did we decide?", user="U2")
    envelope_id = await slack.message_shortcut("ask_gpt", "C1", msg["ts"], user="U1")
    await slack.acked(envelope_id)
    payload = socket.seen[0].payload
    assert socket.seen[0].type == "interactive"
    assert (payload["type"], payload["callback_id"]) == ("message_action", "ask_gpt")
    assert payload["message_ts"] == msg["ts"] and payload["message"]["text"] == msg["text"]
    assert payload["message"]["user"] == "U2" and payload["user"]["id"] == "U1"
    assert payload["channel"] == {"id": "C1", "name": "general"}
    assert payload["trigger_id"] and payload["action_ts"] and payload["response_url"]


async def test_an_unacked_interaction_misses_the_deadline_and_is_not_retried() -> None:
    async with FakeSlack(ack_timeout=0.1) as slack:
        socket = Socket(slack, ack=False)
        await socket.client.connect()
        try:
            _, ts = await answered_with_feedback(slack)
            envelope_id = await slack.click_feedback("D1", ts)
            with pytest.raises(AssertionError, match=r"within 0\.3s"):
                await slack.acked(envelope_id, within=0.3)
            await asyncio.sleep(0.3)
            assert len(socket.seen) == 1 and len(slack.envelopes) == 1
        finally:
            await socket.client.close()


# -- a real Bolt app ------------------------------------------------------------------------


@asynccontextmanager
async def bolt(slack: FakeSlack, app: AsyncApp) -> AsyncIterator[AsyncSocketModeHandler]:
    """``app`` connected to the fake over Socket Mode (its client's base_url leads there)."""
    handler = AsyncSocketModeHandler(app, slack.app_token, ping_interval=0.5)
    await handler.connect_async()
    try:
        yield handler
    finally:
        await handler.close_async()


def bolt_app(slack: FakeSlack) -> AsyncApp:
    return AsyncApp(client=web(slack), logger=logging.getLogger("test-bolt"))


async def test_bolts_assistant_middleware_handles_the_assistant_events(slack: FakeSlack) -> None:
    slack.grant("assistant:write")
    app, assistant, seen = bolt_app(slack), AsyncAssistant(), {}

    @assistant.thread_started
    async def started(say, set_suggested_prompts, get_thread_context, context) -> None:
        seen["started"] = (await get_thread_context(), context.channel_id, context.thread_ts)
        await say("How can I help?")
        await set_suggested_prompts(prompts=PROMPTS, title="Try")

    @assistant.thread_context_changed
    async def changed(payload: dict) -> None:
        seen["changed"] = payload["assistant_thread"]["context"]

    @assistant.user_message
    async def asked(payload: dict, say, set_status, set_title) -> None:
        seen.setdefault("asked", []).append(payload["text"])
        await set_status("is thinking...")
        await set_title(payload["text"])
        await say(f"You said: {payload['text']}")

    app.assistant(assistant)
    async with bolt(slack, app):
        thread = await slack.start_assistant_thread("U1", context_channel="C1")
        key = (thread.channel, thread.thread_ts)
        await slack.wait_for(lambda: key in slack.suggested_prompts)
        context, channel, thread_ts = seen["started"]
        assert (context.channel_id, channel, thread_ts) == ("C1", "D1", thread.thread_ts)
        assert slack.suggested_prompts[key].prompts == PROMPTS
        await slack.change_assistant_context(thread, "C2")
        await slack.wait_for(lambda: "changed" in seen)
        assert seen["changed"]["channel_id"] == "C2"
        await slack.assistant_message(thread, "Plan a trip")
        replies = await slack.answered(*key, count=2)
        assert [r["text"] for r in replies] == ["How can I help?", "You said: Plan a trip"]
        assert slack.titles[key] == "Plan a trip"
        assert slack.statuses[-1][:3] == ("D1", thread.thread_ts, "is thinking...")
        for envelope in slack.envelopes:
            await slack.acked(envelope["envelope_id"])


async def test_the_assistant_middleware_takes_every_dm_thread_reply(slack: FakeSlack) -> None:
    """Bolt tells an assistant thread by ``channel_type: im`` + ``thread_ts`` alone."""
    app, assistant, seen = bolt_app(slack), AsyncAssistant(), []

    @assistant.user_message
    async def asked(payload: dict) -> None:
        seen.append(("assistant", payload["text"]))

    @app.event("message")
    async def message(event: dict) -> None:
        seen.append(("event", event["text"]))

    app.assistant(assistant)
    async with bolt(slack, app):
        top = await slack.dm("a plain DM")
        await slack.dm("a reply in an ordinary DM thread", thread_ts=top["ts"])
        await slack.wait_for(lambda: len(seen) == 2)
    assert sorted(seen) == [
        ("assistant", "a reply in an ordinary DM thread"),
        ("event", "a plain DM"),
    ]


async def test_plain_event_listeners_get_the_assistant_helpers_too(slack: FakeSlack) -> None:
    slack.grant("assistant:write")
    app, seen = bolt_app(slack), {}

    @app.event("assistant_thread_started")
    async def started(event: dict, say, set_suggested_prompts, context) -> None:
        seen["started"] = (event["assistant_thread"]["context"], context.channel_id)
        await say("Hello")
        await set_suggested_prompts(prompts=PROMPTS)

    @app.event("message")
    async def message(event: dict, say, set_status) -> None:
        seen["message"] = event
        await set_status("is thinking...")
        await say("An answer")

    async with bolt(slack, app):
        thread = await slack.start_assistant_thread("U3", context_channel="C1")
        key = (thread.channel, thread.thread_ts)
        await slack.wait_for(lambda: key in slack.suggested_prompts)
        await slack.assistant_message(thread, "question")
        replies = await slack.answered(*key, count=2)
    assert seen["started"] == ({"channel_id": "C1", "team_id": "T1"}, "D3")
    assert [r["text"] for r in replies] == ["Hello", "An answer"]  # say() stays in the thread
    assert seen["message"]["assistant_thread"]["action_token"]
    assert slack.statuses[-1][:3] == ("D3", thread.thread_ts, "is thinking...")


async def test_bolt_acks_a_feedback_click_and_responds(slack: FakeSlack) -> None:
    app, seen = bolt_app(slack), {}

    @app.action("feedback")
    async def feedback(ack, action: dict, body: dict, respond, context) -> None:
        await ack()
        seen["click"] = (action["value"], body["message"]["ts"], context.channel_id)
        await respond(text="Thanks for the feedback", response_type="ephemeral")

    async with bolt(slack, app):
        thread_ts, ts = await answered_with_feedback(slack)
        started = time.monotonic()
        envelope_id = await slack.click_feedback("D1", ts, positive=True)
        assert await slack.acked(envelope_id) is None
        await slack.wait_for(lambda: bool(slack.responses))
    assert slack.acks[envelope_id] - started < 3.0
    assert seen["click"] == ("good-feedback", ts, "D1")
    [response] = slack.responses
    assert (response.channel, response.ts) == ("D1", ts)
    assert response.body["text"] == "Thanks for the feedback"
    assert slack.bot_text("D1", thread_ts) == "An answer"  # an ephemeral reply leaves it


async def test_bolt_acks_a_message_shortcut(slack: FakeSlack) -> None:
    app, seen = bolt_app(slack), {}

    @app.shortcut("ask_gpt")
    async def shortcut(ack, shortcut: dict, context) -> None:
        await ack()
        seen["shortcut"] = (shortcut["message"]["text"], shortcut["channel"]["id"])
        seen["context"] = (context.channel_id, context.user_id)

    async with bolt(slack, app):
        msg = slack.add_message("C1", "Is this right?", user="U2")
        envelope_id = await slack.message_shortcut("ask_gpt", "C1", msg["ts"], user="U1")
        await slack.acked(envelope_id)
        await slack.wait_for(lambda: "shortcut" in seen)
    assert seen == {"shortcut": ("Is this right?", "C1"), "context": ("C1", "U1")}


async def test_an_action_nobody_listens_to_is_never_acked(slack: FakeSlack) -> None:
    async with bolt(slack, bolt_app(slack)):
        _, ts = await answered_with_feedback(slack)
        envelope_id = await slack.click_feedback("D1", ts)
        with pytest.raises(AssertionError):
            await slack.acked(envelope_id, within=0.5)


async def test_conversations_members_lists_who_is_in_a_channel_the_bot_may_see(
    slack: FakeSlack,
) -> None:
    client = web(slack)
    slack.add_channel("G1", name="team", private=True, people=("U2", "U1"))
    slack.add_channel("G2", name="secret", private=True, member=False, people=("U1",))
    assert (await client.conversations_members(channel="G1"))["members"] == ["U1", "U2", "UBOT"]
    first = await client.conversations_members(channel="G1", limit=2)
    assert first["members"] == ["U1", "U2"]
    cursor = first["response_metadata"]["next_cursor"]
    rest = await client.conversations_members(channel="G1", limit=2, cursor=cursor)
    assert rest["members"] == ["UBOT"] and rest["response_metadata"]["next_cursor"] == ""
    assert await error_of(client.conversations_members(channel="G2")) == "channel_not_found"
    slack.revoke("groups:read")
    assert await error_of(client.conversations_members(channel="G1")) == "missing_scope"

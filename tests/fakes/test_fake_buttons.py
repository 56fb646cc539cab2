"""The fake Slack's buttons: actions blocks checked as Slack checks them, and a click on a button
delivered over Socket Mode as Slack's ``block_actions`` interaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from fakes.slack import FakeSlack
from tests.helpers import web

CHANNEL = "C0BUTTONS1"


def button(action_id: str, label: str, **more: Any) -> dict:
    return {"type": "button", "action_id": action_id,
            "text": {"type": "plain_text", "text": label}, **more}


BUTTONS = [{"type": "actions", "block_id": "approval:1", "elements": [
    button("yes", "Approve", style="primary", value="r1"),
    button("no", "Deny", style="danger", value="r1"),
]}]


@pytest.fixture
async def seen(slack: FakeSlack) -> AsyncIterator[list[SocketModeRequest]]:
    """What a connected Socket Mode client receives (each acked)."""
    client = SocketModeClient(app_token=slack.app_token, web_client=web(slack))
    requests: list[SocketModeRequest] = []

    async def on_request(client: SocketModeClient, request: SocketModeRequest) -> None:
        requests.append(request)
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id))

    client.socket_mode_request_listeners.append(on_request)  # type: ignore[arg-type]
    await client.connect()
    yield requests
    await client.close()


async def post(slack: FakeSlack, blocks: list[dict], thread_ts: str | None = None) -> dict:
    return (await web(slack).chat_postMessage(channel=CHANNEL, text="May I?", blocks=blocks,
                                              thread_ts=thread_ts)).data  # type: ignore[return-value]


async def test_a_button_click_is_a_block_actions_interaction(slack: FakeSlack, seen) -> None:
    root = slack.add_message(CHANNEL, "file a ticket", user="U1")
    posted = await post(slack, BUTTONS, thread_ts=root["ts"])
    envelope_id = await slack.click_button(CHANNEL, posted["ts"], "no", user="U2")
    await slack.acked(envelope_id)
    payload = seen[-1].payload
    assert seen[-1].type == "interactive" and payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U2" and payload["channel"]["id"] == CHANNEL
    assert payload["container"] == {"type": "message", "message_ts": posted["ts"],
                                    "channel_id": CHANNEL, "is_ephemeral": False,
                                    "thread_ts": root["ts"]}
    [action] = payload["actions"]
    assert (action["type"], action["action_id"], action["block_id"]) == ("button", "no",
                                                                         "approval:1")
    assert (action["value"], action["style"], action["text"]["text"]) == ("r1", "danger", "Deny")
    assert action["action_ts"] and payload["response_url"].startswith("http://127.0.0.1:")
    assert payload["message"]["blocks"] == BUTTONS


async def test_only_a_button_the_message_shows_can_be_clicked(slack: FakeSlack, seen) -> None:
    posted = await post(slack, BUTTONS)
    with pytest.raises(LookupError):
        await slack.click_button(CHANNEL, posted["ts"], "maybe")
    await web(slack).chat_update(channel=CHANNEL, ts=posted["ts"], text="Decided", blocks=[
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Approved"}]}])
    with pytest.raises(LookupError):  # the buttons were replaced
        await slack.click_button(CHANNEL, posted["ts"], "yes")
    # a client that still shows the old message can click them
    envelope_id = await slack.click_button(CHANNEL, posted["ts"], "yes", seen=BUTTONS)
    await slack.acked(envelope_id)
    assert seen[-1].payload["actions"][0]["action_id"] == "yes"


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "actions", "elements": []}],
        [{"type": "actions", "elements": [button("a", "One"), button("a", "Two")]}],
        [{"type": "actions", "block_id": "x", "elements": [button("a", "One")]},
         {"type": "actions", "block_id": "x", "elements": [button("b", "Two")]}],
        [{"type": "actions", "elements": [button("a", "x" * 76)]}],
        [{"type": "actions", "elements": [button("a", "One", value="v" * 2001)]}],
    ],
)
async def test_actions_slack_would_refuse_are_invalid(slack: FakeSlack, blocks) -> None:
    with pytest.raises(SlackApiError) as refused:
        await post(slack, blocks)
    assert refused.value.response["error"] == "invalid_blocks"

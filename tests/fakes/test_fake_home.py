"""The fake speaks the Home tab as Slack does: ``views.publish`` as strict as its method page
(the user, a home view of valid Block Kit, its size, hash and external id, the Home tab
turned on in the manifest, Tier 4), and ``app_home_opened`` for the Home tab carrying the
view published for that person."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from fakes.slack import FakeSlack
from fakes.slack.limits import TIERS, method_limits
from tests.helpers import Listener, web

pytestmark = pytest.mark.timeout(15)

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*Today*: 1,200 tokens"}}
HOME = {"type": "home", "blocks": [
    {"type": "header", "text": {"type": "plain_text", "text": "Your usage"}}, SECTION,
]}


async def refused(call: Any) -> dict:
    """Slack's answer to a call it refuses."""
    with pytest.raises(SlackApiError) as info:
        await call
    return dict(info.value.response.data)


async def test_a_published_home_view_is_kept_and_read_back(slack: FakeSlack) -> None:
    answer = await web(slack).views_publish(user_id="U5", view=HOME)
    view = answer["view"]
    assert view["type"] == "home" and view["id"].startswith("V") and view["hash"]
    assert (view["team_id"], view["app_id"], view["bot_id"]) == (
        slack.team_id, slack.app_id, slack.bot_id)
    assert all(block["block_id"] for block in view["blocks"])  # Slack names every block
    assert slack.home_view("U5") == view and slack.home_view("U1") is None
    assert slack.home_text("U5") == "Your usage\n*Today*: 1,200 tokens"
    again = (await web(slack).views_publish(user_id="U5", view=json.dumps(HOME)))["view"]
    assert again["id"] == view["id"] and again["hash"] != view["hash"]  # JSON text too


async def test_the_user_and_the_view_are_checked(slack: FakeSlack) -> None:
    client = web(slack)
    bad_user = await refused(client.views_publish(user_id="C1", view=HOME))
    assert bad_user["error"] == "invalid_arguments"
    assert bad_user["response_metadata"]["messages"] == ["invalid `user_id`"]
    modal = {**HOME, "type": "modal", "title": {"type": "plain_text", "text": "Hi"}}
    for view in (modal, {"type": "home"}, "{not json", {**HOME, "blocks": []},
                 {**HOME, "submit": {"type": "plain_text", "text": "Go"}},
                 {**HOME, "id": "V1"}, {**HOME, "private_metadata": "x" * 3001}):
        answer = await refused(client.api_call("views.publish", json={"user_id": "U5",
                                                                      "view": view}))
        assert answer["error"] == "invalid_arguments", view
    assert (await refused(client.views_publish(user_id="U5", view={"type": "profile",
            "blocks": HOME["blocks"]})))["error"] == "not_implemented"
    missing = await refused(client.api_call("views.publish", json={"user_id": "U5"}))
    assert missing["response_metadata"]["messages"] == ["[ERROR] missing required field: view"]
    assert slack.home_view("U5") is None


async def test_blocks_are_block_kit_and_a_view_holds_100(slack: FakeSlack) -> None:
    client = web(slack)
    hundred = {"type": "home", "blocks": [SECTION] * 100}
    assert (await client.views_publish(user_id="U5", view=hundred))["ok"]
    for blocks in ([SECTION] * 101,
                   [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
                   [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
                   [{"type": "sparkle"}],
                   [{**SECTION, "block_id": "a"}, {**SECTION, "block_id": "a"}]):
        answer = await refused(client.views_publish(user_id="U6", view={"type": "home",
                                                                        "blocks": blocks}))
        assert answer["error"] == "invalid_arguments"
        assert answer["response_metadata"]["messages"][0].startswith("[ERROR]")


async def test_the_pages_own_errors(slack: FakeSlack) -> None:
    client = web(slack)
    huge = {"type": "home", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 90}
    assert (await refused(client.views_publish(user_id="U5", view=huge)))["error"] == (
        "view_too_large")
    first = (await client.views_publish(user_id="U5", view=HOME))["view"]
    stale = await refused(client.views_publish(user_id="U5", view=HOME, hash="1.2"))
    assert stale["error"] == "hash_conflict"
    assert (await client.views_publish(user_id="U5", view=HOME, hash=first["hash"]))["ok"]
    mine = {**HOME, "external_id": "home-1"}
    assert (await client.views_publish(user_id="U5", view=mine))["ok"]
    taken = await refused(client.views_publish(user_id="U6", view=mine))
    assert taken["error"] == "duplicate_external_id"
    slack.home_tab = False  # an install whose manifest has no Home tab
    assert (await refused(client.views_publish(user_id="U7", view=HOME)))["error"] == (
        "not_enabled")
    assert method_limits()["views.publish"] == TIERS[4]  # the page's rate tier


async def test_opening_the_home_tab_sends_the_view_published_there(
    slack: FakeSlack, listener: Listener
) -> None:
    await slack.open_home("U5", tab="home")
    await web(slack).views_publish(user_id="U5", view=HOME)
    await slack.open_home("U5", tab="home")
    await slack.wait_for(lambda: len(listener.events) == 2)
    first, second = listener.events
    assert (first["type"], first["tab"], first["user"]) == ("app_home_opened", "home", "U5")
    assert "view" not in first  # nothing published yet
    assert second["view"] == slack.home_view("U5")
    slack.home_tab = False
    with pytest.raises(LookupError, match="home_tab_enabled"):
        await slack.open_home("U5", tab="home")
    with pytest.raises(LookupError, match="no 'settings' tab"):
        await slack.open_home("U5", tab="settings")

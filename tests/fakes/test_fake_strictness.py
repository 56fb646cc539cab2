"""The fake refuses what Slack's method reference says Slack refuses, and takes the valid form.

Source of truth: the vendored pages in ../shared/slack_ref (args, scope, errors), slack-ruby's
arg_groups, and Slack's own SDK models for Block Kit and stream chunks.
"""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from fakes.slack import FakeSlack, reference
from fakes.slack.reference import ReferenceMissing
from fakes.slack.registry import Registry
from fakes.slack.state import Workspace
from fakes.slack.web_api import WebApi, handlers
from tests.helpers import web

pytestmark = pytest.mark.timeout(15)


async def refusal(slack: FakeSlack, method: str, **args: Any) -> dict[str, Any]:
    """The body of Slack's refusal of ``method`` called with ``args`` as JSON."""
    with pytest.raises(SlackApiError) as info:
        await web(slack).api_call(method, json=args)
    return dict(info.value.response.data)


async def accepted(slack: FakeSlack, method: str, **args: Any) -> dict[str, Any]:
    return dict((await web(slack).api_call(method, json=args)).data)


def stream_args(slack: FakeSlack) -> dict[str, str]:
    root = slack.add_message("D1", "question")
    return {"channel": "D1", "thread_ts": root["ts"]}


# -- methods ---------------------------------------------------------------------------------


async def test_a_name_slack_does_not_have_is_an_unknown_method(slack: FakeSlack) -> None:
    assert (await refusal(slack, "chat.postMesage", channel="C1", text="x"))["error"] == (
        "unknown_method"
    )
    assert slack.unimplemented == []


async def test_a_real_method_the_fake_lacks_is_refused_and_fails_the_test() -> None:
    slack = FakeSlack()
    await slack.start()
    msg = slack.add_message("C1", "hi")
    body = await refusal(slack, "chat.delete", channel="C1", ts=msg["ts"])
    assert body["error"] == "fake_not_implemented" and "chat.delete" in body["detail"]
    with pytest.raises(AssertionError, match=r"\['chat.delete'\]"):
        await slack.stop()
    assert slack.port and slack.sockets_open == 0  # stopped all the same


def test_every_method_the_fake_implements_has_a_page() -> None:
    ref = reference.load()
    assert set(handlers()) <= set(ref.methods)
    stray = Registry()
    stray.method("chat.fantasy")(lambda ws, params: {})
    with pytest.raises(ReferenceMissing, match=r"chat\.fantasy"):
        WebApi(Workspace(), stray, ref)


# -- scopes ----------------------------------------------------------------------------------


async def test_a_missing_scope_names_the_needed_one_and_the_granted_ones(slack: FakeSlack):
    assert (await accepted(slack, "users.info", user="U2"))["user"]["id"] == "U2"
    slack.revoke("users:read")  # an install from a manifest without it
    body = await refusal(slack, "users.info", user="U2")
    assert body["error"] == "missing_scope" and body["needed"] == "users:read"
    assert body["provided"] == slack.scopes and "chat:write" in body["provided"]
    slack.revoke("chat:write")
    body = await refusal(
        slack, "assistant.threads.setStatus", channel_id="C1", thread_ts="1.0", status="x"
    )
    assert body["needed"] == "chat:write"  # its page: chat:write, not assistant:write


async def test_conversation_reads_need_the_scope_of_that_kind_of_conversation(slack: FakeSlack):
    slack.revoke("groups:history")
    for channel in ("C1", "D1"):
        root = slack.add_message(channel, "root")
        await accepted(slack, "conversations.replies", channel=channel, ts=root["ts"])
    root = slack.add_message("G1", "root")
    body = await refusal(slack, "conversations.replies", channel="G1", ts=root["ts"])
    assert (body["error"], body["needed"]) == ("missing_scope", "groups:history")


# -- required arguments, types, enums, bounds -------------------------------------------------


async def test_a_missing_required_argument_is_invalid_arguments(slack: FakeSlack) -> None:
    body = await refusal(slack, "conversations.replies", channel="C1")
    assert body["error"] == "invalid_arguments"
    assert body["response_metadata"]["messages"] == ["[ERROR] missing required field: ts"]
    body = await refusal(slack, "reactions.add", channel="C1", timestamp="1.0")
    assert body["response_metadata"]["messages"] == ["[ERROR] missing required field: name"]
    assert (await refusal(slack, "users.info"))["error"] == "invalid_arguments"


async def test_arguments_of_the_wrong_type_are_refused(slack: FakeSlack) -> None:
    root = slack.add_message("C1", "root")
    body = await refusal(slack, "conversations.replies", channel="C1", ts=float(root["ts"]))
    assert body["response_metadata"]["messages"] == [
        "[ERROR] expected string, got number [json-pointer:/ts]"
    ]
    body = await refusal(slack, "chat.postMessage", channel="C1", text={"nested": "text"})
    assert body["error"] == "invalid_arguments"
    body = await refusal(slack, "chat.postMessage", channel="C1", text="x", unfurl_links="yes")
    assert body["error"] == "invalid_arguments"
    await accepted(slack, "chat.postMessage", channel="C1", text="x", unfurl_links=False)


async def test_form_and_query_arguments_may_be_text(slack: FakeSlack) -> None:
    root = slack.add_message("C1", "root")
    query = {"channel": "C1", "ts": root["ts"], "limit": "10", "inclusive": "true"}
    res = await web(slack).api_call("conversations.replies", http_verb="GET", params=query)
    assert res["messages"][0]["ts"] == root["ts"]
    form = {
        "channel": "C1",
        "text": "x",
        "unfurl_links": "false",
        "blocks": '[{"type": "divider"}]',
    }
    await web(slack).api_call("chat.postMessage", data=form)
    query |= {"limit": "many"}
    with pytest.raises(SlackApiError) as info:
        await web(slack).api_call("conversations.replies", http_verb="GET", params=query)
    assert info.value.response["error"] == "invalid_arguments"


@pytest.mark.parametrize(
    ("method", "args", "message"),
    [
        ("conversations.replies", {"limit": 1001}, "must be at most 1000 [json-pointer:/limit]"),
        ("conversations.replies", {"limit": 0}, "must be at least 1 [json-pointer:/limit]"),
        ("chat.startStream", {"task_display_mode": "grid"}, "must be one of"),
        ("assistant.threads.setStatus", {"loading_messages": ["…"] * 11}, "at most 10 items"),
        ("assistant.threads.setStatus", {"loading_messages": []}, "at least 1 items"),
        (
            "assistant.threads.setStatus",
            {"loading_messages": ["x" * 51]},
            "at most 50 characters [json-pointer:/loading_messages/0]",
        ),
    ],
)
async def test_enums_and_bounds_follow_the_page(
    slack: FakeSlack, method: str, args: dict[str, Any], message: str
) -> None:
    root = slack.add_message("C1", "root")
    where = {"channel": "C1", "ts": root["ts"], "thread_ts": root["ts"], "channel_id": "C1"}
    where |= {"status": "is thinking…", "recipient_user_id": "U1", "recipient_team_id": "T1"}
    page = reference.load().methods[method]
    given = {k: v for k, v in where.items() if k in page.properties} | args
    body = await refusal(slack, method, **given)
    assert body["error"] == "invalid_arguments"
    [problem] = body["response_metadata"]["messages"]
    assert message in problem


async def test_the_valid_forms_of_those_arguments_are_taken(slack: FakeSlack) -> None:
    root = slack.add_message("C1", "root")
    await accepted(slack, "conversations.replies", channel="C1", ts=root["ts"], limit=1000)
    status = {"channel_id": "C1", "thread_ts": root["ts"], "status": "is thinking…"}
    await accepted(slack, "assistant.threads.setStatus", **status, loading_messages=["x" * 50])
    await accepted(slack, "chat.startStream", **stream_args(slack), task_display_mode="plan")


# -- argument groups and text limits ---------------------------------------------------------


@pytest.mark.parametrize("method", ["chat.postMessage", "chat.update", "chat.postEphemeral"])
@pytest.mark.parametrize("other", [{"text": "plain"}, {"blocks": [{"type": "divider"}]}])
async def test_markdown_text_with_text_or_blocks_is_a_conflict(
    slack: FakeSlack, method: str, other: dict[str, Any]
) -> None:
    posted = await accepted(slack, "chat.postMessage", channel="C1", markdown_text="**hi**")
    where = {"channel": "C1", "ts": posted["ts"], "user": "U1"}
    page = reference.load().methods[method]
    where = {k: v for k, v in where.items() if k in page.properties}
    body = await refusal(slack, method, **where, markdown_text="**hi**", **other)
    assert body["error"] == "markdown_text_conflict"
    await accepted(slack, method, **where, markdown_text="**alone**")


async def test_markdown_text_alone_is_what_people_see(slack: FakeSlack) -> None:
    root = slack.add_message("C1", "root")
    args = {"channel": "C1", "thread_ts": root["ts"], "markdown_text": "**bold**"}
    posted = await accepted(slack, "chat.postMessage", **args)
    assert slack.bot_text("C1", root["ts"]) == "**bold**"
    await accepted(slack, "chat.update", channel="C1", ts=posted["ts"], text="plain now")
    assert slack.bot_text("C1", root["ts"]) == "plain now"


async def test_a_message_with_nothing_to_show_has_no_text(slack: FakeSlack) -> None:
    assert (await refusal(slack, "chat.postMessage", channel="C1"))["error"] == "no_text"
    body = await refusal(slack, "chat.postMessage", channel="C1", text="", markdown_text="")
    assert body["error"] == "no_text"


async def test_chat_update_text_stops_at_4000_characters(slack: FakeSlack) -> None:
    posted = await accepted(slack, "chat.postMessage", channel="C1", text="draft")
    body = await refusal(slack, "chat.update", channel="C1", ts=posted["ts"], text="x" * 4_001)
    assert body["error"] == "msg_too_long"
    await accepted(slack, "chat.update", channel="C1", ts=posted["ts"], text="x" * 4_000)
    await accepted(slack, "chat.postMessage", channel="C1", text="y" * 4_001)  # not a limit there


# -- streams: chunks -------------------------------------------------------------------------


GOOD_CHUNKS = [
    {"type": "markdown_text", "text": "Looking "},
    {"type": "plan_update", "title": "Plan"},
    {
        "type": "task_update",
        "id": "t1",
        "title": "Read the thread",
        "status": "in_progress",
        "details": "12 messages",
        "sources": [{"type": "url", "url": "https://example.com", "text": "Example"}],
    },
    {"type": "blocks", "blocks": [{"type": "divider"}]},
]


async def test_well_formed_chunks_are_streamed(slack: FakeSlack) -> None:
    started = await accepted(slack, "chat.startStream", **stream_args(slack), chunks=GOOD_CHUNKS)
    where = {"channel": "D1", "ts": started["ts"]}
    await accepted(
        slack, "chat.appendStream", **where, chunks=[{"type": "markdown_text", "text": "closer."}]
    )
    await accepted(slack, "chat.stopStream", **where)
    assert slack.channel_messages("D1")[-1]["text"] == "Looking closer."


@pytest.mark.parametrize(
    ("chunk", "error"),
    [
        ({"type": "markdown"}, "invalid_chunks"),  # no such chunk
        ({"type": "markdown_text"}, "invalid_chunks"),  # no text
        ({"type": "markdown_text", "text": 42}, "invalid_chunks"),
        ({"type": "markdown_text", "text": "x", "style": "bold"}, "invalid_chunks"),
        ({"type": "plan_update"}, "invalid_chunks"),
        ({"type": "task_update", "id": "t", "title": "T", "status": "done"}, "invalid_chunks"),
        ({"type": "task_update", "id": "t", "title": "T"}, "invalid_chunks"),
        (
            {
                "type": "task_update",
                "id": "t",
                "title": "T",
                "status": "complete",
                "sources": [{"type": "url", "url": "https://example.com"}],
            },
            "invalid_chunks",
        ),
        ({"type": "blocks", "blocks": "divider"}, "invalid_chunks"),
        ({"type": "blocks", "blocks": [{"type": "sparkles"}]}, "invalid_blocks"),
        ("just text", "invalid_chunks"),
    ],
)
async def test_malformed_chunks_are_refused(slack: FakeSlack, chunk: Any, error: str) -> None:
    started = await accepted(slack, "chat.startStream", **stream_args(slack), markdown_text="A")
    body = await refusal(slack, "chat.appendStream", channel="D1", ts=started["ts"], chunks=[chunk])
    assert body["error"] == error
    assert slack.channel_messages("D1")[-1]["text"] == "A"


async def test_append_needs_markdown_text_or_chunks(slack: FakeSlack) -> None:
    started = await accepted(slack, "chat.startStream", **stream_args(slack))
    body = await refusal(slack, "chat.appendStream", channel="D1", ts=started["ts"])
    assert body["response_metadata"]["messages"] == [
        "[ERROR] missing required field: markdown_text"
    ]


# -- Block Kit -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "block",
    [
        {"type": "sparkles", "text": "✨"},  # no such block
        {"type": "section"},  # neither text nor fields
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},  # over 150
        {"type": "markdown", "text": ""},
        {"type": "actions", "elements": [{"type": "sparkle_button"}]},  # no such element
    ],
)
async def test_blocks_slack_would_not_render_are_invalid(slack: FakeSlack, block: Any) -> None:
    body = await refusal(slack, "chat.postMessage", channel="C1", text="t", blocks=[block])
    assert body["error"] == "invalid_blocks"


async def test_well_formed_blocks_are_taken(slack: FakeSlack) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Answer"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*bold*"}},
        {"type": "divider"},
        {"type": "markdown", "text": "**more**"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "gpt-test"}]},
    ]
    await accepted(slack, "chat.postMessage", channel="C1", text="t", blocks=blocks)

"""The fakes answer the real clients (slack_sdk, openai) the way the real services do."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from fakes.openai import FakeOpenAI, Reply
from fakes.slack import FakeSlack

pytestmark = pytest.mark.timeout(10)


def web(slack: FakeSlack, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(token=token or slack.bot_token, base_url=slack.api_url)


def oai(fake: FakeOpenAI, **kw: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, **kw)


async def error_of(call: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call  # type: ignore[misc]
    return info.value


# -- Slack Web API -------------------------------------------------------------------


async def test_auth_test_identifies_the_bot_and_its_scopes(slack: FakeSlack) -> None:
    res = await web(slack).auth_test()
    assert (res["user_id"], res["bot_id"], res["team_id"]) == ("UBOT", "BBOT", "T1")
    assert "chat:write" in res.headers["x-oauth-scopes"]
    assert slack.calls[0].method == "auth.test" and slack.calls[0].token == slack.bot_token


async def test_tokens_are_checked_like_slack(slack: FakeSlack) -> None:
    app = web(slack, slack.app_token)
    err = await error_of(app.chat_postMessage(channel="C1", text="x"))
    assert err.response["error"] == "not_allowed_token_type"
    bot_open = web(slack).apps_connections_open(app_token=slack.bot_token)
    assert (await error_of(bot_open)).response["error"] == "not_allowed_token_type"
    assert (await error_of(web(slack, "xoxb-nope").auth_test())).response["error"] == "invalid_auth"
    anonymous = AsyncWebClient(base_url=slack.api_url).auth_test()
    assert (await error_of(anonymous)).response["error"] == "not_authed"
    assert (await error_of(web(slack).api_call("chat.nope"))).response["error"] == "unknown_method"
    url = (await app.apps_connections_open(app_token=slack.app_token))["url"]
    assert url.startswith(f"ws://127.0.0.1:{slack.port}/link/?ticket=")
    assert slack.connections_opened == 1


async def test_post_message_lands_in_the_thread_with_slack_limits(slack: FakeSlack) -> None:
    client = web(slack)
    root = slack.add_message("C1", "<@UBOT> hi")
    res = await client.chat_postMessage(channel="C1", thread_ts=root["ts"], text="hello")
    assert res["message"]["bot_id"] == "BBOT" and res["message"]["user"] == "UBOT"
    md = [{"type": "markdown", "text": "**bold** answer"}]
    await client.chat_postMessage(channel="C1", thread_ts=root["ts"], text="fb", blocks=md)
    long = await client.chat_postMessage(channel="C1", thread_ts=root["ts"], text="x" * 45_000)
    assert [m["text"] for m in slack.bot_replies("C1", root["ts"])] == [
        "hello",
        "**bold** answer",
        "x" * 40_000,
    ]
    assert long["message"]["text"] == "x" * 40_000
    assert slack.thread("C1", root["ts"])[0]["text"] == "<@UBOT> hi"
    with pytest.warns(UserWarning, match="`text` argument is missing"):  # the sdk warns too
        err = await error_of(client.chat_postMessage(channel="C1"))
    assert err.response["error"] == "no_text"
    too_much = [{"type": "markdown", "text": "y" * 6_001}] * 2
    err = await error_of(client.chat_postMessage(channel="C1", text="t", blocks=too_much))
    assert err.response["error"] == "msg_blocks_too_long"
    many = [{"type": "divider"}] * 51
    err = await error_of(client.chat_postMessage(channel="C1", text="t", blocks=many))
    assert err.response["error"] == "invalid_blocks"


async def test_post_message_accepts_form_encoded_bodies(slack: FakeSlack) -> None:
    client = web(slack)
    blocks = '[{"type": "markdown", "text": "from a form"}]'
    form = {"channel": "C1", "text": "fallback", "blocks": blocks}
    res = await client.api_call("chat.postMessage", data=form)
    assert slack.calls_to("chat.postMessage")[0].params["blocks"][0]["text"] == "from a form"
    assert slack.thread("C1", res["ts"])[0]["text"] == "from a form"


async def test_replies_paginate_root_first() -> None:
    async with FakeSlack(page_size=2) as slack:
        root = slack.add_message("C1", "root")
        for i in range(4):
            slack.add_message("C1", f"r{i}", user="U2", thread_ts=root["ts"])
        slack.add_message("C1", "elsewhere")
        client, texts, cursor, pages = web(slack), [], None, 0
        while True:
            res = await client.conversations_replies(channel="C1", ts=root["ts"], cursor=cursor)
            pages += 1
            texts += [m["text"] for m in res["messages"]]
            cursor = res["response_metadata"]["next_cursor"]
            assert res["has_more"] == bool(cursor)
            if not cursor:
                break
        assert texts == ["root", "r0", "r1", "r2", "r3"] and pages == 3
        first = (await client.conversations_replies(channel="C1", ts=root["ts"]))["messages"][0]
        assert first["reply_count"] == 4 and first["thread_ts"] == root["ts"]
        err = await error_of(client.conversations_replies(channel="C1", ts="1.000001"))
        assert err.response["error"] == "thread_not_found"


async def test_update_follows_slack_rules(slack: FakeSlack) -> None:
    client = web(slack)
    root = slack.add_message("C1", "question")
    posted = await client.chat_postMessage(channel="C1", thread_ts=root["ts"], text="draft")
    await client.chat_update(channel="C1", ts=posted["ts"], text="final")
    assert slack.bot_replies("C1", root["ts"])[0]["text"] == "final"
    cases = {
        "message_not_found": {"ts": "1.000002", "text": "x"},
        "cant_update_message": {"ts": root["ts"], "text": "x"},
        "msg_too_long": {"ts": posted["ts"], "text": "x" * 40_001},
    }
    for error, kwargs in cases.items():
        err = await error_of(client.chat_update(channel="C1", **kwargs))  # type: ignore[arg-type]
        assert err.response["error"] == error
    stream = await client.chat_startStream(channel="D1", thread_ts=root["ts"])
    err = await error_of(client.chat_update(channel="D1", ts=stream["ts"], text="x"))
    assert err.response["error"] == "streaming_state_conflict"


async def test_stream_methods_build_the_visible_text(slack: FakeSlack) -> None:
    client = web(slack)
    root = slack.add_message("C1", "<@UBOT> tell me")
    err = await error_of(client.chat_startStream(channel="C1", thread_ts=root["ts"]))
    assert err.response["error"] == "missing_recipient_user_id"
    err = await error_of(
        client.chat_startStream(channel="C1", thread_ts=root["ts"], recipient_user_id="U1")
    )
    assert err.response["error"] == "missing_recipient_team_id"
    started = await client.chat_startStream(
        channel="C1",
        thread_ts=root["ts"],
        recipient_user_id="U1",
        recipient_team_id="T1",
        markdown_text="Hel",
    )
    ts = started["ts"]
    await client.chat_appendStream(channel="C1", ts=ts, markdown_text="lo ")
    [live] = slack.bot_replies("C1", root["ts"])
    assert (live["text"], live["streaming"], live["ts"]) == ("Hello ", True, ts)
    err = await error_of(client.chat_appendStream(channel="C1", ts=ts, markdown_text="z" * 12_001))
    assert err.response["error"] == "msg_too_long"
    await client.chat_stopStream(channel="C1", ts=ts, markdown_text="world")
    reply = slack.bot_replies("C1", root["ts"])[0]
    assert (reply["text"], reply["streaming"]) == ("Hello world", False)
    err = await error_of(client.chat_appendStream(channel="C1", ts=ts, markdown_text="!"))
    assert err.response["error"] == "message_not_in_streaming_state"


async def test_sdk_chat_stream_helper_sends_chunks(slack: FakeSlack) -> None:
    root = slack.add_message("D1", "hi")
    stream = await web(slack).chat_stream(channel="D1", thread_ts=root["ts"], buffer_size=8)
    for piece in ["Once ", "upon ", "a time ", "there was a fake."]:
        await stream.append(markdown_text=piece)
    assert slack.bot_replies("D1", root["ts"])[0]["streaming"] is True
    await stream.stop()
    assert [c.method for c in slack.calls] == [
        "chat.startStream",
        "chat.appendStream",
        "chat.stopStream",
    ]
    assert "chunks" in slack.calls[0].params
    assert slack.thread("D1", root["ts"])[1]["text"] == "Once upon a time there was a fake."


async def test_stop_by_user_and_cumulative_stream_cap(slack: FakeSlack) -> None:
    client = web(slack)
    root = slack.add_message("D1", "hi")
    started = await client.chat_startStream(channel="D1", thread_ts=root["ts"], markdown_text="a")
    ts = started["ts"]
    slack.stop_by_user("D1", ts)
    err = await error_of(client.chat_appendStream(channel="D1", ts=ts, markdown_text="b"))
    assert err.response["error"] == "stopped_by_user"
    ts2 = (await client.chat_startStream(channel="D1", thread_ts=root["ts"]))["ts"]
    await client.chat_appendStream(channel="D1", ts=ts2, markdown_text="c" * 11_000)
    err = await error_of(client.chat_appendStream(channel="D1", ts=ts2, markdown_text="c" * 1_001))
    assert err.response["error"] == "msg_too_long"


async def test_ratelimit_surfaces_as_429_or_is_retried(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=0)
    err = await error_of(web(slack).chat_postMessage(channel="C1", text="x"))
    assert err.response.status_code == 429 and err.response["error"] == "ratelimited"
    assert err.response.headers["Retry-After"] == "0"
    client = web(slack)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    slack.fail("chat.postMessage", status=429, retry_after=0)
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]
    assert len(slack.calls_to("chat.postMessage")) == 3


async def test_fail_injects_errors_for_n_calls(slack: FakeSlack) -> None:
    client = web(slack)
    slack.fail("reactions.add", "missing_scope", times=2)
    msg = slack.add_message("C1", "hi")
    for _ in range(2):
        err = await error_of(client.reactions_add(channel="C1", timestamp=msg["ts"], name="eyes"))
        assert err.response["error"] == "missing_scope"
    await client.reactions_add(channel="C1", timestamp=msg["ts"], name="eyes")
    assert slack.reactions[("C1", msg["ts"])] == {"eyes"}
    err = await error_of(client.reactions_add(channel="C1", timestamp=msg["ts"], name="eyes"))
    assert err.response["error"] == "already_reacted"
    err = await error_of(client.reactions_add(channel="C1", timestamp="1.000003", name="eyes"))
    assert err.response["error"] == "message_not_found"


async def test_status_is_recorded_and_cleared_by_a_reply(slack: FakeSlack) -> None:
    client = web(slack)
    root = slack.add_message("C1", "q")
    await client.assistant_threads_setStatus(
        channel_id="C1", thread_ts=root["ts"], status="is thinking...", loading_messages=["Hmm"]
    )
    assert slack.statuses[0][:4] == ("C1", root["ts"], "is thinking...", ["Hmm"])
    assert slack.current_status("C1", root["ts"]) == "is thinking..."
    await client.chat_postMessage(channel="C1", thread_ts=root["ts"], text="answer")
    assert slack.current_status("C1", root["ts"]) == ""
    user = (await client.users_info(user="U7"))["user"]
    assert user["id"] == "U7" and user["profile"]["display_name"]


async def test_latency_delays_every_response() -> None:
    async with FakeSlack(latency=0.2) as slack:
        start = time.monotonic()
        await web(slack).auth_test()
        assert time.monotonic() - start >= 0.2


# -- Socket Mode ---------------------------------------------------------------------


async def socket_client(
    slack: FakeSlack, seen: list[SocketModeRequest], ack_from: int | None = 0
) -> SocketModeClient:
    """A connected sdk client acking deliveries with retry_attempt >= ack_from (None: never)."""
    client = SocketModeClient(app_token=slack.app_token, web_client=web(slack), ping_interval=0.5)

    async def on_request(c: SocketModeClient, req: SocketModeRequest) -> None:
        seen.append(req)
        if ack_from is not None and req.retry_attempt >= ack_from:
            await c.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    client.socket_mode_request_listeners.append(on_request)  # type: ignore[arg-type]
    await client.connect()
    return client


async def test_socket_mode_delivers_mentions_and_records_acks(slack: FakeSlack) -> None:
    seen: list[SocketModeRequest] = []
    client = await socket_client(slack, seen)
    try:
        sent = time.monotonic()
        msg = await slack.mention("C1", "<@UBOT> hi", thread_ts="1.000001")
        await slack.wait_for(lambda: len(slack.acks) == 1)
        envelope_id = slack.envelopes[0]["envelope_id"]
        assert seen[0].envelope_id == envelope_id and seen[0].type == "events_api"
        event = seen[0].payload["event"]
        assert event["type"] == "app_mention" and event["ts"] == msg["ts"]
        assert event["thread_ts"] == "1.000001" and event["team"] == "T1"
        assert seen[0].payload["authorizations"][0]["user_id"] == "UBOT"
        assert sent < slack.acks[envelope_id] < time.monotonic() and slack.sockets_open == 1
        await slack.dm("hello")
        await slack.wait_for(lambda: len(seen) == 2)
        assert seen[1].payload["event"]["channel_type"] == "im"
        pinged = time.time()  # the client pings every 0.5 s and needs pongs to stay alive
        await slack.wait_for(lambda: (client.last_ping_pong_time or 0) > pinged, timeout=2)
        assert await client.is_connected()
    finally:
        await client.close()


async def test_unacked_events_are_redelivered_with_the_same_event_id() -> None:
    async with FakeSlack(ack_timeout=0.2) as slack:
        seen: list[SocketModeRequest] = []
        client = await socket_client(slack, seen, ack_from=1)
        try:
            await slack.mention("C1", "<@UBOT> hi")
            await slack.wait_for(lambda: len(slack.acks) == 1)
            await asyncio.sleep(0.5)
            assert [r.retry_attempt for r in seen] == [0, 1]
            assert seen[1].retry_reason == "timeout"
            assert seen[0].payload["event_id"] == seen[1].payload["event_id"]
        finally:
            await client.close()


async def test_redelivery_gives_up_after_three_retries() -> None:
    async with FakeSlack(ack_timeout=0.05) as slack:
        ws_client = await socket_client(slack, [], ack_from=None)
        try:
            await slack.mention("C1", "<@UBOT> hi")
            await slack.wait_for(lambda: len(slack.envelopes) == 4)
            await asyncio.sleep(0.2)
            assert [e["retry_attempt"] for e in slack.envelopes] == [0, 1, 2, 3]
        finally:
            await ws_client.close()


async def test_disconnect_and_drop_make_the_client_reconnect(slack: FakeSlack) -> None:
    seen: list[SocketModeRequest] = []
    client = await socket_client(slack, seen)
    try:
        await slack.disconnect("refresh_requested", close_after=0.3)
        await slack.wait_for(lambda: slack.connections_opened == 2 and slack.sockets_open == 1)
        await slack.drop()
        await slack.wait_for(lambda: slack.connections_opened == 3 and slack.sockets_open == 1)
        await slack.mention("C1", "<@UBOT> still there?")
        await slack.wait_for(lambda: len(slack.acks) == 1)
    finally:
        await client.close()


async def test_socket_tickets_are_single_use(slack: FakeSlack) -> None:
    opened = await web(slack, slack.app_token).apps_connections_open(app_token=slack.app_token)
    url = opened["url"]
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        hello = await ws.receive_json()
        assert hello["type"] == "hello" and hello["connection_info"]["app_id"] == "A1"
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(url)


# -- OpenAI --------------------------------------------------------------------------


async def test_streaming_matches_openai_chunks(llm: FakeOpenAI) -> None:
    async with oai(llm) as client:
        stream = await client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [c async for c in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(deltas) == "You said: hi" and len([d for d in deltas if d]) == 3
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3
    assert llm.request_headers[0]["Authorization"] == "Bearer sk-fake"


async def test_non_streaming_and_script_order(llm: FakeOpenAI) -> None:
    llm.script(Reply("first"), Reply(chunks=["a", "b"]))
    texts = []
    async with oai(llm) as client:
        for _ in range(3):
            res = await client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "again"}]
            )
            texts.append(res.choices[0].message.content)
        models = await client.models.list()
    assert texts == ["first", "ab", "You said: again"]
    assert res.usage is not None and res.usage.total_tokens > 0
    await llm.wait_for_requests(3)
    assert [r["messages"][0]["content"] for r in llm.requests] == ["again"] * 3
    assert "gpt-test" in [m.id for m in models.data]


@pytest.mark.parametrize(
    ("reply", "exc", "code"),
    [
        (
            Reply(status=429, error_code="insufficient_quota"),
            openai.RateLimitError,
            "insufficient_quota",
        ),
        (
            Reply(status=400, error_code="context_length_exceeded"),
            openai.BadRequestError,
            "context_length_exceeded",
        ),
        (Reply(status=500), openai.InternalServerError, None),
    ],
)
async def test_scripted_errors_raise_typed_exceptions(
    llm: FakeOpenAI, reply: Reply, exc: type[openai.APIStatusError], code: str | None
) -> None:
    llm.script(reply)
    async with oai(llm) as client:
        with pytest.raises(exc) as info:
            await client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "x"}]
            )
    assert info.value.code == code and info.value.status_code == reply.status


async def test_auth_model_and_body_errors(llm: FakeOpenAI) -> None:
    msgs: list[Any] = [{"role": "user", "content": "x"}]
    bad_key = openai.AsyncOpenAI(api_key="sk-wrong", base_url=llm.base_url, max_retries=0)
    async with bad_key, oai(llm) as client:
        with pytest.raises(openai.AuthenticationError) as auth:
            await bad_key.chat.completions.create(model="gpt-test", messages=msgs)
        with pytest.raises(openai.NotFoundError) as missing:
            await client.chat.completions.create(model="gpt-nope", messages=msgs)
        with pytest.raises(openai.BadRequestError) as empty:
            await client.chat.completions.create(model="gpt-test", messages=[])
    assert auth.value.code == "invalid_api_key" and auth.value.status_code == 401
    assert missing.value.code == "model_not_found" and missing.value.status_code == 404
    assert empty.value.param == "messages"
    assert len(llm.requests) == 3


async def test_rate_limit_with_retry_after_is_retried_by_the_client(llm: FakeOpenAI) -> None:
    llm.script(Reply(status=429, error_code="rate_limit_exceeded", headers={"retry-after": "0"}))
    client = openai.AsyncOpenAI(api_key=llm.api_key, base_url=llm.base_url, max_retries=1)
    async with client:
        res = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "x"}]
        )
    assert res.choices[0].message.content == "You said: x" and len(llm.requests) == 2


async def stream_text(fake: FakeOpenAI, got: list[str], **kw: Any) -> None:
    async with oai(fake, **kw) as client:
        stream = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "x"}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                got.append(chunk.choices[0].delta.content)


async def test_cut_stream_raises_after_the_sent_chunks(llm: FakeOpenAI) -> None:
    llm.script(Reply("one two three four", cut_after=2))
    got: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        await stream_text(llm, got)
    assert got == ["one", " two"]


async def test_error_event_mid_stream_raises_api_error(llm: FakeOpenAI) -> None:
    llm.script(Reply("one two three", error_after=1, error_message="overloaded"))
    got: list[str] = []
    with pytest.raises(openai.APIError, match="overloaded"):
        await stream_text(llm, got)
    assert got == ["one"]


async def test_stalled_stream_hits_the_read_timeout(llm: FakeOpenAI) -> None:
    llm.script(Reply("one two three", stall_after=1))
    got: list[str] = []
    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        await stream_text(llm, got, timeout=0.3)
    assert got == ["one"] and time.monotonic() - start < 2


async def test_delays_pace_the_stream(llm: FakeOpenAI) -> None:
    llm.script(Reply(chunks=["a", "b", "c"], first_token_delay=0.2, token_delay=0.1))
    got: list[str] = []
    start = time.monotonic()
    await stream_text(llm, got)
    assert got == ["a", "b", "c"] and time.monotonic() - start >= 0.4


async def test_the_bot_token_has_the_scopes_our_manifest_asks_for(slack: FakeSlack) -> None:
    manifest = json.loads((Path(__file__).parents[2] / "manifest.json").read_text())
    assert slack.scopes.split(",") == manifest["oauth_config"]["scopes"]["bot"]
    res = await web(slack).auth_test()
    assert res.headers["x-oauth-scopes"] == slack.scopes

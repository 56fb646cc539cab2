"""HTTP mode end to end: signed requests to the real Bolt app, answered in the fake Slack."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from fakes.openai import Reply
from slackgpt.answering.answer import Answerer
from slackgpt.config.settings import Settings
from slackgpt.model.client import ModelClient, build_openai_client
from slackgpt.pane.handlers import Pane
from slackgpt.runtime import build_app
from slackgpt.slack.api import SlackApi
from slackgpt.slack.http_mode import serve_http
from slackgpt.state.local import LocalState
from tests.helpers import SECRET, HttpBot, mention_payload

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def http_bot(settings: Settings) -> AsyncIterator[HttpBot]:
    """The parts ``Runtime`` builds, with a signing secret, served on 127.0.0.1."""
    model = ModelClient(build_openai_client(settings), settings)
    slack = SlackApi(settings.slack_bot_token, settings.slack_api_url)
    identity = (await slack.whoami()).identity
    state = LocalState(None)
    pane = Pane(slack=slack, state=state, settings=settings, identity=identity)
    answerer = Answerer(
        slack=slack, model=model, settings=settings, identity=identity, state=state, extras=pane
    )
    app = build_app(slack, answerer, pane, signing_secret=SECRET)
    server = await serve_http(app, "127.0.0.1", 0, signing_secret=SECRET)
    async with aiohttp.ClientSession() as session:
        yield HttpBot(f"http://127.0.0.1:{server.port}", session)
    await server.close()
    await slack.close()
    await model.close()


async def test_url_verification_challenge_is_answered(http_bot):
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    response = await http_bot.post(
        {"token": "legacy", "challenge": challenge, "type": "url_verification"}
    )
    assert response.status == 200
    assert json.loads(await response.text())["challenge"] == challenge


@pytest.mark.parametrize(
    ("secret", "age"),
    [("not-the-signing-secret", 0.0), (SECRET, 6 * 60)],
    ids=["wrong-secret", "replayed-after-5-minutes"],
)
async def test_badly_signed_requests_get_401(http_bot, secret, age):
    payload = {"token": "x", "challenge": "c", "type": "url_verification"}
    response = await http_bot.post(payload, secret=secret, age=age)
    assert response.status == 401
    assert "c" not in json.loads(await response.text()).values()


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"}],
    ids=["unsigned", "malformed-timestamp"],
)
async def test_unsigned_request_gets_401(http_bot, headers):
    async with http_bot.session.post(
        http_bot.url + "/slack/events",
        json={"type": "url_verification", "challenge": "c"},
        headers=headers,
    ) as response:
        assert response.status == 401


@pytest.mark.parametrize(
    ("timestamp", "body", "content_type"),
    [
        ("\u00b2", '{"type": "url_verification", "challenge": "c"}', "application/json"),
        ("9" * 5000, '{"type": "url_verification", "challenge": "c"}', "application/json"),
        ("1700000000", '{"type": "url_ver', "application/json"),
        ("1700000000", "payload=%7Bnot json", "application/x-www-form-urlencoded"),
        ("", "\x00\xff garbage", "text/plain"),
    ],
    ids=["superscript-digit", "5000-digits", "broken-json", "broken-form", "garbage"],
)
async def test_malformed_requests_are_refused_quietly(http_bot, caplog, timestamp, body,
                                                        content_type):
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=00",
               "Content-Type": content_type}
    async with http_bot.session.post(
        http_bot.url + "/slack/events", data=body.encode(), headers=headers
    ) as response:
        assert response.status == 401
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert "Traceback" not in caplog.text


async def test_a_signed_body_that_is_not_json_gets_400(http_bot, caplog):
    body, timestamp = '{"type": "event_callback", "event": ', str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature or "",
               "Content-Type": "application/json"}
    async with http_bot.session.post(
        http_bot.url + "/slack/events", data=body, headers=headers
    ) as response:
        assert response.status == 400
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_signed_mention_is_acked_at_once_and_answered_in_the_thread(http_bot, slack, llm):
    forged = slack.add_message("C1", f"<@{slack.bot_user_id}> forged question")
    forged_response = await http_bot.post(mention_payload(slack, forged), secret="guess")
    assert forged_response.status == 401

    llm.script(Reply(text="Answered over HTTP.", first_token_delay=1.5))
    question = slack.add_message("C1", f"<@{slack.bot_user_id}> hello over http")
    response = await http_bot.post(mention_payload(slack, question))
    assert response.status == 200
    assert not slack.bot_replies("C1", question["ts"])  # acked before the model answered

    await slack.wait_for(
        lambda: any(
            m["text"] == "Answered over HTTP." and not m["streaming"]
            for m in slack.bot_replies("C1", question["ts"])
        ),
        timeout=10,
        message="the answer in the thread",
    )
    assert len(llm.requests) == 1 and "hello over http" in json.dumps(llm.requests[0])
    assert slack.bot_replies("C1", forged["ts"]) == []


async def test_health_endpoint(http_bot):
    async with http_bot.session.get(http_bot.url + "/healthz") as response:
        assert response.status == 200 and await response.text() == "ok"

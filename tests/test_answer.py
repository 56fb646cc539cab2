"""The answerer alone, with the fake Slack and fake OpenAI, and a Slack client that breaks."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from slackgpt.answer import Answerer, Question
from slackgpt.conversation import BotIdentity
from slackgpt.model import ModelClient, build_openai_client


class BrokenThreadClient(AsyncWebClient):
    """A Slack client whose thread reads fail in a way nothing expects."""

    async def conversations_replies(self, **kwargs):
        raise RuntimeError("unexpected bug")


async def test_an_unexpected_error_still_ends_in_a_message(slack, llm, settings):
    client = BrokenThreadClient(token=slack.bot_token, base_url=slack.api_url)
    answerer = Answerer(ModelClient(build_openai_client(settings), settings), settings)
    root = slack.add_message("C1", "root")
    question = Question(channel="C1", ts=root["ts"], user="U1", text="<@UBOT> hi",
                        thread_ts=root["ts"])
    await answerer.answer(client, question, BotIdentity("UBOT", "BBOT", "gpt"))
    replies = slack.bot_replies("C1", root["ts"])
    assert len(replies) == 1
    assert "Something went wrong" in replies[0]["text"]
    assert not llm.requests


async def test_claim_is_once_per_message(settings, llm):
    answerer = Answerer(ModelClient(build_openai_client(settings), settings), settings, remember=2)
    first = Question(channel="C1", ts="1.0", user="U1", text="hi")
    assert answerer.claim(first) is True
    assert answerer.claim(first) is False
    answerer.claim(Question(channel="C1", ts="2.0", user="U1", text="hi"))
    answerer.claim(Question(channel="C1", ts="3.0", user="U1", text="hi"))
    assert answerer.claim(first) is True  # memory is bounded: the oldest key was forgotten

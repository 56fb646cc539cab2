"""The answerer alone, with the fake Slack and fake OpenAI, and a Slack door that breaks."""

from __future__ import annotations

from slackgpt.answering.answer import Answerer
from slackgpt.model.client import ModelClient, build_openai_client
from slackgpt.slack.api import SlackApi
from slackgpt.slack.events import BotIdentity, Question
from slackgpt.state.local import LocalState


class BrokenThreads(SlackApi):
    """A Slack door whose thread reads fail in a way nothing expects."""

    async def call(self, method: str, **params: object) -> dict:
        if method == "conversations.replies":
            raise RuntimeError("unexpected bug")
        return await super().call(method, **params)


async def test_an_unexpected_error_still_ends_in_a_message(slack, llm, settings):
    door = BrokenThreads(slack.bot_token, slack.api_url)
    answerer = Answerer(
        slack=door,
        model=ModelClient(build_openai_client(settings), settings),
        settings=settings,
        identity=BotIdentity("UBOT", "BBOT", "gpt"),
        state=LocalState(None),
    )
    root = slack.add_message("C1", "root")
    question = Question(channel="C1", ts=root["ts"], user="U1", text="<@UBOT> hi",
                        thread_ts=root["ts"])
    try:
        await answerer.answer(question)
    finally:
        await door.close()
        await answerer.model.close()
    replies = slack.bot_replies("C1", root["ts"])
    assert len(replies) == 1
    assert "Something went wrong" in replies[0]["text"]
    assert not llm.requests

"""Local stand-ins for Slack and OpenAI that speak their real protocols on 127.0.0.1."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fakes.openai import FakeOpenAI
    from fakes.slack import FakeSlack


def bot_env(slack: FakeSlack, llm: FakeOpenAI, **extra: str) -> dict[str, str]:
    """The settings (environment variables) that point the real bot at these fakes."""
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_API_URL": slack.api_url,
        "OPENAI_API_KEY": llm.api_key,
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_MODEL": "gpt-test",
        **extra,
    }

"""Operating settings: LOG_FORMAT, SLACK_MODE=http, SLACK_SIGNING_SECRET and PORT, read and
checked (their wiring in the real process: tests/e2e/test_operate.py)."""

from __future__ import annotations

import pytest

from slackgpt.config.settings import ConfigError, load_settings
from tests.helpers import SECRET, env_for


def test_operating_settings_have_safe_defaults(slack, llm):
    settings = load_settings(env_for(slack, llm))
    assert (settings.log_format, settings.slack_mode, settings.port) == ("text", "socket", 3000)
    assert settings.slack_signing_secret == ""
    assert SECRET not in repr(load_settings(env_for(slack, llm, SLACK_SIGNING_SECRET=SECRET)))


def test_operating_settings_are_read(slack, llm):
    env = env_for(
        slack, llm, LOG_FORMAT="json", SLACK_MODE="http", SLACK_SIGNING_SECRET=SECRET, PORT="8080"
    )
    del env["SLACK_APP_TOKEN"]  # not needed over HTTP
    settings = load_settings(env)
    assert (settings.log_format, settings.slack_mode, settings.port) == ("json", "http", 8080)
    assert settings.slack_signing_secret == SECRET and settings.slack_app_token == ""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"SLACK_MODE": "http"}, "SLACK_SIGNING_SECRET is not set"),
        ({"SLACK_MODE": "webhook"}, "SLACK_MODE must be one of SOCKET, HTTP"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be one of TEXT, JSON"),
        ({"PORT": "80000"}, "PORT must be a whole number from 1 to 65535"),
        ({"SLACK_APP_TOKEN": ""}, "SLACK_APP_TOKEN is not set"),  # Socket Mode still needs it
    ],
)
def test_bad_operating_settings_are_explained(slack, llm, change, expected):
    with pytest.raises(ConfigError) as caught:
        load_settings(env_for(slack, llm, **change))
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems

"""slackgpt.slack.http_mode without a server: what it refuses to build."""

from __future__ import annotations

import pytest
from slack_bolt.async_app import AsyncApp

from slackgpt.slack.http_mode import build_http_app


def test_an_app_without_signing_secret_is_refused():
    app = AsyncApp(token="xoxb-unused", signing_secret="unused")
    with pytest.raises(ValueError, match="signing_secret"):
        build_http_app(app, "")

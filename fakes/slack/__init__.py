"""A local Slack: Web API and Socket Mode on 127.0.0.1 (see :mod:`fakes.slack.server`).

Modules: ``state`` (the workspace), ``web_api`` (the door) with one module per method family
(``auth_apps``, ``chat``, ``conversations``, ``reactions``, ``users``, ``assistant``,
``search``),
``socket_mode``, ``events`` and ``interactions`` (what people do), ``blocks`` (Block Kit
checks), ``files`` (file hosting), ``limits`` (rate tiers), ``errors``.
"""

from fakes.slack.errors import SlackError
from fakes.slack.limits import Limit, RateLimiter
from fakes.slack.records import (
    AssistantThread,
    Call,
    Channel,
    Ephemeral,
    ResponsePost,
    Status,
    SuggestedPrompts,
)
from fakes.slack.server import FakeSlack

__all__ = [
    "AssistantThread",
    "Call",
    "Channel",
    "Ephemeral",
    "FakeSlack",
    "Limit",
    "RateLimiter",
    "ResponsePost",
    "SlackError",
    "Status",
    "SuggestedPrompts",
]

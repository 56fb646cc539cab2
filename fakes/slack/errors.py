"""What the fake Slack's Web API answers when a call fails (shared by its modules)."""

from __future__ import annotations

from typing import Any


class SlackError(Exception):
    """A Web API failure, answered as ``{"ok": false, "error": str(self), **self.extra}``
    (``extra``: what Slack adds, e.g. ``needed``/``provided`` or ``response_metadata``)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.extra = extra


def invalid_arguments(*messages: str) -> SlackError:
    """Slack's answer to arguments its schema refuses, each problem as an ``[ERROR]`` line."""
    return SlackError("invalid_arguments", response_metadata={"messages": list(messages)})

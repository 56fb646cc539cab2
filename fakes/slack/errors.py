"""What the fake Slack's Web API answers when a call fails (shared by its modules)."""

from __future__ import annotations


class SlackError(Exception):
    """A Web API failure, answered as ``{"ok": false, "error": str(self)}``."""

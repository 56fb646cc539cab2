"""What an install from the repository's manifest.json gives the app: its bot scopes, the bot
events it subscribes to, whether it is declared as an agent (``features.agent_view``) and
whether it has a Home tab.

Tests change both on the workspace (``FakeSlack.events``, ``FakeSlack.agent``) to stand for an
install from an older manifest (``assistant_view``, no agent events).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from fakes.slack.records import Json

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.json"

# The events of the AI pane's manifest (assistant_view), before agent_view.
ASSISTANT_VIEW_EVENTS = frozenset({
    "app_mention", "message.channels", "message.groups", "message.im", "message.mpim",
    "assistant_thread_started", "assistant_thread_context_changed",
})


@functools.cache
def manifest_scopes(path: Path = MANIFEST) -> str:
    """The manifest's bot scopes, comma-separated as Slack's ``x-oauth-scopes`` lists them."""
    try:
        scopes = json.loads(path.read_text())["oauth_config"]["scopes"]["bot"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RuntimeError(
            f"The fake Slack grants the bot scopes of {path} (oauth_config.scopes.bot), "
            f"which it cannot read ({type(e).__name__}: {e}); restore the app manifest."
        ) from None
    return ",".join(scopes)


@functools.cache
def _manifest(path: Path = MANIFEST) -> Json:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RuntimeError(
            f"The fake Slack installs the app from {path}, which it cannot read "
            f"({type(e).__name__}: {e}); restore the app manifest."
        ) from None
    return found if isinstance(found, dict) else {}


def manifest_events(path: Path = MANIFEST) -> set[str]:
    """The bot events the manifest subscribes to (settings.event_subscriptions.bot_events)."""
    settings = _manifest(path).get("settings") or {}
    return set((settings.get("event_subscriptions") or {}).get("bot_events") or ())


def manifest_agent(path: Path = MANIFEST) -> bool:
    """True when the manifest declares the app an agent (``features.agent_view``)."""
    return "agent_view" in (_manifest(path).get("features") or {})


def manifest_home_tab(path: Path = MANIFEST) -> bool:
    """True when the manifest turns the app's Home tab on (views.publish of a home view)."""
    app_home = (_manifest(path).get("features") or {}).get("app_home") or {}
    return app_home.get("home_tab_enabled") is True

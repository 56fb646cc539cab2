"""The README, .env.example and manifest stay true to the code."""

from __future__ import annotations

import json
import re

from slackgpt.pane.logic import DEFAULT_PROMPTS, SUMMARIZE_CALLBACK
from tests.helpers import ROOT


def settings_read_by_the_code() -> set[str]:
    source = "".join(
        (ROOT / "slackgpt" / "config" / name).read_text() for name in ("settings.py", "reader.py")
    )
    names = set(re.findall(r'"([A-Z][A-Z0-9]*_[A-Z0-9_]+)"', source))  # NAMES_LIKE_THIS
    return {name for name in names if not name.startswith(("C0", "U0"))}


def test_every_setting_is_documented():
    names = settings_read_by_the_code()
    assert {"SLACK_BOT_TOKEN", "OPENAI_BASE_URL", "CONTEXT_TOKENS", "ALLOWED_USERS"} <= names
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    assert sorted(n for n in names if f"`{n}`" not in readme) == []
    assert sorted(n for n in names if n not in example) == []


def test_readme_commands_are_the_ones_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = re.search(r"```sh\n(.*pytest.*)\n```", readme).group(1)
    assert test_command in ci.splitlines()
    assert "app.py" in re.search(r"## Run it\n\n```sh\n(.*)\n```", readme).group(1)


def test_manifest_subscribes_to_what_the_bot_handles():
    manifest = json.loads((ROOT / "manifest.json").read_text())
    assert manifest["settings"]["socket_mode_enabled"] is True
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "message.channels"} <= events
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {"app_mentions:read", "chat:write", "channels:history", "groups:history",
              "im:history", "mpim:history", "reactions:write", "files:read"}
    assert needed <= scopes
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True


def test_manifest_has_the_ai_pane_and_its_interactions():
    manifest = json.loads((ROOT / "manifest.json").read_text())
    view = manifest["features"]["assistant_view"]
    assert view["assistant_description"]
    assert view["suggested_prompts"] == [p.as_dict() for p in DEFAULT_PROMPTS]  # one default
    assert "assistant:write" in manifest["oauth_config"]["scopes"]["bot"]
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"assistant_thread_started", "assistant_thread_context_changed"} <= events
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    [shortcut] = manifest["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", SUMMARIZE_CALLBACK)
    assert shortcut["name"] == "Summarize this thread" and len(shortcut["name"]) <= 24
    readme = (ROOT / "README.md").read_text()
    for name in ("assistant:write", "assistant_thread_started", SUMMARIZE_CALLBACK):
        assert name in readme  # the steps for an existing install

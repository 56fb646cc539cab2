"""The README, .env.example and manifest stay true to the code."""

from __future__ import annotations

import json
import re

from slackgpt.config.reader import SDK_NAMES
from slackgpt.config.settings import known_names
from slackgpt.config.values import DEFAULT_PROMPTS
from slackgpt.pane.logic import SUMMARIZE_CALLBACK
from tests.helpers import ROOT


def settings_read_by_the_code() -> set[str]:
    """Every setting the bot reads, checked against the names its config code spells out."""
    source = "".join(
        (ROOT / "slackgpt" / "config" / name).read_text() for name in ("settings.py", "reader.py")
    )
    spelled = set(re.findall(r'"([A-Z][A-Z0-9]*_[A-Z0-9_]+)"', source))  # NAMES_LIKE_THIS
    spelled = {name for name in spelled if not name.startswith(("C0", "U0"))}
    assert spelled - SDK_NAMES <= set(known_names())  # known_names() misses none
    return set(known_names())


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
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True  # the Home tab
    readme = (ROOT / "README.md").read_text()
    assert "home_tab_enabled" in readme and "## The Home tab" in readme


def test_manifest_has_the_agent_view_and_its_interactions():
    manifest = json.loads((ROOT / "manifest.json").read_text())
    assert "assistant_view" not in manifest["features"]  # Slack: agent_view replaces it
    view = manifest["features"]["agent_view"]
    assert 0 < len(view["agent_description"]) <= 300
    assert view["suggested_prompts"] == [p.as_dict() for p in DEFAULT_PROMPTS]  # one default
    assert len(view["suggested_prompts"]) <= 4
    assert "assistant:write" in manifest["oauth_config"]["scopes"]["bot"]
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_home_opened", "app_context_changed", "agent_session_stopped"} <= events
    assert not {e for e in events if e.startswith("assistant_thread")}  # agent_view has none
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    [shortcut] = manifest["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", SUMMARIZE_CALLBACK)
    assert shortcut["name"] == "Summarize this thread" and len(shortcut["name"]) <= 24
    readme = (ROOT / "README.md").read_text()
    for name in ("assistant:write", "agent_view", "agent_session_stopped", "app_context_changed",
                 "app_home_opened", SUMMARIZE_CALLBACK, "## Moving from the AI pane to agent view"):
        assert name in readme  # the steps for an existing install


def test_architecture_names_every_room_and_module():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    package = ROOT / "slackgpt"
    rooms = [p.name for p in package.iterdir() if (p / "__init__.py").exists()]
    assert sorted(r for r in rooms if f"{r}/" not in text) == []
    modules = [p for p in package.rglob("*.py") if p.name != "__init__.py"]
    assert sorted(str(p.relative_to(package)) for p in modules if p.name not in text) == []
    for word in ("door", "claim", "settled", "copy", "in view"):
        assert f"- **{word}**" in text  # the glossary


def test_the_python_versions_said_are_the_ones_ci_tests():
    pyproject = (ROOT / "pyproject.toml").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    readme = " ".join((ROOT / "README.md").read_text().split())
    lowest = re.search(r'requires-python = ">=(3\.\d+)"', pyproject).group(1)
    highest = re.search(r"^HIGHEST=(3\.\d+)", ci, re.M).group(1)
    assert re.search(rf"^LOWEST={re.escape(lowest)}\b", ci, re.M)
    assert f'target-version = "py{lowest.replace(".", "")}"' in pyproject
    assert f"Python {lowest} or newer (tested on {lowest} and {highest})" in readme
    assert f"({lowest} and {highest}, from pyenv)" in readme


def test_the_profiles_example_in_the_operations_guide_is_a_good_file():
    import tomllib

    from slackgpt.config.operations import Price
    from slackgpt.config.profiles import cross_check, parse_profiles

    guide = (ROOT / "docs" / "operations.md").read_text()
    section = guide.split("## Profiles per channel", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    profiles, problems = parse_profiles(tomllib.loads(example))
    assert problems == []
    assert profiles.for_conversation("C0789IJKL").base_url == "http://ollama.internal:11434/v1"
    assert profiles.for_conversation("D0123ABCD").name == "private"
    prices = {"gpt-test": Price(1, 1), "llama3.1": Price(0, 0)}
    assert cross_check(profiles, frozenset({"tickets"}), prices, "gpt-test", True) == []

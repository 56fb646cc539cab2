"""manifest.json asks for every bot scope Slack's method reference requires of the calls the
bot makes (a method named in slackgpt/ that its page says needs a scope the install lacks
fails with missing_scope in every workspace)."""

from __future__ import annotations

import json
import re

from fakes.slack import reference
from slackgpt.doctor import MANIFEST_SCOPES
from tests.helpers import ROOT

# Scopes a method's page lists for a kind of conversation the bot never asks it about, and why.
NEVER_ASKED = {
    ("conversations.info", "im:read"): "visibility.py refuses someone's DM before asking Slack",
    ("conversations.members", "im:read"): "visibility.py refuses someone's DM before asking Slack",
    ("assistant.search.context", "search:read.files"): "the search tool asks for messages only",
    ("assistant.search.context", "search:read.users"): "the search tool asks for messages only",
}


def methods_the_bot_calls() -> set[str]:
    """Every Slack Web API method named in slackgpt/'s source."""
    names = reference.load().names
    quoted = re.compile(r"[\"']([a-z]+(?:\.[a-zA-Z]+)+)[\"']")
    found = set()
    for path in (ROOT / "slackgpt").rglob("*.py"):
        found |= {m for m in quoted.findall(path.read_text()) if m in names}
    return found


def test_the_bot_names_the_methods_it_calls():
    assert {"users.info", "chat.update", "conversations.replies"} <= methods_the_bot_calls()


def test_the_manifest_grants_every_scope_those_methods_need():
    manifest = json.loads((ROOT / "manifest.json").read_text())
    granted = set(manifest["oauth_config"]["scopes"]["bot"])
    pages = reference.load().methods
    assert methods_the_bot_calls() <= set(pages), "vendor those methods' pages in shared/"
    missing = {
        (method, scope)
        for method in methods_the_bot_calls()
        for scope in pages[method].bot_scopes  # conversations.*: one per kind; it reads all
        if scope not in granted and (method, scope) not in NEVER_ASKED
    }
    assert missing == set()
    assert set(MANIFEST_SCOPES) == granted  # --check's copy for an installed bot


def test_the_bots_budgets_are_slacks_published_tiers():
    """slack/quota.py's table of calls a minute matches each method page's tier (t5: Slack's
    unpublished "special" limits, budgeted generously)."""
    from slackgpt.slack.quota import PER_MINUTE, SPECIAL, TIER_2, TIER_3, TIER_4

    per_tier = {"t2": TIER_2, "t3": TIER_3, "t4": TIER_4, "t5": SPECIAL}
    pages = reference.load().methods
    wrong = {m: (n, pages[m].tier) for m, n in PER_MINUTE.items() if per_tier[pages[m].tier] != n}
    assert wrong == {}

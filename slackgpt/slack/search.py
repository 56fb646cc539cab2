"""Slack's Real-time Search, through the door: whether the workspace has it, and messages
found as the person asking (their ``action_token``), so results are what they may see.

Like every call of the bot, these go through ``SlackApi.call`` (budgets, retries, errors).
"""

from __future__ import annotations

from slackgpt.slack.api import SlackApi

SEARCH_LIMIT = 20  # assistant.search.context: "up to a max of 20"


async def search_enabled(slack: SlackApi) -> bool:
    """``assistant.search.info``: whether the workspace has Slack's AI search, which
    ``assistant.search.context`` needs. Raises SlackApiError (e.g. ``missing_scope``)."""
    return bool((await slack.call("assistant.search.info")).get("is_ai_search_enabled"))


async def search_messages(
    slack: SlackApi, query: str, action_token: str, limit: int
) -> list[dict]:
    """Messages matching ``query`` that the person whose ``action_token`` it is may see
    (with a bot token: public channels only), best first. Raises SlackApiError."""
    where = {"query": query, "action_token": action_token}
    found = await slack.call("assistant.search.context", **where, limit=min(limit, SEARCH_LIMIT))
    results = found.get("results") or {}
    return [m for m in results.get("messages") or [] if isinstance(m, dict)]

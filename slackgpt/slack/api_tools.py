"""The door's calls for tools, part of :class:`~slackgpt.slack.api.SlackApi`: Slack search as
the person asking, a thread read around one message, and the task chunks of a streamed answer
made safe to show.

Like every call of the door, these go through ``SlackApi.call`` (budgets, retries, errors).
"""

from __future__ import annotations

from slackgpt.formatting import clip, neutralize_pings

TASK_TEXT_LIMIT = 256  # Slack's guidance for a task's title, details and output
SEARCH_LIMIT = 20  # assistant.search.context: "up to a max of 20"
_TASK_TEXTS = ("title", "details", "output")


class ToolsDoor:
    """What the door offers tools (mixed into SlackApi, whose ``call`` it uses)."""

    async def call(self, method: str, *, prepaid: bool = False, **params: object) -> dict:
        raise NotImplementedError  # SlackApi.call

    async def search_enabled(self) -> bool:
        """``assistant.search.info``: whether the workspace has Slack's AI search, which
        ``assistant.search.context`` needs. Raises SlackApiError (e.g. ``missing_scope``)."""
        return bool((await self.call("assistant.search.info")).get("is_ai_search_enabled"))

    async def search_messages(self, query: str, action_token: str, limit: int) -> list[dict]:
        """Messages matching ``query`` that the person whose ``action_token`` it is may see
        (with a bot token: public channels only), best first. Raises SlackApiError."""
        where = {"query": query, "action_token": action_token}
        found = await self.call("assistant.search.context", **where, limit=min(limit, SEARCH_LIMIT))
        results = found.get("results") or {}
        return [m for m in results.get("messages") or [] if isinstance(m, dict)]

    async def thread_from(
        self, channel: str, thread_ts: str, oldest: str | None, limit: int
    ) -> list[dict]:
        """One page of a thread, oldest first: from ``oldest`` on (inclusive; the root comes
        only when it is in that span), at most ``limit`` messages. Raises SlackApiError."""
        where = {"channel": channel, "ts": thread_ts, "oldest": oldest, "limit": limit}
        page = await self.call("conversations.replies", **where, inclusive=bool(oldest) or None)
        return [m for m in page.get("messages") or [] if isinstance(m, dict)][:limit]


def safe_chunks(chunks: list[dict] | None) -> list[dict] | None:
    """Stream chunks as they may be shown: pings inert in every text, a task's texts within
    Slack's 256 characters."""
    if not chunks:
        return None
    return [_safe(chunk) for chunk in chunks]


def _safe(chunk: dict) -> dict:
    safe = dict(chunk)
    if isinstance(safe.get("text"), str):
        safe["text"] = neutralize_pings(safe["text"])
    for name in _TASK_TEXTS:
        if isinstance(safe.get(name), str):
            safe[name] = clip(neutralize_pings(safe[name]), TASK_TEXT_LIMIT)
    if isinstance(safe.get("sources"), list) and all(isinstance(s, dict) for s in safe["sources"]):
        texts = [str(s.get("text") or s.get("url")) for s in safe["sources"]]
        safe["sources"] = [
            {**source, "text": clip(neutralize_pings(text), TASK_TEXT_LIMIT)}
            for source, text in zip(safe["sources"], texts, strict=True)
        ]
    return safe

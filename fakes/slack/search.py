"""``assistant.search.info`` / ``assistant.search.context``: Slack's Real-time Search for apps.

Per the method pages (``docs.slack.dev/methods/assistant.search.*.json``) and Slack's guide
("Slack data that the invoking user has access to"): a search runs as the person whose
``action_token`` (from their message's event) it carries; a bot token may ask only for public
channels (scope ``search:read.public``; ``search:read.files`` for files), so asking for other
channel types is ``missing_scope``; a workspace without AI search answers
``feature_not_enabled``. Results come only from conversations that person may read: a public
channel for anyone, a private channel or group DM for its members, a DM for its person.

What Slack does not say, the fake decides (marked so): a bot token without an
``action_token`` is ``invalid_action_token``; bots' messages count only with ``include_bots``;
"semantic" search is keyword search here (a message matches when it contains one of the
query's words, the most matching words first, then the newest).
"""

from __future__ import annotations

import re

from fakes.slack.errors import SlackError
from fakes.slack.records import Channel, Json, truthy
from fakes.slack.registry import Registry
from fakes.slack.state import Message, Workspace, ts_key

API = Registry()

LIMIT = 20  # "up to a max of 20. Defaults to 20."
_SCOPE_OF = {"messages": "search:read.public", "files": "search:read.files",
             "channels": "search:read.public", "users": "search:read.users"}
_WORD = re.compile(r"\w{2,}")


@API.method("assistant.search.info")
def search_info(ws: Workspace, params: Json) -> Json:
    """Whether the workspace has AI search (what ``assistant.search.context`` needs)."""
    return {"is_ai_search_enabled": ws.ai_search}


@API.method("assistant.search.context")
def search_context(ws: Workspace, params: Json) -> Json:
    """Messages matching ``query`` that the token's person may see, best first."""
    kinds = _listed(params.get("channel_types"), "public_channel")
    contents = _listed(params.get("content_types"), "messages")
    for needed in sorted({_SCOPE_OF.get(c, "search:read.public") for c in contents}):
        if needed not in ws.scopes.split(","):
            raise SlackError("missing_scope", needed=needed, provided=ws.scopes)
    if kinds - {"public_channel"}:  # a bot token: public channels only
        raise SlackError("missing_scope", needed="search:read.private", provided=ws.scopes)
    if not ws.ai_search:
        raise SlackError("feature_not_enabled")
    person = ws.action_tokens.get(str(params.get("action_token") or ""))
    if person is None:
        raise SlackError("invalid_action_token")
    words = {w.lower() for w in _WORD.findall(str(params.get("query") or ""))}
    if not words:
        raise SlackError("missing_query")
    limit = max(1, min(int(params.get("limit") or LIMIT), LIMIT))
    bots = truthy(params.get("include_bots"))
    found = [
        (len(words & {w.lower() for w in _WORD.findall(m.text)}), m)
        for m in ws.messages.values()
        if (bots or not m.bot_id) and not m.streaming and _may_see(ws, person, m.channel, kinds)
    ]
    ranked = sorted((f for f in found if f[0]), key=lambda f: (f[0], ts_key(f[1].ts)),
                    reverse=True)
    messages = [_result(ws, m) for _, m in ranked[:limit]]
    results: Json = {"messages": messages} if "messages" in contents else {}
    return {"results": results, "response_metadata": {"next_cursor": ""}}


def _listed(value: object, default: str) -> set[str]:
    """An array argument, given as a list or as comma-separated text."""
    if isinstance(value, list):
        return {str(v) for v in value} or {default}
    return {v.strip() for v in str(value or default).split(",") if v.strip()} or {default}


def _may_see(ws: Workspace, person: str, channel_id: str, kinds: set[str]) -> bool:
    """The conversation is of a kind asked for, and ``person`` may read it."""
    channel = ws.channel(channel_id)
    if channel is None:
        return False
    kind = "im" if channel.is_im else "private_channel" if channel.private else "public_channel"
    if kind not in kinds:
        return False
    return kind == "public_channel" or person in _people(channel)


def _people(channel: Channel) -> set[str]:
    return set(channel.people) | ({channel.user} if channel.user else set())


def _result(ws: Workspace, m: Message) -> Json:
    """A message as a search result (the page's required fields)."""
    channel = ws.channel(m.channel)
    author = m.user or ""
    name = "slackgpt" if author == ws.bot_user_id else f"User {author}"
    return {
        "author_name": name,
        "author_user_id": author,
        "team_id": ws.team_id,
        "channel_id": m.channel,
        "channel_name": channel.name if channel else m.channel.lower(),
        "message_ts": m.ts,
        "content": m.text,
        "is_author_bot": bool(m.bot_id),
        "permalink": ws.permalink(m.channel, m.ts),
    }

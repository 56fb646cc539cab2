"""Reading threads within a few pages, however long they are.

An answer reads the root and the newest replies (the first page is the whole thread for all
but huge ones); learning whether the bot takes part in a thread reads the root, whose
``reply_users`` usually settles it, and pages only when the bot has written there. A
10,000-message thread costs an answer at most three ``conversations.replies`` pages, and a
reply in it at most three reads that leave answers their budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from slackgpt.slack.api import SlackApi
from slackgpt.slack.events import BotIdentity, is_answer

READ = "conversations.replies"
PAGE = 1000  # Slack's largest page
AIM = 400  # replies a window of the newest ones aims at: a page holds a burst of 2.5x that
NARROWER = 16  # a window that overflowed a page is cut to this share of its time
LEARNING_KEEPS = 0.4  # of the read budget, left to answers by reads that only learn


@dataclass(frozen=True)
class Page:
    """One ``conversations.replies`` page."""

    messages: list[dict]
    more: bool
    cursor: str | None = None


def newest_window(root: dict, aim: int = AIM) -> str | None:
    """The ``oldest`` bound of a window holding about ``aim`` of a thread's newest replies
    (from the root's ``reply_count`` and ``latest_reply``, at the thread's average pace); None
    when the thread is no longer than that."""
    count = int(root.get("reply_count") or 0)
    first, last = float(root.get("ts") or 0), float(root.get("latest_reply") or 0)
    if count <= aim or last <= first:
        return None
    return f"{last - (last - first) * aim / count:.6f}"


def merged(*pages: list[dict]) -> list[dict]:
    """The messages of ``pages``, each once, oldest first."""
    found = {m["ts"]: m for page in pages for m in page if m.get("ts")}
    return sorted(found.values(), key=lambda m: float(m["ts"]))


def bot_wrote(root: dict, identity: BotIdentity) -> bool:
    """False when the root's ``reply_users`` show the bot never wrote in the thread; True when
    it did, or the list is cut short (Slack may not list every writer)."""
    users = root.get("reply_users") or []
    whole = len(users) >= int(root.get("reply_users_count") or len(users))
    return identity.user_id in users or not whole


async def read(slack: SlackApi, channel: str, thread_ts: str) -> list[dict]:
    """The root and the newest replies a page or two hold (the whole of all but huge
    threads), oldest first; at most three pages. Raises SlackApiError."""
    first = await _page(slack, channel, thread_ts)
    if not first.more or not first.messages:
        return first.messages
    root = first.messages[0]
    oldest = newest_window(root)
    if oldest is None:  # not long, but Slack gave a short page: follow it, within 3 pages
        return await _follow(slack, channel, thread_ts, first, pages=2)
    newest = await _page(slack, channel, thread_ts, oldest=oldest)
    if newest.more:  # a burst at the end: the same window, narrower
        start, end = float(oldest), float(root.get("latest_reply") or oldest)
        later = f"{end - (end - start) / NARROWER:.6f}"
        newest = Page(merged(newest.messages, (await _page(
            slack, channel, thread_ts, oldest=later)).messages), False)
    return merged([root], newest.messages)


async def _follow(
    slack: SlackApi, channel: str, thread_ts: str, page: Page, *, pages: int
) -> list[dict]:
    """``page``'s messages and up to ``pages`` more pages after it."""
    found = list(page.messages)
    for _ in range(pages):
        if not page.more or not page.cursor:
            break
        page = await _page(slack, channel, thread_ts, cursor=page.cursor)
        found += page.messages
    return found


async def learn(
    slack: SlackApi, channel: str, thread_ts: str, identity: BotIdentity
) -> tuple[bool, list[dict]] | None:
    """Whether the bot has answered in a thread (a summary is not joining), and the messages
    read to tell; None when the read budget is short (answers keep theirs). Raises
    SlackApiError."""
    root = await _learning_page(slack, channel, thread_ts, limit=1)
    if root is None or not root.messages:
        return None if root is None else (False, [])
    if not bot_wrote(root.messages[0], identity):
        return False, root.messages
    first = await _learning_page(slack, channel, thread_ts, limit=PAGE)
    if first is None:
        return None
    pages = [first.messages]
    if first.more:  # the newest replies; or, in a short thread Slack paged, the next page
        oldest = newest_window(root.messages[0])
        where = {"oldest": oldest} if oldest else {"cursor": first.cursor}
        newest = await _learning_page(slack, channel, thread_ts, limit=PAGE, **where)
        pages.append(newest.messages if newest else [])
    thread = merged(*pages)
    return any(is_answer(m, identity) for m in thread), thread


async def _learning_page(
    slack: SlackApi, channel: str, thread_ts: str, **where: object
) -> Page | None:
    """A page read only to learn: within the budget answers leave (None: not now)."""
    if not await slack.quota.reserve(READ, keep=LEARNING_KEEPS):
        return None
    return await _page(slack, channel, thread_ts, prepaid=True, metadata=True, **where)


async def _page(
    slack: SlackApi,
    channel: str,
    thread_ts: str,
    *,
    limit: int = PAGE,
    oldest: str | None = None,
    cursor: str | None = None,
    prepaid: bool = False,
    metadata: bool = False,
) -> Page:
    where = {"channel": channel, "ts": thread_ts, "limit": limit, "oldest": oldest}
    if metadata:
        where["include_all_metadata"] = True
    found = await slack.call(READ, prepaid=prepaid, **where, cursor=cursor)
    more, cursor = bool(found.get("has_more")), (found.get("response_metadata") or {})
    return Page(list(found.get("messages") or []), more, cursor.get("next_cursor") or None)


async def page_from(
    slack: SlackApi, channel: str, thread_ts: str, oldest: str | None, limit: int
) -> list[dict]:
    """One page of a thread, oldest first: from ``oldest`` on (inclusive; the root comes only
    when it is in that span), at most ``limit`` messages. Raises SlackApiError."""
    where = {"channel": channel, "ts": thread_ts, "oldest": oldest, "limit": limit}
    page = await slack.call(READ, **where, inclusive=bool(oldest) or None)
    return [m for m in page.get("messages") or [] if isinstance(m, dict)][:limit]

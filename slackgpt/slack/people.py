"""People by name: Slack user IDs → the names the model sees, looked up once and cached.

A name is a nicety: a lookup that fails (Slack's error, the ``users.info`` budget spent for
now, or no answer within two seconds) leaves that person unnamed for a minute, then the next
answer asks again; a name is kept for a day. The lookups of one answer go out at once: the
budget, not a queue of ours, is what paces them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable

from slackgpt.deadline import deadline
from slackgpt.formatting import USER_MENTION
from slackgpt.slack.wire import NameUnknown

log = logging.getLogger(__name__)
NAME_TTL = 24 * 3600.0  # names rarely change; each lookup is a round trip before the model
RETRY_AFTER = 60.0  # a failed lookup: unnamed this long, so one answer asks once, not per turn
PATIENCE = 2.0  # seconds a lookup may take (Slack slow, or a 429's Retry-After) before it failed
MAX_LOOKUPS = 50  # distinct people looked up for one answer (users.info is Tier 4)
RECENT = 200  # messages (besides the root) whose people are named


def people_in(thread: list[dict], bot_user_id: str) -> list[str]:
    """User IDs of the people who write or are mentioned in a thread's root and newest
    messages (the bot itself is not looked up)."""
    found: dict[str, None] = {}
    for message in [*thread[:1], *thread[-RECENT:]]:
        if message.get("user") and not message.get("bot_id"):
            found[str(message["user"])] = None
        for user in USER_MENTION.findall(str(message.get("text") or "")):
            found[user] = None
    found.pop(bot_user_id, None)
    return list(found)[:MAX_LOOKUPS]


class People:
    """A cache of names, filled by ``lookup(user_id)`` (e.g. SlackApi.user_name), which
    returns the name, or None when Slack names nobody so, and raises NameUnknown when it
    cannot tell now. A lookup is given up after ``patience`` seconds."""

    def __init__(
        self,
        lookup: Callable[[str], Awaitable[str | None]],
        *,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        patience: float = PATIENCE,
    ):
        self.lookup, self.size, self.clock, self.patience = lookup, size, clock, patience
        self._names: OrderedDict[str, tuple[str | None, float]] = OrderedDict()
        self._asking: dict[str, asyncio.Future[str | None]] = {}

    async def names(self, users: Iterable[str]) -> dict[str, str]:
        """The known names of ``users`` (those Slack would not name are left out)."""
        wanted = list(dict.fromkeys(users))
        missing = [u for u in wanted if self._cached(u) is None]
        await asyncio.gather(*(self._look_up(u) for u in missing))
        named = {u: (self._cached(u) or (None, 0))[0] for u in wanted}
        return {u: n for u, n in named.items() if n}

    def _cached(self, user: str) -> tuple[str | None, float] | None:
        entry = self._names.get(user)
        if entry is None or entry[1] <= self.clock():
            return None
        return entry

    async def _look_up(self, user: str) -> str | None:
        """One lookup per person at a time, however many answers want the name."""
        if user not in self._asking:
            self._asking[user] = asyncio.ensure_future(self._ask(user))
            self._asking[user].add_done_callback(lambda _: self._asking.pop(user, None))
        return await asyncio.shield(self._asking[user])

    async def _ask(self, user: str) -> str | None:
        """Look ``user`` up and remember the answer: a day, or a minute after a failure."""
        try:
            async with deadline(self.patience):
                name, keep = await self.lookup(user), NAME_TTL
        except (TimeoutError, NameUnknown) as error:
            log.debug("no name for %s now: %r", user, error)
            name, keep = None, RETRY_AFTER
        except Exception:  # a name never breaks an answer, but a bug is said
            log.warning("looking up %s failed", user, exc_info=True)
            name, keep = None, RETRY_AFTER
        self._names[user] = (name, self.clock() + keep)
        while len(self._names) > self.size:
            self._names.popitem(last=False)
        return name

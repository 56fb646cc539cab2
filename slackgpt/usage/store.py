"""Where usage is counted: tokens, cost and answers per person, channel and the workspace, per
UTC day and month. :class:`UsageStore` is what the budgets and a Home tab read;
:class:`SqliteUsage` keeps it in a small SQLite file (one copy of the bot, without
``REDIS_URL``), so that it survives restarts; :mod:`~slackgpt.usage.redis_store` keeps it in
Redis for every copy.

SQLite is reached from one thread of its own (a local file's writes must not stall the event
loop), in WAL mode: a backup can be taken while the bot runs (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from slackgpt.usage.budget import WORKSPACE, Periods, Spent, Standing

log = logging.getLogger(__name__)
T = TypeVar("T")

PERSON, CHANNEL, WORKSPACE_KIND = "person", "channel", "workspace"
KEEP_DAYS = 62  # days kept (a Home tab shows this month's and last month's)
KEEP_MONTHS = 25  # months kept
REPEAT_ERROR = 60.0  # seconds between two error lines while a store keeps failing
SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    period TEXT NOT NULL,             -- a UTC day (2026-05-03) or month (2026-05)
    kind TEXT NOT NULL,               -- person, channel or workspace
    id TEXT NOT NULL,                 -- a user ID, a channel ID, or * for the workspace
    tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    answers INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (period, kind, id)
) WITHOUT ROWID;
"""
ADD = """
INSERT INTO usage (period, kind, id, tokens, cost, answers) VALUES (?, ?, ?, ?, ?, 1)
ON CONFLICT (period, kind, id) DO UPDATE SET tokens = tokens + excluded.tokens,
    cost = cost + excluded.cost, answers = answers + 1
"""
ROW = "SELECT tokens, cost FROM usage WHERE period = ? AND kind = ? AND id = ?"


class UsageUnavailable(Exception):
    """The usage store cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class PersonUsage:
    """One person's use today and this month (what a Home tab shows beside their limits)."""

    today_tokens: int = 0
    today_cost: float = 0.0
    month_tokens: int = 0
    month_cost: float = 0.0


def rows(user: str, channel: str, when: Periods) -> list[tuple[str, str, str]]:
    """The (period, kind, id) rows an answer counts in."""
    return [
        (period, kind, key)
        for kind, key in ((PERSON, user), (CHANNEL, channel), (WORKSPACE_KIND, WORKSPACE))
        for period in (when.day, when.month)
    ]


class UsageStore(Protocol):
    """Usage counts; reads never raise (an unreachable store reads as nothing used)."""

    name: str  # the store's label in the metrics: usage_sqlite or usage_redis

    async def open(self) -> None:
        """Be ready, or raise UsageUnavailable with the fix."""
        ...

    async def standing(self, user: str, when: Periods) -> Standing:
        """What counts against the budgets for ``user`` now: one round trip."""
        ...

    async def add(self, user: str, channel: str, spent: Spent, when: Periods) -> Standing:
        """Count one answer's use; the standing after it."""
        ...

    async def person(self, user: str, when: Periods) -> PersonUsage:
        """``user``'s tokens and cost today and this month."""
        ...

    async def top(self, kind: str, period: str, most: int = 10) -> list[tuple[str, int]]:
        """The ``most`` people or channels (``kind``) with the most tokens in ``period``."""
        ...

    def up(self) -> bool:
        """False while the store fails."""
        ...

    async def close(self) -> None: ...


class SqliteUsage:
    """:class:`UsageStore` in the SQLite file at ``path`` (its folder is created)."""

    name = "usage_sqlite"

    def __init__(self, path: Path):
        self.path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="slackgpt-usage")
        self._db: sqlite3.Connection | None = None
        self._failing_since: float | None = None
        self._said_at = 0.0

    async def open(self) -> None:
        try:
            await self._run(self._connect)
        except (OSError, sqlite3.Error) as error:
            raise UsageUnavailable(
                f"cannot keep the usage counts in {self.path} ({type(error).__name__}: {error}). "
                "Set USAGE_FILE to a file in a writable folder (in a container: a volume, "
                "e.g. /data/usage.sqlite3), or set REDIS_URL to keep them in Redis."
            ) from None

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=2.0)
        db.execute("PRAGMA journal_mode=WAL")  # readers (a backup) never block the bot
        db.execute("PRAGMA synchronous=NORMAL")  # no fsync per answer; safe in WAL mode
        db.executescript(SCHEMA)
        now = time.time()
        oldest_day = time.strftime("%Y-%m-%d", time.gmtime(now - KEEP_DAYS * 86400))
        oldest_month = time.strftime("%Y-%m", time.gmtime(now - KEEP_MONTHS * 31 * 86400))
        with db:
            db.execute("DELETE FROM usage WHERE length(period) = 10 AND period < ?",
                       (oldest_day,))
            db.execute("DELETE FROM usage WHERE length(period) = 7 AND period < ?",
                       (oldest_month,))
        self._db = db

    async def standing(self, user: str, when: Periods) -> Standing:
        found = await self._safely(self._standing, user, when)
        return found if found is not None else Standing()

    async def add(self, user: str, channel: str, spent: Spent, when: Periods) -> Standing:
        found = await self._safely(self._add, user, channel, spent, when)
        return found if found is not None else Standing()

    async def person(self, user: str, when: Periods) -> PersonUsage:
        found = await self._safely(self._person, user, when)
        return found if found is not None else PersonUsage()

    async def top(self, kind: str, period: str, most: int = 10) -> list[tuple[str, int]]:
        found = await self._safely(self._top, kind, period, most)
        return found if found is not None else []

    def up(self) -> bool:
        return self._db is not None and self._failing_since is None

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._thread.shutdown(wait=False)

    # -- on the store's thread -------------------------------------------------------------

    def _row(self, period: str, kind: str, key: str) -> tuple[int, float]:
        assert self._db is not None
        found = self._db.execute(ROW, (period, kind, key)).fetchone()
        return (int(found[0]), float(found[1])) if found else (0, 0.0)

    def _standing(self, user: str, when: Periods) -> Standing:
        today, _ = self._row(when.day, PERSON, user)
        tokens, cost = self._row(when.month, WORKSPACE_KIND, WORKSPACE)
        return Standing(today, tokens, cost)

    def _add(self, user: str, channel: str, spent: Spent, when: Periods) -> Standing:
        assert self._db is not None
        with self._db:
            self._db.executemany(
                ADD, [(*row, spent.tokens, spent.cost) for row in rows(user, channel, when)]
            )
        return self._standing(user, when)

    def _person(self, user: str, when: Periods) -> PersonUsage:
        return PersonUsage(*self._row(when.day, PERSON, user), *self._row(when.month, PERSON, user))

    def _top(self, kind: str, period: str, most: int) -> list[tuple[str, int]]:
        assert self._db is not None
        query = "SELECT id, tokens FROM usage WHERE period = ? AND kind = ? " \
                "ORDER BY tokens DESC, id LIMIT ?"
        return [(str(i), int(t)) for i, t in self._db.execute(query, (period, kind, most))]

    # -- the way there ---------------------------------------------------------------------

    async def _run(self, call: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, call, *args)

    async def _safely(self, call: Callable[..., T], *args: object) -> T | None:
        """``call``'s result, or None (said once a minute) when the store fails."""
        if self._db is None:
            return None
        try:
            result = await self._run(call, *args)
        except (OSError, sqlite3.Error) as error:
            self._failed(error)
            return None
        if self._failing_since is not None:
            log.warning("the usage file %s works again", self.path)
            self._failing_since = None
        return result

    def _failed(self, error: BaseException) -> None:
        now = time.monotonic()
        self._failing_since = self._failing_since or now
        if now - self._said_at >= REPEAT_ERROR:
            self._said_at = now
            log.error("the usage file %s failed (%s: %s); until it works, answers are not "
                      "counted and budgets do not hold", self.path, type(error).__name__, error)

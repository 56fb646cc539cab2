"""One run's set-up: the fakes, the bot's processes, warm-up, waiting for answers, teardown."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fakes import bot_env
from fakes.openai import FakeOpenAI
from fakes.slack import FakeSlack

from .analysis import Asked, Attributor, verdict
from .bot_process import BotGroup, Launch
from .harness import Recorder, bench_openai, bench_slack
from .profiles import World, answer_chunks


class BenchError(Exception):
    """Something that makes the run's figures meaningless: reported, exit status 1."""


@dataclass(frozen=True)
class Options:
    """How every scenario of a run is set up (the CLI's knobs)."""

    world: World
    launch: Launch
    interval: float = 1.0  # the bot's STREAM_INTERVAL
    log_level: str = "WARNING"
    copies: int = 1
    warmup: bool = True
    idle: float = 3.0  # seconds of idle CPU measurement
    rate_limits: bool = False
    settings: tuple[tuple[str, str], ...] = ()  # more of the bot's settings (REDIS_URL, …)

    def env(self) -> dict[str, str]:
        """The bot's settings; with Slack's limits off in the fake, off in the bot too (it
        keeps Slack's budgets itself unless told the server has none)."""
        extra = {"STREAM_INTERVAL": str(self.interval), "LOG_LEVEL": self.log_level}
        extra["SLACK_RATE_LIMITS"] = "true" if self.rate_limits else "false"
        return extra | dict(self.settings)


@dataclass
class Session:
    """The fakes and the bot's copies of one run."""

    world: World
    slack: FakeSlack
    llm: FakeOpenAI
    recorder: Recorder
    bots: BotGroup

    @property
    def expected(self) -> str:
        return "".join(answer_chunks(self.world.tokens))

    def texts(self, q: Asked) -> tuple[list[str], bool]:
        """The bot's visible messages in the question's thread, and whether any streams."""
        mine = self.slack.bot_replies(*q.thread)
        return [m["text"] for m in mine], any(m["streaming"] for m in mine)

    def verdict(self, q: Asked) -> str:
        texts, streaming = self.texts(q)
        return verdict(texts, streaming, self.expected)


def fake_env(slack: FakeSlack, llm: FakeOpenAI) -> dict[str, str]:
    """The bot's settings for these fakes."""
    return bot_env(slack, llm, SHUTDOWN_GRACE="2")


@contextlib.asynccontextmanager
async def session(
    opts: Options,
    workdir: Path,
    tag: str,
    prepare: Callable[[FakeSlack, FakeOpenAI], None] | None = None,
) -> AsyncIterator[Session]:
    """Start the fakes (set up by ``prepare`` before the bot starts) and the bot's copies;
    wait until each has its socket open."""
    world, copies, recorder = opts.world, opts.copies, Recorder()
    slack, llm = bench_slack(world, recorder, opts.rate_limits), bench_openai(world, recorder)
    bots: BotGroup | None = None
    try:
        await slack.start()
        await llm.start()
        if prepare is not None:
            prepare(slack, llm)
        env = {**fake_env(slack, llm), **opts.env(), **opts.launch.env}
        bots = BotGroup(replace(opts.launch, env=env), workdir, tag, copies)
        bots.start()
        await wait_until(lambda: slack.sockets_open >= copies, 30.0, "the bot connecting", bots)
        yield Session(world, slack, llm, recorder, bots)
    finally:
        if bots is not None:
            await bots.stop()
        await llm.stop()
        await slack.stop()


async def wait_until(
    pred: Callable[[], bool], timeout: float, what: str, bots: BotGroup | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if bots is not None and not bots.alive():
            raise BenchError(f"the bot exited (status {bots.exit_status()}) while {what}")
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s: {what}")
        await asyncio.sleep(0.02)


async def wait_answers(s: Session, asked: Sequence[Asked], timeout: float) -> set[str]:
    """Wait (bounded) until every question has its answer; the keys still missing.

    A streamed answer counts as finished at its ``chat.stopStream`` (found incrementally,
    cheap); every second the text of the others is checked (the post-and-update route).
    """
    pending = {q.key: q for q in asked}
    who, seen = Attributor(asked), 0
    stopped: set[str] = set()
    deadline = last_check = time.monotonic()
    deadline += timeout
    while pending and time.monotonic() < deadline and s.bots.alive():
        calls = s.slack.calls
        while seen < len(calls) and calls[seen].response:  # answered calls, in order
            call, seen = calls[seen], seen + 1
            key = who.key_of(call)
            if key in pending and call.method == "chat.stopStream" and call.response["ok"]:
                stopped.add(key)
        checks = [k for k in stopped if k in pending]
        if time.monotonic() - last_check > 1.0:
            checks, last_check = list(pending), time.monotonic()
        for key in checks:
            if s.verdict(pending[key]) in ("ok", "duplicated", "wrong"):
                del pending[key]
        await asyncio.sleep(0.05)
    return set(pending)


async def warm_up(s: Session, copies: int) -> None:
    """One mention per copy (events go round-robin): a long-running bot has answered before."""
    asked = []
    for i in range(copies):
        channel = f"CWARM{i}"
        msg = await s.slack.mention(channel, f"<@{s.slack.bot_user_id}> warm up q-{channel}")
        asked.append(Asked(channel, channel, msg["ts"]))
    if await wait_answers(s, asked, s.world.model_time + 20):
        raise BenchError("the warm-up mention was not answered")
    await asyncio.sleep(0.3)


async def idle_cpu(bots: BotGroup, seconds: float) -> float | None:
    """The bot's CPU use with no traffic, as a fraction of one core."""
    if seconds <= 0:
        return None
    c0, t0 = bots.cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    return (bots.cpu() - c0) / (time.monotonic() - t0)


class LagMonitor:
    """How late this process's event loop wakes up: a saturated harness skews every time."""

    def __init__(self, period: float = 0.01) -> None:
        self.period, self.lags = period, []
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(self.period)
            self.lags.append(time.monotonic() - t - self.period)

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def measured(
    opened: contextlib.AbstractAsyncContextManager[Session],
    measure: Callable[[Session], Awaitable[None]],
    result: dict[str, Any],
) -> dict[str, Any]:
    """Run ``measure`` in the session ``opened`` starts; a failure goes into ``result``'s
    errors, with the tail of the bot's log whenever something went wrong."""
    try:
        async with opened as s:
            try:
                await measure(s)
            except BenchError:
                result["bot_log_tail"] = s.bots.log_tail()
                raise
            if result["errors"]:
                result["bot_log_tail"] = s.bots.log_tail()
    except BenchError as error:
        result["errors"].append(str(error))
    return result

"""The long-thread profile (issue 18, item 1): one huge thread must not stall everyone.

    .venv/bin/python -m bench.run --profile long-thread

FakeSlack holds a 10,000-message human thread the bot is not in, with Slack's tiers on (the
fake's and the bot's). A person replies in that thread (not for the bot), and at once someone
mentions the bot in a 2-message thread elsewhere; then someone mentions the bot inside the
huge thread. The figures: ``conversations.replies`` pages each costs, and the delay from the
other mention reaching the bot's socket to its first words, beside a mention made while
nothing else happens.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .analysis import Asked
from .profiles import World
from .scenario import BenchError, Options, Session, session, wait_answers, warm_up

Result = dict[str, Any]
READ = "conversations.replies"


@dataclass(frozen=True)
class LongThread:
    """A ``replies``-message human thread; the pages a reply and a mention in it cost."""

    replies: int = 10_000
    most_pages: int = 3  # issue 18's target per answer
    world: World = field(default_factory=lambda: World(first_token=0.5, tokens=20))


async def _first_words(s: Session, channel: str, thread_ts: str, timeout: float) -> float:
    """Seconds until the bot's first text shows in a thread."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if any(m.get("text") for m in s.slack.bot_replies(channel, thread_ts)):
            return time.monotonic() - started
        await asyncio.sleep(0.01)  # polling the fake's record of the thread
    raise BenchError(f"no answer in {channel}/{thread_ts} within {timeout:.0f} s")


async def _mention_elsewhere(s: Session, channel: str, timeout: float) -> float:
    me = s.slack.bot_user_id
    root = s.slack.add_message(channel, "a quick question", user="U1")
    await s.slack.mention(channel, f"<@{me}> q-{channel}", thread_ts=root["ts"])
    return await _first_words(s, channel, root["ts"], timeout)


async def _measure(s: Session, profile: LongThread, out: Result) -> None:
    await warm_up(s, 1)
    timeout = s.world.model_time + 60
    out["quiet_first_words_s"] = await _mention_elsewhere(s, "CQUIET", timeout)
    root = s.slack.add_message("CHUGE", "the migration plan", user="U2")
    for i in range(profile.replies):
        s.slack.add_message("CHUGE", f"reply {i}", user=f"U{i % 7 + 3}", thread_ts=root["ts"])
    before = len(s.slack.calls_to(READ))
    reply = s.slack.add_message("CHUGE", "what a thread", user="U4", thread_ts=root["ts"])
    await s.slack.send_event({
        "type": "message", "user": "U4", "text": "what a thread", "ts": reply["ts"],
        "thread_ts": root["ts"], "channel": "CHUGE", "channel_type": "channel",
        "event_ts": reply["ts"], "team": s.slack.team_id,
    })
    out["busy_first_words_s"] = await _mention_elsewhere(s, "COTHER", timeout)
    out["reply_pages"] = len(s.slack.calls_to(READ)) - before - 1  # less the other's read
    before = len(s.slack.calls_to(READ))
    me = s.slack.bot_user_id
    asked = await s.slack.mention("CHUGE", f"<@{me}> where are we? q-CHUGE", thread_ts=root["ts"])
    missing = await wait_answers(s, [Asked("CHUGE", "CHUGE", asked["ts"], root["ts"])], timeout)
    out["answer_pages"] = len(s.slack.calls_to(READ)) - before
    out["throttled"] = s.slack.throttled()
    if missing:
        out["errors"].append("the mention in the huge thread was not answered")


def render(profile: LongThread, result: Result) -> list[str]:
    def sec(key: str) -> str:
        value = result.get(key)
        return "-" if value is None else f"{value:.2f}"

    pages_ok = max(result.get("reply_pages", 99), result.get("answer_pages", 99))
    verdict = "PASS" if pages_ok <= profile.most_pages else "MISS"
    return [
        f"long thread — {profile.replies:,} messages, Slack's tiers on",
        "",
        "| figure | value |",
        "| --- | ---: |",
        f"| pages read for a plain reply in it (not for the bot) | {result.get('reply_pages')} |",
        f"| pages read to answer a mention in it | {result.get('answer_pages')} |",
        f"| another thread's first words, quiet / right after that reply (s) | "
        f"{sec('quiet_first_words_s')} / {sec('busy_first_words_s')} |",
        f"| answered 429s | {result.get('throttled')} |",
        "",
        f"target: at most {profile.most_pages} pages per answer or reply: {verdict}",
    ]


async def long_thread(opts: Options, workdir: Path) -> tuple[list[str], dict]:
    """``bench.run --profile long-thread``: one run; the table and every figure."""
    profile = LongThread()
    result: Result = {"errors": [], "warnings": []}
    opts = replace(opts, world=profile.world, rate_limits=True)
    started = time.monotonic()
    try:
        async with session(opts, workdir, "long-thread") as s:
            await _measure(s, profile, result)
    except BenchError as error:
        result["errors"].append(str(error))
    status = "ok" if not result["errors"] else "ERROR " + "; ".join(result["errors"])
    print(f"long-thread: {status} ({time.monotonic() - started:.1f}s)", file=sys.stderr)
    return render(profile, result), {"profile": asdict(profile), "runs": [result]}

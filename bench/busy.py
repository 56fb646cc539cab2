"""The busy profile (issue 11): steady questions in a few channels with Slack's rate limits
on, while people chat in threads that are not for the bot."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import analysis as an
from .burst import observed
from .harness import post
from .profiles import Arrival, Busy, learnable
from .report import target
from .scenario import (
    BenchError,
    LagMonitor,
    Options,
    Session,
    measured,
    session,
    wait_answers,
    warm_up,
)

Result = dict[str, Any]
Threads = dict[tuple[str, int], str]  # (channel, index) → the human thread's root ts
COLLEAGUE = "UCOLLEAGUE"


async def run_busy(opts: Options, busy: Busy, workdir: Path) -> Result:
    """One run of the profile against fresh fakes (Slack's tiers on) and a fresh bot."""
    result: Result = {"copies": opts.copies, "errors": [], "warnings": []}
    opened = session(opts, workdir, f"busy-{opts.copies}")
    return await measured(opened, lambda s: _measure(s, opts, busy, result), result)


def human_threads(s: Session, busy: Busy) -> Threads:
    """The channels' existing threads: a root and a few replies each, by people."""
    threads: Threads = {}
    for channel in busy.channel_ids():
        for i in range(busy.threads_per_channel):
            root = s.slack.add_message(channel, f"thread {i}: shall we ship on Friday?",
                                       user=f"UP{i:03d}")
            for r in range(busy.replies_per_thread):
                s.slack.add_message(channel, f"reply {r}: fine by me", user=f"UP{r + 10:03d}",
                                    thread_ts=root["ts"])
            threads[(channel, i)] = root["ts"]
    return threads


async def _measure(s: Session, opts: Options, busy: Busy, out: Result) -> None:
    threads = human_threads(s, busy)
    if opts.warmup:
        await warm_up(s, opts.copies)
    arrivals = busy.schedule()
    calls_before, lag, cpu0 = len(s.slack.calls), LagMonitor(), s.bots.cpu()
    lag.start()
    asked = await drive(s, arrivals, threads)
    missing = await wait_answers(s, asked, s.world.model_time + 60)
    cpu1, mem = s.bots.cpu(), s.bots.memory()
    await lag.stop()
    await asyncio.sleep(s.world.rtt * 2 + 0.1)
    if not s.bots.alive():
        raise BenchError(f"the bot died (status {s.bots.exit_status()})")
    out |= {
        "questions": len(asked),
        "chatter": sum(1 for a in arrivals if a.question is None),
        "bot_cpu_s": cpu1 - cpu0,
        "cpu_ms_per_answer": 1000 * (cpu1 - cpu0) / max(1, len(asked)),
        "rss_peak_mb": mem.get("VmHWM"),
        "rss_peak_sum_mb": mem.get("VmHWM_sum"),
        "harness_lag_p99_ms": 1000 * (an.pct(lag.lags, 0.99) or 0),
    }
    if missing:
        out["errors"].append(f"{len(missing)} answers not finished (e.g. {sorted(missing)[:3]})")
    figures(s, asked, arrivals, threads, s.slack.calls[calls_before:], out)


async def drive(s: Session, arrivals: list[Arrival], threads: Threads) -> list[an.Asked]:
    """Send every arrival at its time (each on its own task: posting takes a round trip)."""
    me, start = s.slack.bot_user_id, time.monotonic()

    async def one(a: Arrival) -> an.Asked | None:
        if a.question is None:  # chatter; where the bot is in the thread, to a colleague
            text = f"<@{COLLEAGUE}> sounds good" if a.addressed else "sounds good"
            await post(s.slack, a.channel, text, a.user, threads[(a.channel, a.thread or 0)])
            return None
        q = a.question
        root = threads[(q.channel, q.thread)] if q.thread is not None else None
        msg = await post(s.slack, q.channel, f"<@{me}> {q.text}", q.user, root)
        return an.Asked(q.key, q.channel, msg["ts"], root)

    tasks = []
    for a in arrivals:
        await asyncio.sleep(max(0.0, start + a.at - time.monotonic()))
        tasks.append(asyncio.create_task(one(a)))
    return [q for q in await asyncio.gather(*tasks) if q is not None]


def figures(s: Session, asked: list[an.Asked], arrivals: list[Arrival], threads: Threads,
            calls: list, out: Result) -> None:
    """Timings against the model's, answers lost or twice, calls, 429s and thread reads."""
    by_key = an.attribute(calls, asked)
    out |= an.stats(an.series(asked, by_key, observed(s, asked), s.world.rtt))
    verdicts = Counter(s.verdict(q) for q in asked)
    mentioned = {(q.channel, q.thread_ts) for q in asked if q.thread_ts}
    unasked = [ts for (ch, _), ts in threads.items()
               if (ch, ts) not in mentioned and s.slack.bot_replies(ch, ts)]
    total, throttled, refused = an.by_method(calls)
    out |= {
        "answered": verdicts["ok"],
        "verdicts": dict(verdicts),
        "lost": sum(verdicts[v] for v in ("lost", "unfinished")),
        "duplicated": verdicts["duplicated"] + verdicts["wrong"] + len(unasked),
        "calls": dict(sorted(total.items())),
        "throttled": dict(sorted(throttled.items())),
        "calls_total": sum(total.values()),
        "throttled_total": sum(throttled.values()),
        "throttled_share": sum(throttled.values()) / max(1, sum(total.values())),
        "replies_calls": total["conversations.replies"],
        "threads_answered": verdicts["ok"],
        "mentions_in_threads": len(mentioned),
        "threads_learned": len(learnable(arrivals)),
    }
    if refused:
        out["warnings"].append(f"Slack refused calls: {dict(refused)}")
    if out["lost"] or out["duplicated"]:
        out["errors"].append(f"answers lost {out['lost']}, twice or unasked {out['duplicated']}")
    out["slowest"] = slowest(asked, by_key, observed(s, asked).events)


def slowest(asked: list[an.Asked], by_key: dict, events: dict, count: int = 3) -> list[dict]:
    """The questions answered last, with their calls (seconds from the event): why late."""
    done = [(max((c.at for c in by_key.get(q.key, [])), default=0) - events[q.key], q)
            for q in asked if q.key in events]
    out = []
    for took, q in sorted(done, key=lambda d: d[0], reverse=True)[:count]:
        trail = [f"{c.at - events[q.key]:.2f} {c.method} {c.status}" for c in by_key[q.key]]
        out.append({"key": q.key, "took_s": round(took, 2), "calls": trail})
    return out


def busy_targets(busy: Busy, r: Result) -> list[dict]:
    """Issue 11's targets for the busy profile."""
    w = busy.world
    reads_allowed = r.get("threads_answered", 0) + r.get("threads_learned", 0)
    p99 = r.get("first_text_p99_ms")
    done = r.get("completion_p99_ms")
    return [
        target("answers lost", None, r.get("lost"), 0, ""),
        target("answers twice (or unasked)", None, r.get("duplicated"), 0, ""),
        target("first words p99 ≤ model's first token + 1 s", None,
               None if p99 is None else p99 / 1000, w.first_token + 1, "s"),
        target("done p99 ≤ model time + 2 s", None,
               None if done is None else done / 1000, w.model_time + 2, "s"),
        target("Slack calls answered 429 ≤ 2%", None, 100 * r.get("throttled_share", 1), 2, "%"),
        target("conversations.replies ≤ threads answered + learned", None,
               r.get("replies_calls"), reads_allowed, "calls"),
    ]

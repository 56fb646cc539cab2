"""The burst (issue 5): N mentions at once, each in its own channel, against a fresh bot."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from . import analysis as an
from .profiles import Burst
from .scenario import (
    BenchError,
    LagMonitor,
    Options,
    Session,
    idle_cpu,
    measured,
    session,
    wait_answers,
    warm_up,
)

Result = dict[str, Any]


async def run_burst(opts: Options, n: int, run: int, workdir: Path, measure_idle: bool) -> Result:
    """Start fakes and a fresh bot, send N mentions at once, measure, tear everything down."""
    kind = opts.launch.kind
    result: Result = {"kind": kind, "n": n, "run": run, "errors": [], "warnings": []}
    opened = session(opts, workdir, f"n{n}-r{run}")
    return await measured(opened, lambda s: _measure(s, opts, n, measure_idle, result), result)


async def _measure(s: Session, opts: Options, n: int, measure_idle: bool, out: Result) -> None:
    bots = s.bots
    out["startup_s"] = time.monotonic() - bots.started_at
    out["rss_start_mb"] = bots.memory().get("VmRSS")
    if opts.warmup:
        await warm_up(s, opts.copies)
    if measure_idle:
        out["idle_cpu_before"] = await idle_cpu(bots, opts.idle)
    calls_before, connections_before = len(s.slack.calls), s.slack.api_connections
    lag = LagMonitor()
    lag.start()
    cpu0, t_post = bots.cpu(), time.monotonic()
    asked = await _send(s, Burst(n))
    timeout = s.world.model_time + 30 + 0.1 * n
    missing = await wait_answers(s, asked, timeout)
    t_done = time.monotonic()
    if not bots.alive():
        raise BenchError(f"the bot died during the burst:\n{bots.log_tail()}")
    cpu1, mem = bots.cpu(), bots.memory()
    await lag.stop()
    await asyncio.sleep(s.world.rtt * 2 + 0.1)  # let late calls land before counting them
    out["idle_cpu_after"] = await idle_cpu(bots, opts.idle) if measure_idle else None
    out |= {
        "bot_cpu_s": cpu1 - cpu0,
        "cpu_ms_per_answer": 1000 * (cpu1 - cpu0) / n,
        "rss_peak_mb": mem.get("VmHWM"),
        "rss_peak_sum_mb": mem.get("VmHWM_sum"),
        "rss_end_mb": mem.get("VmRSS"),
        "wall_s": t_done - t_post,
        "web_api_connections_per_answer": (s.slack.api_connections - connections_before) / n,
        "harness_lag_p99_ms": 1000 * (an.pct(lag.lags, 0.99) or 0),
    }
    if opts.launch.gc_trace:
        out |= gc_figures([p for path in bots.log_paths for p in gc_pauses(path, t_post, t_done)])
    if missing:
        out["errors"].append(
            f"{len(missing)} of {n} answers not finished within {timeout:.0f}s "
            f"(e.g. {sorted(missing)[:3]})"
        )
    figures(s, asked, s.slack.calls[calls_before:], out)


async def _send(s: Session, burst: Burst) -> list[an.Asked]:
    """Post every question at once; where each one is."""
    me = s.slack.bot_user_id

    async def one(q) -> an.Asked:
        msg = await s.slack.mention(q.channel, f"<@{me}> {q.text}", user=q.user)
        return an.Asked(q.key, q.channel, msg["ts"])

    return list(await asyncio.wait_for(asyncio.gather(*map(one, burst.questions())), 30))


def observed(s: Session, asked: list[an.Asked]) -> an.Observed:
    """What the fakes' hooks saw, per question key."""
    rec = s.recorder
    events = {q.key: rec.sent[(q.channel, q.ts)] for q in asked if (q.channel, q.ts) in rec.sent}
    acks = {}
    for q in asked:
        envelope = rec.envelopes.get((q.channel, q.ts))
        if envelope in s.slack.acks:
            acks[q.key] = s.slack.acks[envelope]
    return an.Observed(events, acks, rec.arrivals, rec.ends)


def figures(s: Session, asked: list[an.Asked], calls: list, out: Result) -> None:
    """Per-thread timings, Slack calls per answer, pacing and correctness."""
    n, rtt = len(asked), s.world.rtt
    by_key = an.attribute(calls, asked)
    seen = observed(s, asked)
    out |= an.stats(an.series(asked, by_key, seen, rtt))
    out["makespan_s"] = an.makespan(asked, by_key, seen, rtt)
    mine = [c for q in asked for c in by_key.get(q.key, [])]
    per_answer, _, refused = an.by_method(mine)
    attributed = {id(c) for c in mine}
    out["calls_per_answer"] = {m: c / n for m, c in sorted(per_answer.items())}
    out["calls_per_answer_total"] = sum(per_answer.values()) / n
    out["global_calls"] = dict(Counter(c.method for c in calls if id(c) not in attributed))
    gaps = an.update_gaps(mine)
    out["update_gap_min_s"] = min(gaps) if gaps else None
    out["update_gap_p50_s"] = an.pct(gaps, 0.5)
    peaks = defaultdict(list)
    for call in calls:
        peaks[call.method].append(call.at)
    out["peak_calls_per_s"] = {m: an.peak_per_second(t) for m, t in sorted(peaks.items())}
    out["redeliveries"] = s.recorder.retries
    unacked = [q.key for q in asked if q.key not in seen.acks]
    wrong = [q.key for q in asked if s.verdict(q) != "ok"]
    if unacked:
        out["errors"].append(f"{len(unacked)} events never acked (e.g. {unacked[:3]})")
    if wrong:
        out["errors"].append(f"{len(wrong)} answers incomplete or wrong (e.g. {wrong[:3]})")
    if refused:
        out["warnings"].append(f"Slack refused calls: {dict(refused)}")


def gc_pauses(log: Path, start: float, end: float) -> list[tuple[float, float, int]]:
    """The bot's collector pauses (start, ms, generation) within [start, end] (--gc-trace)."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("bench-gc "):
            _, at, ms, gen = line.split()
            if start <= float(at) <= end:
                out.append((float(at), float(ms), int(gen)))
    return out


def gc_figures(pauses: list[tuple[float, float, int]]) -> Result:
    return {
        "gc_pauses": len(pauses),
        "gc_gen2_pauses": sum(1 for _, _, gen in pauses if gen == 2),
        "gc_max_ms": max((ms for _, ms, _ in pauses), default=0.0),
        "gc_total_ms": sum(ms for _, ms, _ in pauses),
    }

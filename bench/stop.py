"""The stop profile (#19): how fast Slack's stop button ends an answer being written.

    .venv/bin/python -m bench.run --profile stop        # 20 answers, each stopped (~1 min)

One mention at a time gets a long answer (400 tokens at 50 ms: 20 s of writing); once its
first words show, a person clicks the stop button of the thread's agent session
(``FakeSlack.click_stop``: Slack stops the stream and sends ``agent_session_stopped`` over the
bot's socket, Slack's round trip later). Measured from the click, in this process's clock:

* *model closed*: the fake model sees the request's connection close (``StreamRecord``'s
  ``ended_at``, outcome ``aborted``): no more tokens are paid from then on;
* *marked*: the call that writes *Stopped.* under the text is visible in Slack (it reached
  the fake Slack, plus the round trip the fake waits before answering);
* *active*: the same for the call that moves the session off ``processing``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from .analysis import pct
from .harness import question_key
from .profiles import Stop
from .report import target
from .scenario import Options, Session, measured, session, wait_until, warm_up

Result = dict[str, Any]
MARK = "_Stopped._"
FIGURES = ("closed_ms", "marked_ms", "active_ms")


async def run_stop(opts: Options, profile: Stop, workdir: Path) -> Result:
    """``profile.runs`` answers against fresh fakes and a fresh bot, each stopped."""
    result: Result = {"errors": [], "warnings": [], **{k: [] for k in FIGURES}}

    async def measure(s: Session) -> None:
        if opts.warmup:
            await warm_up(s, opts.copies)
        for i in range(profile.runs):
            await _stop_one(s, i, result)

    return await measured(session(opts, workdir, "stop"), measure, result)


async def _stop_one(s: Session, i: int, out: Result) -> None:
    """One answer, stopped once its first words show (plus 0-450 ms, so that clicks fall at
    every point of the bot's update interval)."""
    slack, key = s.slack, f"CSTOP{i:02d}"
    msg = await slack.mention(key, f"<@{slack.bot_user_id}> talk for a while q-{key}")
    thread = (key, msg["ts"])
    await wait_until(lambda: slack.session_statuses(*thread)[-1:] == ["processing"]
                     and bool(slack.bot_text(*thread)), 30.0, f"{key}'s first words", s.bots)
    await asyncio.sleep(0.05 * (i % 10))  # the click's moment within the update interval
    seen, clicked = len(slack.calls), time.monotonic()
    await slack.click_stop(*thread, user="USTOPPER")
    await wait_until(lambda: slack.bot_text(*thread).endswith(MARK)
                     and slack.session_statuses(*thread)[-1] == "active", 10.0,
                     f"{key} marked stopped and its session active", s.bots)
    await wait_until(lambda: _record(s, key) is not None, 10.0, f"{key}'s model closed", s.bots)
    record = _record(s, key)
    if record is None or record.outcome != "aborted":
        out["errors"].append(f"{key}: the model's stream ended {getattr(record, 'outcome', '?')}")
        return
    calls = slack.calls[seen:]
    marked = next(c.at for c in calls if MARK in json.dumps(c.params))
    active = next(c.at for c in calls if _activates(c.method, c.params))
    out["closed_ms"].append((record.ended_at - clicked) * 1000)
    out["marked_ms"].append((marked + s.world.rtt - clicked) * 1000)
    out["active_ms"].append((active + s.world.rtt - clicked) * 1000)


def _record(s: Session, key: str) -> Any:
    found = [r for r in s.llm.streams if question_key(r.body) == key]
    return found[0] if found else None


def _activates(method: str, params: dict) -> bool:
    """A call that moves the session to ``active``."""
    if method == "agents.sessions.setStatus":
        return params.get("status") == "active"
    return method == "chat.stopStream" and params.get("session_status") == "active"


def render(profile: Stop, result: Result) -> list[str]:
    """The run's table and its targets."""
    world, rows = profile.world, []
    lines = [
        f"stop — {profile.runs} answers ({world.tokens} tokens at {world.token_gap * 1000:.0f} "
        f"ms), each stopped once its first words show; Slack round trip "
        f"{world.rtt * 1000:.0f} ms",
        "",
        "| from the click to | p50 (ms) | p99 (ms) | max (ms) |",
        "| --- | ---: | ---: | ---: |",
    ]
    names = {"closed_ms": "the model request closed", "marked_ms": "*Stopped.* visible",
             "active_ms": "the session active"}
    for key, name in names.items():
        values = result[key]
        cells = [pct(values, 0.5), pct(values, 0.99), max(values, default=None)]
        lines.append(f"| {name} | " + " | ".join(_ms(v) for v in cells) + " |")
        rows.append(target(f"{name} p99 ≤ {profile.target_s:g} s", len(values),
                           pct(values, 0.99), profile.target_s * 1000, "ms"))
    table = [f"| {r['target']} | {_ms(r['value'])} ms | {r['result']} |" for r in rows]
    return [*lines, "", "| target | value | result |", "| --- | ---: | --- |", *table]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


async def stop(opts: Options, workdir: Path) -> tuple[list[str], dict]:
    """``bench.run --profile stop``: the table and every figure."""
    profile = Stop()
    started = time.monotonic()
    result = await run_stop(replace(opts, world=profile.world), profile, workdir)
    status = "ok" if not result["errors"] else "ERROR " + "; ".join(result["errors"])
    print(f"stop: {status} ({time.monotonic() - started:.1f}s)", file=sys.stderr, flush=True)
    if result["errors"] and result.get("bot_log_tail"):
        print("  bot log (tail):\n" + result["bot_log_tail"], file=sys.stderr)
    return render(profile, result), {"profile": asdict(profile), "runs": [result]}

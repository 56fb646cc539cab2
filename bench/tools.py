"""The tools profile (issue 19): N questions at once, each answered after rounds of Slack search
(``search_slack``, each search taking ``tool_latency`` in Slack), Slack's rate tiers on.

The fake model calls the tool until a question has had its rounds, then answers. Figures:

* first progress: from the moment the fake model's tool call left it (its stream's end) to
  the first sign of that round in Slack: the status naming the tool, or the round's task
  card, visible one RTT after the call reached Slack; per round of every question.
* done: the event → the answer's last update visible (the status cleared after it is
  left out: it is no update of the answer).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from fakes.openai import Call, FakeOpenAI, Reply
from fakes.slack import FakeSlack

from . import analysis as an
from .harness import question_key
from .profiles import Tools, answer_chunks
from .report import target
from .scenario import BenchError, Options, Session, measured, session, wait_answers, warm_up

Result = dict[str, Any]
NOTES = "CTOOLS"  # the public channel the searches find things in
THINKING = "is thinking…"
WRITES = ("chat.startStream", "chat.appendStream", "chat.stopStream", "chat.postMessage",
          "chat.update")


def rounds_in(body: dict) -> int:
    """How many rounds of tool calls a model request carries."""
    return sum(1 for m in body.get("messages") or []
               if isinstance(m, dict) and m.get("role") == "assistant" and m.get("tool_calls"))


def tool_reply(profile: Tools, key: str) -> Reply:
    """The fake model's tool call: a search for the question's notes."""
    w = profile.world
    call = Call("search_slack", {"query": f"q-{key}"})
    return Reply("", tool_calls=[call], first_token_delay=w.first_token, token_delay=w.token_gap)


def final_reply(profile: Tools) -> Reply:
    w = profile.world
    return Reply(chunks=answer_chunks(w.tokens), first_token_delay=w.first_token,
                 token_delay=w.token_gap)


def model_time(profile: Tools) -> float:
    """The fake model's time for one question: its tool rounds, then the answer."""
    return profile.rounds * tool_reply(profile, "x").duration() + final_reply(profile).duration()


def prepare(profile: Tools):
    """Set up the fakes before the bot starts: AI search on, slow searches, notes to find,
    a model that calls the tool ``rounds`` times before it answers."""

    def setup(slack: FakeSlack, llm: FakeOpenAI) -> None:
        slack.ai_search = True
        slack.method_latency["assistant.search.context"] = profile.tool_latency
        slack.add_channel(NOTES, name="notes")
        for q in profile.questions():
            slack.add_message(NOTES, f"q-{q.key} notes: the plan is ready", user="UNOTES")

        def model(body: dict) -> Reply:
            key = question_key(body) or "none"
            return tool_reply(profile, key) if rounds_in(body) < profile.rounds else (
                final_reply(profile))

        llm.default = model

    return setup


async def run_tools(opts: Options, profile: Tools, workdir: Path) -> Result:
    """Start the fakes and the bot, ask every question at once, measure, tear down."""
    result: Result = {"n": profile.n, "errors": [], "warnings": []}
    opened = session(opts, workdir, "tools", prepare(profile))
    return await measured(opened, lambda s: _measure(s, opts, profile, result), result)


async def _measure(s: Session, opts: Options, profile: Tools, out: Result) -> None:
    if opts.warmup:
        await warm_up(s, opts.copies)
    calls_before, streams_before = len(s.slack.calls), len(s.llm.streams)
    me = s.slack.bot_user_id

    async def ask(q) -> an.Asked:
        msg = await s.slack.mention(q.channel, f"<@{me}> {q.text}", user=q.user)
        return an.Asked(q.key, q.channel, msg["ts"])

    asked = list(await asyncio.gather(*map(ask, profile.questions())))
    timeout = model_time(profile) + profile.rounds * profile.tool_latency + 60
    missing = await wait_answers(s, asked, timeout)
    if not s.bots.alive():
        raise BenchError(f"the bot died:\n{s.bots.log_tail()}")
    await asyncio.sleep(s.world.rtt * 2 + 0.1)  # let late calls (the status cleared) land
    calls, streams = s.slack.calls[calls_before:], s.llm.streams[streams_before:]
    out |= figures(s, asked, calls, streams, profile)
    if missing:
        out["errors"].append(f"{len(missing)} of {profile.n} answers not finished within "
                             f"{timeout:.0f}s (e.g. {sorted(missing)[:3]})")


def figures(s: Session, asked: list[an.Asked], calls: list, streams: list, profile: Tools
            ) -> Result:
    """First progress per round, done and first words per question, calls, verdicts."""
    rtt, where = s.world.rtt, {q.channel: q for q in asked}
    mine: dict[str, list] = {q.key: [] for q in asked}
    for call in calls:
        if (q := where.get(str(an.channel_of(call)))) is not None:
            mine[q.key].append(call)
    progress = [p for record in streams
                if (p := first_progress(record, mine, profile.rounds, rtt)) is not None]
    series: dict[str, list[float]] = {"first_progress": progress, "completion": [],
                                      "first_text": []}
    for q in asked:
        event = s.recorder.sent.get((q.channel, q.ts))
        writes = [c for c in mine[q.key] if c.method in WRITES and c.response.get("ok")]
        if event is not None and writes:
            series["completion"].append(max(c.at for c in writes) + rtt - event)
            texts = [c for c in writes if _has_text(c)]
            if texts:
                series["first_text"].append(texts[0].at + rtt - event)
    verdicts = Counter(s.verdict(q) for q in asked)
    per_answer = Counter(c.method for q in asked for c in mine[q.key])
    return an.stats(series) | {
        "progress_samples": len(progress),
        "expected_progress_samples": profile.n * profile.rounds,
        "lost": verdicts["lost"] + verdicts["unfinished"],
        "duplicated": verdicts["duplicated"],
        "wrong": verdicts["wrong"],
        "throttled": sum(1 for c in calls if c.status == 429),
        "calls_per_answer": {m: n / len(asked) for m, n in sorted(per_answer.items())},
        "searches": sum(1 for c in calls if c.method == "assistant.search.context"),
        "calls_total": dict(sorted(Counter(c.method for c in calls).items())),
        "streamed": sum(1 for q in asked if any(
            c.method == "chat.startStream" and c.response.get("ok") for c in mine[q.key])),
    }


def first_progress(record: Any, mine: dict[str, list], rounds: int, rtt: float) -> float | None:
    """Seconds from a tool call leaving the model to its first sign visible in Slack (None
    for a stream that called no tool)."""
    key, done = question_key(record.body), rounds_in(record.body)
    if key not in mine or done >= rounds or record.outcome != "done":
        return None
    step = f"tool-{done + 1}-0"
    for call in mine[key]:
        if call.at < record.ended_at or not call.response.get("ok"):
            continue
        status = call.params.get("status")
        if call.method == "assistant.threads.setStatus" and status not in ("", THINKING):
            return call.at + rtt - record.ended_at
        if any(c.get("type") == "task_update" and c.get("id") == step
               for c in call.params.get("chunks") or []):
            return call.at + rtt - record.ended_at
    return None


def _has_text(call: Any) -> bool:
    if call.method in ("chat.postMessage", "chat.update"):
        return True
    chunks = call.params.get("chunks") or []
    return bool(call.params.get("markdown_text")) or any(
        c.get("type") == "markdown_text" and str(c.get("text")).strip() for c in chunks)


def tools_targets(profile: Tools, r: Result) -> list[dict]:
    """Issue 19's targets for the tools profile."""
    w, n = profile.world, profile.n
    progress, done = r.get("first_progress_p99_ms"), r.get("completion_p99_ms")
    done_limit = model_time(profile) + profile.rounds * profile.tool_latency + 2
    return [
        target("answers lost", n, r.get("lost"), 0, ""),
        target("answers twice (or wrong)", n, (r.get("duplicated") or 0) + (r.get("wrong") or 0),
               0, ""),
        target("Slack calls answered 429", n, r.get("throttled"), 0, "calls"),
        target("first progress p99 ≤ 1 RTT + 100 ms after the tool call", n,
               None if progress is None else progress, 1000 * w.rtt + 100, "ms"),
        target("done p99 ≤ model + tools + 2 s", n, None if done is None else done / 1000,
               done_limit, "s"),
    ]


def tools_lines(profile: Tools, r: Result) -> list[str]:
    """The figures as a few lines of Markdown."""
    w = profile.world

    def ms(name: str, q: str) -> str:
        value = r.get(f"{name}_{q}_ms")
        return "n/a" if value is None else f"{value:.0f} ms"

    calls = ", ".join(f"{m} {v:.1f}" for m, v in r.get("calls_per_answer", {}).items())
    return [
        f"tools — {profile.n} questions at once, {profile.rounds} rounds of Slack search each "
        f"({profile.tool_latency * 1000:.0f} ms a search), RTT {w.rtt * 1000:.0f} ms, model "
        f"{model_time(profile):.2f} s a question, Slack's rate limits on",
        "",
        "| figure | p50 | p90 | p99 | max |", "|---|---:|---:|---:|---:|",
        *(f"| {label} | {ms(key, 'p50')} | {ms(key, 'p90')} | {ms(key, 'p99')} | "
          f"{ms(key, 'max')} |" for label, key in (
              ("first progress after a tool call", "first_progress"),
              ("first words", "first_text"), ("done", "completion"))),
        "",
        f"progress measured for {r.get('progress_samples')} of "
        f"{r.get('expected_progress_samples')} tool calls; {r.get('streamed')} of {profile.n} "
        f"answers streamed (the rest posted: Slack's stream budget); {r.get('searches')} "
        f"searches; 429s: {r.get('throttled')}",
        f"Slack calls per answer, in its thread: {calls}",
        "all Slack calls: " + ", ".join(f"{m} {v}" for m, v in r.get("calls_total", {}).items()),
    ]

"""What the fakes saw, turned into figures: pure functions, no I/O (tested on their own).

Timing model (all times ``time.monotonic()`` of the benchmark process):

* ``event``: the moment a question's event was written to the bot's socket.
* A Web API call takes effect in Slack one ``rtt`` after it reaches FakeSlack (the fake
  sleeps before answering), so a call is *visible* at ``arrival + rtt``.
* ack: event → the ack read by FakeSlack. first sign: event → the first 👀 or status
  visible. first words (key ``first_text``): event → the first text visible
  (``chat.startStream`` with text, or ``chat.postMessage``). done (key ``completion``):
  event → the thread's last call visible. tail: the model's last byte → done. makespan:
  first event → last done.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

SIGN_METHODS = ("assistant.threads.setStatus", "reactions.add")
TEXT_STARTS = ("chat.startStream", "chat.postMessage")
UPDATE_METHODS = ("chat.appendStream", "chat.update", "chat.stopStream")
IN_THREAD = ("assistant.threads.setStatus", "chat.startStream", "chat.postMessage")


class CallLike(Protocol):
    """What the analysis reads of a FakeSlack ``Call``."""

    method: str
    params: dict
    at: float
    response: dict
    status: int


@dataclass(frozen=True)
class Asked:
    """A question as posted: its key, and where it is in Slack."""

    key: str
    channel: str
    ts: str
    thread_ts: str | None = None

    @property
    def thread(self) -> tuple[str, str]:
        return self.channel, self.thread_ts or self.ts


def pct(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) with linear interpolation; None for no values."""
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo = math.floor(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def ratio(value: float | None, base: float | None) -> float | None:
    """``value / base``, or None when either is missing (or the base is 0)."""
    if value is None or not base:
        return None
    return value / base


def median(values: Iterable[Any]) -> float | None:
    """The median of the values that are not None (None if none are)."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def peak_per_second(times: Iterable[float]) -> int:
    """The most calls within any one-second window."""
    s, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(s):
        while t - s[lo] > 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def channel_of(call: CallLike) -> str | None:
    return call.params.get("channel") or call.params.get("channel_id")


class Attributor:
    """Finds the question each Slack call serves: by its thread, its question (👀) or the
    message it updates. Feed calls in arrival order, once each has its answer."""

    def __init__(self, asked: Sequence[Asked]) -> None:
        self.threads = {q.thread: q.key for q in asked}
        self.questions = {(q.channel, q.ts): q.key for q in asked}
        self.messages: dict[tuple[str, str], str] = {}

    def key_of(self, call: CallLike) -> str | None:
        channel, p = str(channel_of(call)), call.params
        if call.method == "reactions.add":
            return self.questions.get((channel, str(p.get("timestamp"))))
        if call.method in IN_THREAD:
            key = self.threads.get((channel, str(p.get("thread_ts"))))
            if key and call.response.get("ts"):
                self.messages[(channel, str(call.response["ts"]))] = key
            return key
        if call.method in UPDATE_METHODS:
            return self.messages.get((channel, str(p.get("ts"))))
        if call.method == "conversations.replies":
            return self.threads.get((channel, str(p.get("ts"))))
        return None


def attribute(calls: Sequence[CallLike], asked: Sequence[Asked]) -> dict[str, list[CallLike]]:
    """Each question's Slack calls, in arrival order."""
    who = Attributor(asked)
    out: dict[str, list[CallLike]] = defaultdict(list)
    for call in calls:
        if (key := who.key_of(call)) is not None:
            out[key].append(call)
    return out


def timings(calls: Sequence[CallLike], event: float, rtt: float) -> dict[str, float]:
    """One question's first sign, first text and completion, seconds from its event."""
    ok = [c for c in calls if c.response.get("ok")]
    out: dict[str, float] = {}
    signs = [c for c in ok if c.method in SIGN_METHODS]
    if signs:
        out["first_sign"] = signs[0].at + rtt - event
    texts = [
        c
        for c in ok
        if c.method == "chat.postMessage"
        or (c.method == "chat.startStream" and c.params.get("markdown_text"))
    ]
    if texts:
        out["first_text"] = texts[0].at + rtt - event
    writes = [c for c in calls if c.method not in ("conversations.replies", "users.info")]
    if writes:
        out["completion"] = max(c.at for c in writes) + rtt - event
    return out


def update_gaps(calls: Sequence[CallLike]) -> list[float]:
    """Seconds between successive updates of one message (pacing)."""
    by_message: dict[str, list[float]] = defaultdict(list)
    for c in calls:
        if not c.response.get("ok"):
            continue
        if c.method in TEXT_STARTS:
            by_message[str(c.response.get("ts"))].append(c.at)
        elif c.method in ("chat.appendStream", "chat.update"):
            by_message[str(c.params.get("ts"))].append(c.at)
    return [b - a for times in by_message.values() for a, b in itertools.pairwise(times)]


def verdict(texts: Sequence[str], streaming: bool, expected: str) -> str:
    """``ok``, ``lost`` (no complete answer), ``duplicated`` (answered twice), ``wrong``
    (complete, with something else beside it) or ``unfinished`` (still streaming)."""
    joined = "".join(texts)
    count = joined.count(expected) if expected else 0
    if count >= 2:
        return "duplicated"
    if count == 0:
        return "lost"
    if streaming:
        return "unfinished"
    return "ok" if joined == expected else "wrong"


def stats(series: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """``<name>_p50_ms``, ``_p90_ms``, ``_p99_ms`` and ``_max_ms`` of each series (seconds
    in)."""
    out: dict[str, float] = {}
    for name, values in series.items():
        if values:
            for label, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
                out[f"{name}_{label}_ms"] = 1000 * (pct(values, q) or 0.0)
            out[f"{name}_max_ms"] = 1000 * max(values)
    return out


def by_method(calls: Iterable[CallLike]) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Calls per method, 429s per method, and other refusals (``method:error``)."""
    total: Counter[str] = Counter()
    throttled: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for c in calls:
        total[c.method] += 1
        if c.status == 429:
            throttled[c.method] += 1
        elif not c.response.get("ok"):
            refused[f"{c.method}:{c.response.get('error', 'no answer')}"] += 1
    return total, throttled, refused


@dataclass(frozen=True)
class Observed:
    """Per question key: when its event reached the bot, was acked, reached the model, and
    when the model's answer ended (missing keys: never)."""

    events: Mapping[str, float]
    acks: Mapping[str, float]
    arrivals: Mapping[str, float]
    ends: Mapping[str, float]


def series(
    asked: Sequence[Asked], calls: Mapping[str, Sequence[CallLike]], seen: Observed, rtt: float
) -> dict[str, list[float]]:
    """Every question's ack, model request, first sign, first text, completion, tail and
    model span (seconds), as lists over the questions that have them."""
    out: dict[str, list[float]] = defaultdict(list)
    for q in asked:
        event = seen.events.get(q.key)
        if event is None:
            continue
        arrival, end = seen.arrivals.get(q.key), seen.ends.get(q.key)
        if q.key in seen.acks:
            out["ack"].append(seen.acks[q.key] - event)
        if arrival is not None:
            out["model_request"].append(arrival - event)
        found = timings(calls.get(q.key, []), event, rtt)
        for name, value in found.items():
            out[name].append(value)
        if "completion" in found and end is not None:
            out["tail"].append(event + found["completion"] - end)
        if arrival is not None and end is not None:
            out["model_span"].append(end - arrival)
    return out


def makespan(
    asked: Sequence[Asked], calls: Mapping[str, Sequence[CallLike]], seen: Observed, rtt: float
) -> float | None:
    """First event → last completion (None when nothing completed)."""
    starts = [seen.events[q.key] for q in asked if q.key in seen.events]
    ends = [
        seen.events[q.key] + t["completion"]
        for q in asked
        if q.key in seen.events
        and "completion" in (t := timings(calls.get(q.key, []), seen.events[q.key], rtt))
    ]
    return max(ends) - min(starts) if starts and ends else None


def summarize(runs: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """The median over repeated runs of every scalar in ``keys`` and, per name, of every
    mapping figure (``calls_per_answer``, …); errors added up."""
    out: dict[str, Any] = {"runs": len(runs)}
    for key in keys:
        out[key] = median(r.get(key) for r in runs)
    for key in ("calls_per_answer", "global_calls", "peak_calls_per_s"):
        names = sorted({m for r in runs for m in r.get(key, {})})
        out[key] = {m: median(r.get(key, {}).get(m, 0) for r in runs) for m in names}
    out["errors"] = sum(len(r.get("errors", ())) for r in runs)
    return out

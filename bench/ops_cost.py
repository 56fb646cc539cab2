"""What metrics and spend budgets cost the bot per answer, in CPU: the answer path's own calls
(the budget read before the model, the metered stream, the Slack calls and the ending told to
the metrics, the count after the answer) with metrics and budgets on, against the same path
with both off. The model is a stand-in that streams 60 pieces with the server's usage, so the
difference is only what metrics and budgets add.

    .venv/bin/python -m bench.ops_cost                 # SQLite and Redis, 2000 answers, 5 runs
    .venv/bin/python -m bench.ops_cost --answers 500 --runs 3

CPU is ``time.process_time()`` (the SQLite thread's included); with Redis, the server runs
in a process of its own (bench/store.py), so only the bot's side is counted. Writes
bench-results/ops-cost.json. The target (docs/performance.md): at most 0.5 ms an answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/ops_cost.py` as well as `python -m bench.ops_cost`
    sys.path.insert(0, str(ROOT))

from bench.store import redis_store  # noqa: E402
from slackgpt.cli import run as slackgpt_run  # noqa: E402
from slackgpt.config.operations import Limits, Price  # noqa: E402
from slackgpt.metrics.base import Metrics, NoMetrics  # noqa: E402
from slackgpt.metrics.prometheus import PrometheusMetrics  # noqa: E402
from slackgpt.model.client import Completion, Usage  # noqa: E402
from slackgpt.state.local import LocalState  # noqa: E402
from slackgpt.usage.redis_store import RedisUsage  # noqa: E402
from slackgpt.usage.spending import Spending  # noqa: E402
from slackgpt.usage.store import SqliteUsage, UsageStore  # noqa: E402

TARGET_MS = 0.5
PIECES = 60  # the burst's answer length
CALLS = ("reactions.add", "assistant.threads.setStatus", "conversations.replies", "users.info",
         "chat.startStream", *["chat.appendStream"] * 4, "chat.stopStream")  # one answer's
MESSAGES = [{"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "What does Socket Mode do? " * 20}]
LIMITS = Limits(person_tokens_per_day=10**12, workspace_tokens_per_month=10**13,
                workspace_cost_per_month=10**9)
PRICES = {"gpt-test": Price(0.25, 2.0)}


class Model:
    """The model client's shape, streaming PIECES words and the server's usage."""

    model_name, where = "gpt-test", "bench"

    async def stream(self, messages: list, completion: Completion) -> AsyncIterator[str]:
        for _ in range(PIECES):
            yield "word "
        completion.usage, completion.finish_reason = Usage(2_000, PIECES), "stop"


async def answer(spending: Spending, metrics: Metrics, model: Model, user: str) -> None:
    """What one answer asks of the budgets and the metrics (and the stream they wrap)."""
    await spending.refusal(user)
    metered = spending.meter(model)  # type: ignore[arg-type]
    async for _ in metered.stream(MESSAGES, Completion()):
        pass
    for method in CALLS:
        metrics.slack_call(method, 200)
    metrics.answer("ok", 0.8, 3.0)
    await spending.settle(user, "C1", metered)


async def cpu_per_answer(spending: Spending, metrics: Metrics, answers: int) -> float:
    """CPU milliseconds per answer, after a warm-up."""
    model = Model()
    for i in range(50):
        await answer(spending, metrics, model, f"U{i % 40}")
    began = time.process_time()
    for i in range(answers):
        await answer(spending, metrics, model, f"U{i % 40}")
    return (time.process_time() - began) / answers * 1000


def setups(store: Callable[[], UsageStore]) -> dict[str, Callable[[], Spending]]:
    """The configurations measured, each a fresh Spending (and its metrics)."""

    def off() -> Spending:
        return Spending()

    def metrics_only() -> Spending:
        return Spending(prices=PRICES, metrics=PrometheusMetrics(), measuring=True)

    def both() -> Spending:
        return Spending(LIMITS, store(), LocalState(None), PRICES, PrometheusMetrics())

    return {"off": off, "metrics": metrics_only, "metrics+budgets": both}


async def measure(store: Callable[[], UsageStore], answers: int, runs: int) -> dict[str, float]:
    """The median over ``runs`` of each configuration's CPU per answer (interleaved)."""
    found: dict[str, list[float]] = {}
    for _ in range(runs):
        for name, make in setups(store).items():
            spending = make()
            await spending.open()
            metrics = spending.metrics if name != "off" else NoMetrics()
            try:
                found.setdefault(name, []).append(
                    await cpu_per_answer(spending, metrics, answers))
            finally:
                await spending.close()
    return {name: statistics.median(values) for name, values in found.items()}


def has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


async def fill(results: dict[str, dict[str, float]], answers: int, runs: int) -> None:
    """Each usage store's figures into ``results``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "usage.sqlite3"
        results["sqlite"] = await measure(lambda: SqliteUsage(path), answers, runs)
    with redis_store() as (url, _):
        results["redis"] = await measure(lambda: RedisUsage(url), answers, runs)


def table(results: dict[str, dict[str, float]]) -> list[str]:
    lines = ["| usage store | off | metrics | metrics+budgets | added | target |",
             "| --- | --- | --- | --- | --- | --- |"]
    for store, found in results.items():
        added = found["metrics+budgets"] - found["off"]
        verdict = "PASS" if added <= TARGET_MS else "MISS"
        lines.append(f"| {store} | {found['off']:.3f} ms | {found['metrics']:.3f} ms | "
                     f"{found['metrics+budgets']:.3f} ms | {added:.3f} ms | "
                     f"≤ {TARGET_MS} ms {verdict} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ops_cost", description=__doc__)
    parser.add_argument("--answers", type=int, default=2000, help="answers per run (2000)")
    parser.add_argument("--runs", type=int, default=5, help="runs; the median is reported (5)")
    parser.add_argument("--json", default=str(ROOT / "bench-results" / "ops-cost.json"))
    parser.add_argument("--asyncio", action="store_true",
                        help="the standard event loop, even where uvloop is installed")
    args = parser.parse_args(argv)
    loop = "asyncio" if args.asyncio else "uvloop" if has_uvloop() else "asyncio"
    results: dict[str, dict[str, float]] = {}
    runner = asyncio.run if loop == "asyncio" else slackgpt_run  # the bot's own choice
    runner(fill(results, args.answers, args.runs))
    print("\n".join([f"CPU per answer (median of {args.runs} runs of {args.answers}, {loop}):",
                     "", *table(results)]))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    figures = {"answers": args.answers, "runs": args.runs, "loop": loop, "cpu_ms": results}
    out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the real slackgpt bot (``python app.py``) against FakeSlack and FakeOpenAI.

The bot runs as its own process; the fakes run in this one on 127.0.0.1 and are observed
through their public hooks. Two profiles (``bench/profiles.py``):

* ``burst`` (default): N mentions at once, each in its own channel, for every N, against
  slackgpt and against the floor bot (``bench/floor.py``: the least a bot can do), with
  Slack's rate limits off; figures are medians over ``--repeat`` runs.
* ``busy``: 40 questions a minute for 90 s in 10 channels (a third inside human threads)
  while people write 2 thread replies a second not meant for the bot; model 1 s to the
  first token, 7 s per answer; Slack's rate tiers on (a real 60 s window). With
  ``--bots 2 --redis`` two copies share a Redis-protocol server (``REDIS_URL``).
* ``photos``: 3 mentions at once with ten 4.9 MB photos each; the bot's peak memory
  (``bench/photos.py``).
* ``tools``: 20 mentions at once, each answered after 2 rounds of Slack search (300 ms a
  search), Slack's rate tiers on; first progress after each tool call, done
  (``bench/tools.py``).
* ``long-thread``: a 10,000-message thread: the pages a reply and a mention in it cost, and
  the delay to another thread's answer (``bench/long_thread.py``).
* ``stop``: 20 long answers, each stopped with the agent session's stop button once its
  first words show; click → model request closed, → *Stopped.* visible (``bench/stop.py``).

    .venv/bin/python -m bench.run                       # burst: N = 1, 50, 200, 3 runs
    .venv/bin/python -m bench.run --quick               # CI's smoke test (~20 s)
    .venv/bin/python -m bench.run --profile busy        # 1 copy, then 2 copies + Redis
    .venv/bin/python -m bench.run --profile busy --bots 2 --redis
    .venv/bin/python -m bench.run --profile photos      # memory, issue 18 item 6
    .venv/bin/python -m bench.run --profile tools       # tool calls, issue 19
    .venv/bin/python -m bench.run --profile long-thread # pages, issue 18 item 1
    .venv/bin/python -m bench.run --profile stop        # the stop button, #19

Every run writes its figures as JSON (``--json``; default ``bench-results/<profile>.json``,
``<profile>-quick.json`` for ``--quick``) and, next to it, a PNG of the first words and done
(p50/p90/p99) per profile, the floor bot beside slackgpt (``bench/plot.py``). The words are
docs/performance.md's; a target's MISS that is known says "expected" and why.

Exit status: 0 when every answer arrived complete and correct (whether targets are met or
not); 1 on errors (the bot did not start or died, an answer was lost, late, wrong or given
twice); 2 on bad arguments. Timing targets are reported, never enforced.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/run.py` as well as `python -m bench.run`
    sys.path.insert(0, str(ROOT))

from bench import expected, plot, report  # noqa: E402
from bench.analysis import summarize  # noqa: E402
from bench.bot_process import Launch, kill_leftovers  # noqa: E402
from bench.burst import run_burst  # noqa: E402
from bench.busy import busy_targets, run_busy  # noqa: E402
from bench.long_thread import long_thread  # noqa: E402
from bench.photos import photos  # noqa: E402
from bench.profiles import Busy, Tools, World  # noqa: E402
from bench.scenario import Options  # noqa: E402
from bench.stop import stop  # noqa: E402
from bench.store import redis_store  # noqa: E402
from bench.tools import run_tools, tools_lines, tools_targets  # noqa: E402


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    add = p.add_argument
    add("--profile", choices=("burst", "busy", "photos", "long-thread", "stop", "tools"),
        default="burst",
        help="what traffic (burst)")
    add("--quick", action="store_true", help="CI smoke test: burst N=1,10 (floor: 10), 20 "
        "tokens, 1 run")
    add("--n", help="burst: simultaneous mentions per scenario (default 1,50,200)")
    add("--no-floor", action="store_true", help="burst: skip the floor bot")
    add("--bots", type=int, help="copies of the bot (burst: 1; busy: 1, then 2)")
    add("--redis", action="store_true", help="copies share a Redis-protocol server (REDIS_URL)")
    add("--redis-backend", choices=("auto", "redis-server", "fakeredis"), default="auto")
    add("--rtt-ms", type=float, default=50.0, help="Slack round trip (default 50)")
    add("--first-token-ms", type=float, help="model first token (burst 500; busy 1000)")
    add("--token-ms", type=float, help="gap between tokens (burst 50; busy 100)")
    add("--tokens", type=int, help="tokens per answer (burst 60, quick 20; busy 61)")
    add("--seconds", type=float, help="busy: how long questions arrive (90)")
    add("--stream-interval", type=float, default=1.0, help="the bot's STREAM_INTERVAL")
    add("--repeat", type=int, help="burst: runs of every scenario (default 3; quick 1)")
    add("--idle", type=float, help="burst: seconds of idle CPU measurement (3; quick 1)")
    add("--cold", action="store_true", help="no warm-up mention before the traffic")
    add("--rate-limits", action="store_true", help="burst: FakeSlack applies Slack's tiers")
    add("--json", metavar="PATH", help="where to write all results as JSON ('-': stdout); "
        "default bench-results/<profile>[-quick].json")
    add("--no-plot", action="store_true", help="write no PNG next to the JSON")
    add("--log-level", default="WARNING", help="the bot's LOG_LEVEL")
    add("--cprofile", metavar="DIR", help="run the bot under cProfile into DIR")
    add("--pyinstrument", metavar="DIR", help="run the bot under pyinstrument into DIR")
    add("--gc-trace", action="store_true", help="report the bot's garbage-collector pauses")
    add("--connect-rtts", type=float, default=0.0, help="round trips a new connection costs")
    add("--keep", metavar="DIR", help="keep the bots' logs in DIR (default: a temporary one)")
    add("--python", default=sys.executable, help="interpreter for app.py")
    add("--app", default=str(ROOT / "app.py"), help="the bot's script (app.py)")
    return p


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = parser()
    args = p.parse_args(argv)
    try:
        args.ns = [int(x) for x in (args.n or ("1,10" if args.quick else "1,50,200")).split(",")]
    except ValueError:
        p.error("--n takes comma-separated whole numbers, like 1,50,200")
    if not args.ns or min(args.ns) < 1:
        p.error("--n values must be at least 1")
    if any(v is not None and v < 1 for v in (args.tokens, args.repeat, args.bots)):
        p.error("--tokens, --repeat and --bots must be at least 1")
    return args


def world_of(args: argparse.Namespace, base: World) -> World:
    """The profile's world with the command line's changes."""
    changes: dict[str, Any] = {"rtt": args.rtt_ms / 1000, "connect_rtts": args.connect_rtts}
    if args.first_token_ms is not None:
        changes["first_token"] = args.first_token_ms / 1000
    if args.token_ms is not None:
        changes["token_gap"] = args.token_ms / 1000
    if args.tokens or args.quick:
        changes["tokens"] = args.tokens or 20
    return replace(base, **changes)


def options(args: argparse.Namespace, world: World, kind: str = "slackgpt") -> Options:
    launch = Launch(
        kind=kind,
        python=args.python,
        app=args.app,
        cprofile_dir=args.cprofile,
        pyinstrument_dir=args.pyinstrument,
        gc_trace=args.gc_trace and kind == "slackgpt",
    )
    idle = args.idle if args.idle is not None else (0.5 if args.quick else 3.0)
    return Options(
        world=world,
        launch=launch,
        interval=args.stream_interval,
        log_level=args.log_level.upper(),
        copies=args.bots or 1,
        warmup=not args.cold,
        idle=idle,
        rate_limits=args.rate_limits,
    )


def progress(what: str, result: dict, started: float) -> None:
    status = "ok" if not result["errors"] else "ERROR " + "; ".join(result["errors"])
    print(f"{what}: {status} ({time.monotonic() - started:.1f}s)", file=sys.stderr, flush=True)
    for warning in result["warnings"]:
        print(f"  warning: {warning}", file=sys.stderr)
    if result["errors"] and result.get("bot_log_tail"):
        print("  bot log (tail):\n" + result["bot_log_tail"], file=sys.stderr)


async def burst(args: argparse.Namespace, workdir: Path) -> tuple[list[str], dict]:
    """Every N, slackgpt then the floor bot, ``--repeat`` times; medians."""
    world = world_of(args, World())
    kinds = ["slackgpt"] + ([] if args.no_floor else ["floor"])
    repeat = args.repeat or (1 if args.quick else 3)
    runs: list[dict] = []
    async with shared(args.redis, args.redis_backend) as (settings, _):
        for run in range(repeat):
            for kind in kinds:
                opts = replace(options(args, world, kind), settings=settings)
                for i, n in enumerate(args.ns):
                    if kind == "floor" and args.quick and n != max(args.ns):
                        continue  # the smoke test: the floor at the largest N only
                    started = time.monotonic()
                    idle = i == 0 and kind == "slackgpt"
                    result = await run_burst(opts, n, run, workdir, measure_idle=idle)
                    runs.append(result)
                    progress(f"run {run + 1}/{repeat} {kind} N={n}", result, started)
    med = {k: {n: summarize([r for r in runs if (r["kind"], r["n"]) == (k, n)], report.SCALARS)
               for n in args.ns if any((r["kind"], r["n"]) == (k, n) for r in runs)}
           for k in kinds}
    lines, rows = render_burst(args, world, med)
    return lines, {"median": med, "runs": runs, "targets": rows}


def render_burst(args: argparse.Namespace, world: World, med: dict) -> tuple[list[str], list]:
    bot, ns, interval = med["slackgpt"], args.ns, args.stream_interval
    lines = [
        f"burst — RTT {world.rtt * 1000:.0f} ms, model first token {world.first_token * 1000:.0f}"
        f" ms + {world.tokens - 1} x {world.token_gap * 1000:.0f} ms (model time "
        f"{world.model_time:.2f} s), STREAM_INTERVAL {interval:g} s, "
        f"{'warm' if not args.cold else 'cold'} bot, {args.bots or 1} copies, Slack's rate "
        f"limits {'on' if args.rate_limits else 'off'}",
        "",
        *report.burst_table(world, ns, bot, args.bots or 1),
        "",
    ]
    rows, floor_rows = report.burst_targets(world, interval, ns, bot), []
    if med.get("floor"):
        floor = med["floor"]
        both = [n for n in ns if n in floor]
        lines += ["slackgpt beside the floor bot:", "", *report.floor_table(both, bot, floor), ""]
        rows += report.floor_targets(both, bot, floor)
        floor_rows = report.burst_targets(world, interval, both, floor)
    rows = expected.mark(rows, floor_rows)
    return lines + report.targets_table(rows), rows


async def busy(args: argparse.Namespace, workdir: Path) -> tuple[list[str], dict]:
    """1 copy, then 2 copies sharing Redis (or just ``--bots K`` [``--redis``])."""
    profile = Busy(seconds=args.seconds or 90.0)
    profile = replace(profile, world=world_of(args, profile.world))
    setups = [(args.bots, args.redis)] if args.bots else [(1, False), (2, True)]
    results: dict[str, dict] = {}
    for copies, redis in setups:
        name = f"{copies} {'copy' if copies == 1 else 'copies'}" + (" + Redis" if redis else "")
        opts = replace(options(args, profile.world), copies=copies, rate_limits=True)
        started = time.monotonic()
        async with shared(redis, args.redis_backend) as (settings, store):
            result = await run_busy(replace(opts, settings=settings), profile, workdir)
        result["store"] = store
        results[name] = result
        progress(f"busy, {name}", result, started)
    lines, targets = report.busy_table(profile.world, results), {}
    for name, result in results.items():
        targets[name] = expected.mark(busy_targets(profile, result))
        lines += ["", f"targets, {name}:", "", *report.targets_table(targets[name])]
    return lines, {"profile": asdict(profile), "results": results, "targets": targets}


async def tools(args: argparse.Namespace, workdir: Path) -> tuple[list[str], dict]:
    """Issue 19's tool profile (``--n``: how many questions at once, default 20)."""
    profile = Tools(n=args.ns[0] if args.n else 20)
    profile = replace(profile, world=world_of(args, profile.world))
    opts = replace(options(args, profile.world), rate_limits=True)
    started = time.monotonic()
    result = await run_tools(opts, profile, workdir)
    progress("tools", result, started)
    rows = expected.mark(tools_targets(profile, result))
    lines = [*tools_lines(profile, result), "", *report.targets_table(rows)]
    return lines, {"profile": asdict(profile), "result": result, "targets": rows,
                   "runs": [result]}


@contextlib.asynccontextmanager
async def shared(redis: bool, backend: str):
    """The bot's extra settings (``REDIS_URL`` of a fresh server when ``redis``) and the
    server's kind."""
    if not redis:
        yield (), None
        return
    with redis_store(backend) as (url, kind):
        yield (("REDIS_URL", url),), kind


async def main_async(args: argparse.Namespace) -> int:
    info = report.machine_info()
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="slackgpt-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if args.profile == "photos":
            lines, doc = await photos(options(args, World()), workdir)
        elif args.profile == "long-thread":
            lines, doc = await long_thread(options(args, World()), workdir)
        elif args.profile == "stop":
            lines, doc = await stop(options(args, World()), workdir)
        elif args.profile == "busy":
            lines, doc = await busy(args, workdir)
        elif args.profile == "tools":
            lines, doc = await tools(args, workdir)
        else:
            lines, doc = await burst(args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    info["load_end"] = report.load()
    print("\n".join([f"slackgpt benchmark, {args.profile}", report.machine_line(info), "", *lines]))
    save(args, info, doc)
    runs = doc.get("runs") or list(doc.get("results", {}).values())
    errors = sum(len(r["errors"]) for r in runs)
    if errors:
        print(f"{errors} error(s): see above", file=sys.stderr)
    return 1 if errors else 0


def save(args: argparse.Namespace, info: dict, doc: dict) -> None:
    """The JSON (``--json``) and, next to it, the PNG; where they went, on stderr."""
    name = args.profile + ("-quick" if args.quick else "")
    path = Path(args.json or ROOT / "bench-results" / f"{name}.json")
    text = json.dumps({"args": vars(args), "machine": info, **doc}, indent=2, default=str)
    if args.json == "-":
        print(text)
        path = ROOT / "bench-results" / f"{name}.json"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
        print(f"figures: {path}", file=sys.stderr)
    if args.no_plot:
        return
    title = f"slackgpt benchmark, {name}: {report.machine_line(info)}"
    try:
        png = path.with_suffix(".png")
        png.parent.mkdir(parents=True, exist_ok=True)
        plot.write_plot(png, title, plot.panels(args.profile, doc))
    except ImportError as error:
        print(f"plot: not drawn, {error}: install the dev extra "
              "(pip install -c constraints.txt -e '.[dev]')", file=sys.stderr)
        return
    print(f"plot: {png}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        kill_leftovers()


if __name__ == "__main__":
    sys.exit(main())

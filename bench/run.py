"""Load benchmark for slackgpt (issue 5): the real bot under N simultaneous mentions.

The real bot runs as its own process (``python app.py``), pointed at FakeSlack (Web API and
Socket Mode) and FakeOpenAI (streaming Chat Completions), which run in this process on
127.0.0.1. For each N, N mentions arrive at once, each in its own channel (so its own thread);
the bot's answers are timed from what the fakes record, and the bot's CPU time and peak RSS
are read from ``/proc/<pid>``.

    .venv/bin/python -m bench.run                 # N = 1, 50, 200; 3 runs; medians (~2 min)
    .venv/bin/python -m bench.run --quick         # smoke test: N = 1, 10; 20 tokens; 1 run (~13 s)
    .venv/bin/python -m bench.run --n 1,500 --rtt-ms 100 --json results.json

Diagnostics: ``--cold`` (no warm-up mention, so Bolt's first ``auth.test`` falls in the
burst), ``--connect-rtts 2`` (charge each new Web API connection a TCP + TLS handshake, as
real Slack does), ``--bots K`` (K copies of the bot, events spread over their sockets),
``--gc-trace`` (the bot's garbage-collector pauses during the burst), ``--profile DIR``
(cProfile of the bot), ``--rate-limits`` (FakeSlack enforces Slack's rate tiers: 429s
show as "Slack refused calls" warnings), ``--redis`` (the copies share a local Redis through
``REDIS_URL``: fakes/redis_server.py).

Timing model (all times are ``time.monotonic()`` in this process):

* ``event``: the moment the event's envelope is written to the bot's socket (after FakeSlack's
  ``latency`` sleep, which stands for Slack's delivery delay).
* A Web API call takes effect in Slack ``latency`` after it reaches FakeSlack (the fake sleeps
  before it answers), so a call is *visible* at ``arrival + latency``. A bot that called
  Slack the instant the event arrived would show it after exactly one round trip: that is the
  floor.
* ack: event → the ack frame read by FakeSlack.
* first sign: event → the first ``assistant.threads.setStatus`` or ``reactions.add`` visible.
* first text: event → ``chat.startStream`` with text (or ``chat.postMessage``) visible.
* completion: event → the thread's last Web API call visible (``chat.stopStream``).
* makespan: first event → last completion.

Exit status: 0 when every answer arrived complete and correct (whether targets are met or
not); 1 on errors (the bot did not start or died, an event was not acked, an answer was
missing, late or wrong); 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import functools
import hashlib
import importlib.metadata
import itertools
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/run.py` as well as `python -m bench.run`
    sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from fakes.openai import FakeOpenAI, Reply  # noqa: E402
from fakes.redis_server import RedisServer, start_redis  # noqa: E402
from fakes.slack import Call, FakeSlack  # noqa: E402

BACKLOG = 4096  # aiohttp's default listen backlog (128) drops SYNs in a burst of 200
SIGN_METHODS = ("assistant.threads.setStatus", "reactions.add")
UPDATE_METHODS = ("chat.appendStream", "chat.update")
GLOBAL_METHODS = ("auth.test", "apps.connections.open")
CLK_TCK = os.sysconf("SC_CLK_TCK")
_LIVE: set[subprocess.Popen[bytes]] = set()  # bot processes to kill whatever happens


# -- configuration ---------------------------------------------------------------------------


@dataclass
class Config:
    ns: list[int]
    rtt: float  # FakeSlack latency, seconds
    first_token: float
    token_gap: float
    tokens: int
    stream_interval: float
    repeat: int
    idle: float
    warmup: bool
    log_level: str
    python: str
    profile_dir: str | None
    quick: bool
    json_path: str | None = None
    app: str = str(ROOT / "app.py")
    gc_trace: bool = False
    connect_rtts: float = 0.0
    bots: int = 1
    rate_limits: bool = False
    redis: bool = False

    @property
    def model_time(self) -> float:
        """When the model's last token leaves FakeOpenAI, from the request."""
        return self.first_token + self.token_gap * max(0, self.tokens - 1)

    @property
    def floors(self) -> dict[str, float]:
        """What a bot that adds nothing would show (seconds from the event)."""
        return {
            "ack": 0.0,
            "model_request": 0.0,
            "first_sign": self.rtt,
            "first_text": self.first_token + self.rtt,
            "completion": self.model_time + self.rtt,
        }


def parse_args(argv: list[str] | None) -> Config:
    p = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark the real slackgpt bot against FakeSlack and FakeOpenAI.",
    )
    p.add_argument("--n", help="simultaneous mentions per scenario (default 1,50,200)")
    p.add_argument("--rtt-ms", type=float, default=50.0, help="Slack round trip (default 50)")
    p.add_argument("--first-token-ms", type=float, default=500.0, help="model first token")
    p.add_argument("--token-ms", type=float, default=50.0, help="gap between tokens (50)")
    p.add_argument("--tokens", type=int, help="tokens per answer (default 60; quick 20)")
    p.add_argument("--stream-interval", type=float, default=1.0, help="bot STREAM_INTERVAL")
    p.add_argument("--repeat", type=int, help="runs of every scenario (default 3; quick 1)")
    p.add_argument("--idle", type=float, help="seconds of idle CPU measurement (3; quick 1)")
    p.add_argument("--cold", action="store_true", help="no warm-up mention before the burst")
    p.add_argument("--quick", action="store_true", help="CI smoke test: N=1,10, 20 tokens")
    p.add_argument("--json", metavar="PATH", help="also write all results as JSON ('-': stdout)")
    p.add_argument("--log-level", default="WARNING", help="the bot's LOG_LEVEL")
    p.add_argument("--profile", metavar="DIR", help="run the bot under cProfile into DIR")
    p.add_argument("--python", default=sys.executable, help="interpreter for app.py")
    p.add_argument("--app", default=str(ROOT / "app.py"), help="the bot's script (app.py)")
    p.add_argument(
        "--connect-rtts",
        type=float,
        default=0.0,
        help="round trips a new Web API connection costs before its first request "
        "(real Slack: TCP + TLS 1.3 = 2; default 0: loopback HTTP)",
    )
    p.add_argument(
        "--bots", type=int, default=1, help="copies of the bot, each with its own socket (1)"
    )
    p.add_argument(
        "--gc-trace", action="store_true", help="report the bot's garbage-collector pauses"
    )
    p.add_argument(
        "--rate-limits",
        action="store_true",
        help="FakeSlack applies Slack's rate tiers (HTTP 429 + Retry-After over the limit)",
    )
    p.add_argument(
        "--redis", action="store_true", help="a local Redis as the bot's REDIS_URL (shared)"
    )
    args = p.parse_args(argv)
    try:
        ns = [int(x) for x in (args.n or ("1,10" if args.quick else "1,50,200")).split(",")]
    except ValueError:
        p.error("--n takes comma-separated whole numbers, like 1,50,200")
    if not ns or min(ns) < 1:
        p.error("--n values must be at least 1")
    cfg = Config(
        ns=ns,
        rtt=args.rtt_ms / 1000,
        first_token=args.first_token_ms / 1000,
        token_gap=args.token_ms / 1000,
        tokens=args.tokens or (20 if args.quick else 60),
        stream_interval=args.stream_interval,
        repeat=args.repeat or (1 if args.quick else 3),
        idle=args.idle if args.idle is not None else (1.0 if args.quick else 3.0),
        warmup=not args.cold,
        log_level=args.log_level.upper(),
        python=args.python,
        profile_dir=args.profile,
        quick=args.quick,
        json_path=args.json,
        app=args.app,
        gc_trace=args.gc_trace,
        connect_rtts=args.connect_rtts,
        bots=args.bots,
        rate_limits=args.rate_limits,
        redis=args.redis,
    )
    if cfg.tokens < 1 or cfg.repeat < 1 or cfg.bots < 1:
        p.error("--tokens, --repeat and --bots must be at least 1")
    return cfg


# -- the fakes, instrumented -----------------------------------------------------------------


@contextlib.contextmanager
def big_backlog():
    """Let FakeOpenAI's listening socket queue a burst of new connections (FakeSlack takes a
    ``backlog`` argument; FakeOpenAI has none yet)."""
    original = web.TCPSite
    web.TCPSite = functools.partial(original, backlog=BACKLOG)  # type: ignore[misc]
    try:
        yield
    finally:
        web.TCPSite = original  # type: ignore[misc]


def bench_slack(cfg: Config) -> FakeSlack:
    """FakeSlack with Slack's round trip, handshake cost per new connection and listen queue;
    its ``wire_times`` say when each envelope was written to the bot's socket."""
    return FakeSlack(
        latency=cfg.rtt,
        connect_cost=cfg.connect_rtts * cfg.rtt,
        backlog=BACKLOG,
        rate_limits=cfg.rate_limits,
    )


_QUESTION = re.compile(r"q-(C[A-Z0-9]+)")


def answer_chunks(tokens: int) -> list[str]:
    words = ["Socket", " Mode", " keeps", " one", " WebSocket", " open", " to", " Slack"]
    return [words[i % len(words)] if i < len(words) else f" w{i}" for i in range(tokens)]


class BenchOpenAI(FakeOpenAI):
    """FakeOpenAI answering every request with the benchmark's reply; notes arrival times."""

    def __init__(self, cfg: Config) -> None:
        super().__init__(default=self._reply)
        self.cfg = cfg
        self.arrivals: dict[str, float] = {}  # channel named in the question → request time
        self.ends: dict[str, float] = {}  # channel → when its stream's last byte was written

    async def _stream(self, request, body, reply, include_usage):  # type: ignore[no-untyped-def]
        response = await super()._stream(request, body, reply, include_usage)
        if match := _QUESTION.search(json.dumps(body.get("messages"))):
            self.ends.setdefault(match.group(1), time.monotonic())
        return response

    def _reply(self, body: dict[str, Any]) -> Reply:
        text = json.dumps(body.get("messages"))
        if match := _QUESTION.search(text):
            self.arrivals.setdefault(match.group(1), time.monotonic())
        return Reply(
            chunks=answer_chunks(self.cfg.tokens),
            first_token_delay=self.cfg.first_token,
            token_delay=self.cfg.token_gap,
        )


# -- the bot process -------------------------------------------------------------------------


class BotProcess:
    """``python app.py`` with the fakes' settings; CPU and memory read from /proc."""

    def __init__(
        self,
        cfg: Config,
        slack: FakeSlack,
        llm: FakeOpenAI,
        workdir: Path,
        tag: str,
        redis_url: str | None = None,
    ):
        self.cfg, self.workdir, self.tag = cfg, workdir, tag
        self.log_path = workdir / f"bot-{tag}.log"
        # A clean environment: no setting of the caller's (or a stray .env) leaks into the bot.
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        env.update(
            SLACK_BOT_TOKEN=slack.bot_token,
            SLACK_APP_TOKEN=slack.app_token,
            SLACK_API_URL=slack.api_url,
            OPENAI_API_KEY=llm.api_key,
            OPENAI_BASE_URL=llm.base_url,
            OPENAI_MODEL="gpt-test",
            STREAM_INTERVAL=str(cfg.stream_interval),
            LOG_LEVEL=cfg.log_level,
            SHUTDOWN_GRACE="2",
            PYTHONUNBUFFERED="1",
        )
        if redis_url:
            env["REDIS_URL"] = redis_url
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        cmd = [self.cfg.python]
        if self.cfg.profile_dir:
            out = Path(self.cfg.profile_dir).resolve() / f"bot-{self.tag}.prof"
            out.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["-m", "cProfile", "-o", str(out)]
        if self.cfg.gc_trace:  # app.py under a wrapper that reports garbage-collector pauses
            cmd += [str(Path(__file__).with_name("gc_trace.py"))]
        cmd.append(self.cfg.app)
        with open(self.log_path, "wb") as log:
            # The working directory is empty on purpose: no stray .env is read.
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C on the benchmark is ours to pass on
            )
        _LIVE.add(self.proc)
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu(self) -> float:
        """User + system CPU seconds used so far."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def memory(self) -> dict[str, float]:
        """Current (VmRSS) and peak (VmHWM) resident memory, MB."""
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0]) / 1024
        return out

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    async def stop(self) -> None:
        """SIGTERM, a few seconds to finish, then SIGKILL. Always reaps the process."""
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                deadline = time.monotonic() + 6.0
                while proc.poll() is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)
        finally:
            _LIVE.discard(proc)


class BotGroup:
    """``--bots K`` copies of the bot, each with its own Socket Mode connection (Slack spreads
    events over an app's connections); looks like one BotProcess to the benchmark."""

    def __init__(self, bots: list[BotProcess]) -> None:
        self.bots = bots
        self.started_at = 0.0

    def start(self) -> None:
        for bot in self.bots:
            bot.start()
        self.started_at = min(b.started_at for b in self.bots)

    def alive(self) -> bool:
        return all(b.alive() for b in self.bots)

    def exit_status(self) -> str:
        return ", ".join(str(b.proc.returncode) for b in self.bots if b.proc and not b.alive())

    def cpu(self) -> float:
        return sum(b.cpu() for b in self.bots)

    def memory(self) -> dict[str, float]:
        """VmRSS summed; VmHWM of the largest copy and summed."""
        each = [b.memory() for b in self.bots]
        return {
            "VmRSS": sum(m.get("VmRSS", 0) for m in each),
            "VmHWM": max(m.get("VmHWM", 0) for m in each),
            "VmHWM_sum": sum(m.get("VmHWM", 0) for m in each),
        }

    @property
    def log_paths(self) -> list[Path]:
        return [b.log_path for b in self.bots]

    def log_tail(self, lines: int = 25) -> str:
        return "\n".join(f"[{b.tag}]\n{b.log_tail(lines)}" for b in self.bots)

    async def stop(self) -> None:
        await asyncio.gather(*(b.stop() for b in self.bots))


def _kill_leftovers() -> None:
    for proc in list(_LIVE):
        with contextlib.suppress(Exception):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)


atexit.register(_kill_leftovers)


# -- measurement helpers ---------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) with linear interpolation; None for no values."""
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo = math.floor(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class LagMonitor:
    """How late this process's event loop wakes up: a saturated harness skews every time."""

    def __init__(self, period: float = 0.01) -> None:
        self.period, self.lags = period, []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(self.period)
            self.lags.append(time.monotonic() - t - self.period)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class BenchError(Exception):
    """Something that makes the run's figures meaningless: reported, exit status 1."""


async def wait_until(pred, timeout: float, what: str, bot: BotGroup | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if bot is not None and not bot.alive():
            raise BenchError(f"the bot exited (status {bot.exit_status()}) while {what}")
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s: {what}")
        await asyncio.sleep(0.02)


def channel_of(call: Call) -> str | None:
    return call.params.get("channel") or call.params.get("channel_id")


def answered(slack: FakeSlack, pending: set[str]) -> set[str]:
    """Channels whose answer stream was stopped (or, without streaming, fully posted)."""
    done = set()
    for call in slack.calls:
        if call.method == "chat.stopStream" and call.response.get("ok"):
            ch = channel_of(call)
            if ch in pending:
                done.add(ch)
    return done


def bot_text(slack: FakeSlack, channel: str) -> tuple[str, bool]:
    """The bot's visible text in a channel (all its messages, oldest first), and whether any
    message is still streaming."""
    mine = [m for m in slack.channel_messages(channel) if m["bot_id"]]
    return "".join(m["text"] for m in mine), any(m["streaming"] for m in mine)


async def wait_answers(
    slack: FakeSlack, channels: list[str], expected: str, timeout: float, bot: BotGroup
) -> set[str]:
    """Wait (bounded) for every channel's answer; returns the channels still missing."""
    pending = set(channels)
    deadline = time.monotonic() + timeout
    last_full_check = time.monotonic()
    while pending:
        pending -= answered(slack, pending)
        if pending and time.monotonic() - last_full_check > 1.0:  # the post-and-update path
            last_full_check = time.monotonic()
            for ch in list(pending):
                text, streaming = bot_text(slack, ch)
                if text == expected and not streaming:
                    pending.discard(ch)
        if not pending or time.monotonic() > deadline or not bot.alive():
            break
        await asyncio.sleep(0.05)
    return pending


async def idle_cpu(bot: BotGroup, seconds: float) -> float | None:
    """The bot's CPU use with no traffic, as a fraction of one core."""
    if seconds <= 0:
        return None
    c0, t0 = bot.cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    return (bot.cpu() - c0) / (time.monotonic() - t0)


def gc_pauses(log: Path, start: float, end: float) -> list[tuple[float, float, int]]:
    """The bot's collector pauses (start, ms, generation) within [start, end] (--gc-trace)."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("bench-gc "):
            _, at, ms, gen = line.split()
            if start <= float(at) <= end:
                out.append((float(at), float(ms), int(gen)))
    return out


def peak_per_second(times: list[float]) -> int:
    """The most calls within any one-second window."""
    s, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(s):
        while t - s[lo] > 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# -- one scenario ----------------------------------------------------------------------------


async def run_scenario(cfg: Config, n: int, run: int, workdir: Path, idle_before: bool) -> dict:
    """Start fakes and a fresh bot, send N mentions at once, measure, tear everything down."""
    result: dict[str, Any] = {"n": n, "run": run, "errors": [], "warnings": []}
    slack = bench_slack(cfg)
    llm = BenchOpenAI(cfg)
    bot: BotGroup | None = None
    redis: RedisServer | None = None
    lag = LagMonitor()
    expected = "".join(answer_chunks(cfg.tokens))
    try:
        await slack.start()
        with big_backlog():
            await llm.start()
        if cfg.redis:
            redis = await asyncio.to_thread(start_redis)
        url = redis.url if redis else None
        bot = BotGroup(
            [BotProcess(cfg, slack, llm, workdir, f"n{n}-r{run}-b{i}", url)
             for i in range(cfg.bots)]
        )
        bot.start()
        await wait_until(
            lambda: slack.sockets_open >= cfg.bots, 30.0, "waiting for the bot to connect", bot
        )
        result["startup_s"] = time.monotonic() - bot.started_at
        result["rss_start_mb"] = bot.memory().get("VmRSS")

        if cfg.warmup:  # a long-running bot has answered before: Bolt's auth.test is cached
            warm = [f"CWARM{i}" for i in range(cfg.bots)]  # one each (events go round-robin)
            for ch in warm:
                await slack.mention(ch, f"<@{slack.bot_user_id}> warm up q-{ch}")
            missing = await wait_answers(slack, warm, expected, cfg.model_time + 20, bot)
            if missing:
                raise BenchError("the warm-up mention was not answered")
            await asyncio.sleep(0.3)
        if idle_before:
            result["idle_cpu_before"] = await idle_cpu(bot, cfg.idle)

        channels = [f"C{i:05d}" for i in range(n)]
        calls_before = len(slack.calls)
        connections_before = slack.api_connections
        envelopes_before = len(slack.envelopes)
        lag.start()
        cpu0 = bot.cpu()
        t_post = time.monotonic()
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    slack.mention(ch, f"<@{slack.bot_user_id}> question q-{ch}?", user=f"U{ch}")
                    for ch in channels
                )
            ),
            timeout=30,
        )
        timeout = cfg.model_time + 30 + 0.1 * n
        missing = await wait_answers(slack, channels, expected, timeout, bot)
        t_done = time.monotonic()
        if not bot.alive():
            raise BenchError(f"the bot died during the burst:\n{bot.log_tail()}")
        cpu1 = bot.cpu()
        await lag.stop()
        mem = bot.memory()
        await asyncio.sleep(cfg.rtt * 2 + 0.1)  # let late calls land before counting them
        result["idle_cpu_after"] = await idle_cpu(bot, cfg.idle)
        result["bot_cpu_s"] = cpu1 - cpu0
        result["bot_cpu_total_s"] = bot.cpu()
        result["cpu_ms_per_answer"] = 1000 * (cpu1 - cpu0) / n
        result["rss_peak_mb"] = mem.get("VmHWM")
        result["rss_peak_sum_mb"] = mem.get("VmHWM_sum")
        result["rss_end_mb"] = mem.get("VmRSS")
        result["wall_s"] = t_done - t_post
        result["web_api_connections_per_answer"] = (slack.api_connections - connections_before) / n
        result["harness_lag_p99_ms"] = 1000 * (pct(lag.lags, 0.99) or 0)
        result["harness_lag_max_ms"] = 1000 * max(lag.lags, default=0)
        if cfg.gc_trace:
            pauses = [p for path in bot.log_paths for p in gc_pauses(path, t_post, t_done)]
            result["gc_pauses"] = len(pauses)
            result["gc_gen2_pauses"] = sum(1 for _, _, gen in pauses if gen == 2)
            result["gc_max_ms"] = max((ms for _, ms, _ in pauses), default=0.0)
            result["gc_total_ms"] = sum(ms for _, ms, _ in pauses)
        if missing:
            result["errors"].append(
                f"{len(missing)} of {n} answers not finished within {timeout:.0f}s "
                f"(e.g. {sorted(missing)[:3]})"
            )
        analyze(cfg, slack, llm, channels, calls_before, envelopes_before, expected, result)
    except BenchError as error:
        result["errors"].append(str(error))
    finally:
        await lag.stop()
        if bot is not None:
            await bot.stop()
            if result["errors"]:
                result["bot_log_tail"] = bot.log_tail()
        await llm.stop()
        await slack.stop()
        if redis is not None:
            await asyncio.to_thread(redis.stop)
    return result


def analyze(
    cfg: Config,
    slack: FakeSlack,
    llm: BenchOpenAI,
    channels: list[str],
    calls_before: int,
    envelopes_before: int,
    expected: str,
    out: dict[str, Any],
) -> None:
    """Per-thread timings, Slack calls per answer, and correctness, from what the fakes saw."""
    lat = cfg.rtt
    n = len(channels)
    wanted = set(channels)
    calls = slack.calls[calls_before:]
    by_channel: dict[str, list[Call]] = defaultdict(list)
    global_calls: Counter[str] = Counter()
    for call in calls:
        ch = channel_of(call)
        if ch in wanted:
            by_channel[ch].append(call)
        elif call.method in GLOBAL_METHODS or ch is None:
            global_calls[call.method] += 1
    envelope_of: dict[str, str] = {}
    for env in slack.envelopes[envelopes_before:]:
        ch = env["payload"]["event"].get("channel")
        if ch in wanted and env.get("retry_attempt", 0) == 0:
            envelope_of.setdefault(ch, env["envelope_id"])
    redeliveries = sum(1 for e in slack.envelopes[envelopes_before:] if e.get("retry_attempt"))

    series: dict[str, list[float]] = defaultdict(list)
    first_sign_via: Counter[str] = Counter()
    per_answer: Counter[str] = Counter()
    update_gaps: list[float] = []
    not_ok: Counter[str] = Counter()
    wrong, unacked = [], []
    starts, completions = [], []
    for ch in channels:
        eid = envelope_of.get(ch)
        if eid is None or eid not in slack.wire_times:
            out["errors"].append(f"no event was delivered for {ch}")
            continue
        event = slack.wire_times[eid]
        starts.append(event)
        if eid in slack.acks:
            series["ack"].append(slack.acks[eid] - event)
        else:
            unacked.append(ch)
        if ch in llm.arrivals:
            series["model_request"].append(llm.arrivals[ch] - event)
        mine = sorted(by_channel.get(ch, []), key=lambda c: c.at)
        for call in mine:
            per_answer[call.method] += 1
            if not call.response.get("ok"):
                not_ok[f"{call.method}:{call.response.get('error', 'no answer')}"] += 1
        ok = [c for c in mine if c.response.get("ok")]
        signs = [c for c in ok if c.method in SIGN_METHODS]
        if signs:
            series["first_sign"].append(signs[0].at + lat - event)
            first_sign_via[signs[0].method] += 1
        texts = [
            c
            for c in ok
            if (c.method == "chat.startStream" and c.params.get("markdown_text"))
            or c.method == "chat.postMessage"
        ]
        if texts:
            series["first_text"].append(texts[0].at + lat - event)
        if mine:
            series["completion"].append(mine[-1].at + lat - event)
            completions.append(mine[-1].at + lat)
            if ch in llm.ends:  # what the bot adds after the model's last byte (floor: RTT)
                series["tail"].append(mine[-1].at + lat - llm.ends[ch])
        if ch in llm.ends and ch in llm.arrivals:
            series["model_span"].append(llm.ends[ch] - llm.arrivals[ch])
        # pacing: the gaps between successive updates of one message
        by_message: dict[str, list[float]] = defaultdict(list)
        for c in ok:
            if c.method in ("chat.startStream", "chat.postMessage"):
                by_message[str(c.response.get("ts"))].append(c.at)
            elif c.method in UPDATE_METHODS:
                by_message[str(c.params.get("ts"))].append(c.at)
        for times in by_message.values():
            update_gaps += [b - a for a, b in itertools.pairwise(times)]
        text, streaming = bot_text(slack, ch)
        if text != expected or streaming:
            wrong.append(ch)

    if unacked:
        out["errors"].append(f"{len(unacked)} events never acked (e.g. {unacked[:3]})")
    if wrong:
        out["errors"].append(f"{len(wrong)} answers incomplete or wrong (e.g. {wrong[:3]})")
    for name, values in series.items():
        out[f"{name}_p50_ms"] = 1000 * pct(values, 0.5)
        out[f"{name}_p99_ms"] = 1000 * pct(values, 0.99)
        out[f"{name}_max_ms"] = 1000 * max(values)
    if starts and completions:
        out["makespan_s"] = max(completions) - min(starts)
    out["calls_per_answer"] = {m: c / n for m, c in sorted(per_answer.items())}
    out["calls_per_answer_total"] = sum(per_answer.values()) / n
    out["global_calls"] = dict(global_calls)
    out["first_sign_via"] = dict(first_sign_via)
    out["update_gap_min_s"] = min(update_gaps) if update_gaps else None
    out["update_gap_p50_s"] = pct(update_gaps, 0.5)
    out["redeliveries"] = redeliveries
    peaks = defaultdict(list)
    for call in calls:
        peaks[call.method].append(call.at)
    out["peak_calls_per_s"] = {m: peak_per_second(t) for m, t in sorted(peaks.items())}
    if not_ok:
        out["warnings"].append(f"Slack refused calls: {dict(not_ok)}")


# -- summary ---------------------------------------------------------------------------------


SCALARS = [
    "ack_p50_ms",
    "ack_p99_ms",
    "model_request_p50_ms",
    "model_request_p99_ms",
    "first_sign_p50_ms",
    "first_sign_p99_ms",
    "first_text_p50_ms",
    "first_text_p99_ms",
    "completion_p50_ms",
    "completion_p99_ms",
    "completion_max_ms",
    "tail_p50_ms",
    "tail_p99_ms",
    "model_span_p50_ms",
    "makespan_s",
    "calls_per_answer_total",
    "web_api_connections_per_answer",
    "update_gap_min_s",
    "update_gap_p50_s",
    "bot_cpu_s",
    "cpu_ms_per_answer",
    "rss_peak_mb",
    "rss_peak_sum_mb",
    "rss_start_mb",
    "rss_end_mb",
    "idle_cpu_before",
    "idle_cpu_after",
    "startup_s",
    "harness_lag_p99_ms",
    "harness_lag_max_ms",
    "gc_pauses",
    "gc_gen2_pauses",
    "gc_max_ms",
    "gc_total_ms",
]


def _median(values: list[Any]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs: list[dict], ns: list[int]) -> dict[int, dict[str, Any]]:
    """Median over the repeated runs of every figure, per N."""
    out: dict[int, dict[str, Any]] = {}
    for n in ns:
        mine = [r for r in runs if r["n"] == n]
        med: dict[str, Any] = {"runs": len(mine)}
        for key in SCALARS:
            med[key] = _median([r.get(key) for r in mine])
        for key in ("calls_per_answer", "global_calls", "peak_calls_per_s"):
            names = sorted({m for r in mine for m in r.get(key, {})})
            med[key] = {m: _median([r.get(key, {}).get(m, 0) for r in mine]) for m in names}
        med["errors"] = sum(len(r["errors"]) for r in mine)
        out[n] = med
    return out


def evaluate(cfg: Config, med: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 5's targets: PASS/MISS per target (never a failure of the benchmark)."""
    floors = cfg.floors
    rows: list[dict[str, Any]] = []
    big, small = max(cfg.ns), min(cfg.ns)

    def add(name: str, n: int | None, value: float | None, limit: float, unit: str) -> None:
        ok = value is not None and value <= limit
        rows.append(
            {
                "target": name,
                "n": n,
                "value": value,
                "limit": limit,
                "unit": unit,
                "result": "PASS" if ok else "MISS",
            }
        )

    add("ack p99 < 100 ms", big, med[big]["ack_p99_ms"], 100.0, "ms")
    for n in cfg.ns:
        add(
            "first sign p50 ≤ RTT + 20 ms",
            n,
            med[n]["first_sign_p50_ms"],
            1000 * floors["first_sign"] + 20,
            "ms",
        )
    for n in cfg.ns:
        add(
            "first text p50 ≤ first token + RTT + 50 ms",
            n,
            med[n]["first_text_p50_ms"],
            1000 * floors["first_text"] + 50,
            "ms",
        )
    if big != small and med[small]["makespan_s"]:
        ratio = (med[big]["makespan_s"] or math.inf) / med[small]["makespan_s"]
        add(f"makespan N={big} ≤ 1.3 x N={small}", big, ratio, 1.3, "x")
    # Slack: no per-token calls; each message updated at most once per STREAM_INTERVAL.
    allowed = cfg.model_time / max(cfg.stream_interval, 1e-3) + 2
    for n in cfg.ns:
        cpa = med[n]["calls_per_answer"]
        updates = sum(cpa.get(m, 0) for m in UPDATE_METHODS)
        add(
            f"stream updates per answer ≤ model time / interval + 2 ({allowed:.1f})",
            n,
            updates,
            allowed,
            "calls",
        )
        gap = med[n]["update_gap_min_s"]
        rows.append(
            {
                "target": "no update of a message sooner than 0.9 x STREAM_INTERVAL",
                "n": n,
                "value": gap,
                "limit": 0.9 * cfg.stream_interval,
                "unit": "s",
                "result": "PASS" if gap is None or gap >= 0.9 * cfg.stream_interval else "MISS",
            }
        )
    add("peak RSS < 120 MB", big, med[big]["rss_peak_mb"], 120.0, "MB")
    idle = _median([med[n]["idle_cpu_before"] for n in cfg.ns])
    add(
        "idle CPU < 1% of a core (before traffic)",
        None,
        None if idle is None else 100 * idle,
        1.0,
        "%",
    )
    idle_after = max((med[n]["idle_cpu_after"] or 0.0) for n in cfg.ns)
    add("idle CPU < 1% of a core (after the burst)", None, 100 * idle_after, 1.0, "%")
    return rows


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render(cfg: Config, med: dict[int, dict[str, Any]], targets: list[dict], info: dict) -> str:
    ns, fl = cfg.ns, cfg.floors
    head = "| figure | floor | " + " | ".join(f"N={n}" for n in ns) + " |"
    sep = "|---|---:|" + "---:|" * len(ns)
    lines = [
        f"slackgpt benchmark — RTT {cfg.rtt * 1000:.0f} ms, model first token "
        f"{cfg.first_token * 1000:.0f} ms + {cfg.tokens - 1} x {cfg.token_gap * 1000:.0f} ms "
        f"(model time {cfg.model_time:.2f} s), STREAM_INTERVAL {cfg.stream_interval:g} s, "
        f"{'cold' if not cfg.warmup else 'warm'} bot, median of {cfg.repeat} run(s)"
        + (f", new connection +{cfg.connect_rtts:g} RTT" if cfg.connect_rtts else "")
        + (f", {cfg.bots} copies of the bot" if cfg.bots > 1 else "")
        + (", Slack's rate limits on" if cfg.rate_limits else "")
        + (", shared Redis" if cfg.redis else ""),
        f"machine: {info['nproc']} x {info['cpu']}, load {info['load_start']} → "
        f"{info['load_end']}; Python {info['python']}; {info['versions']}",
        "",
        head,
        sep,
    ]

    def row(label: str, key: str, floor: float | None = None, digits: int = 0, scale=1.0):
        cells = []
        for n in ns:
            v = med[n].get(key)
            cells.append(_fmt(None if v is None else v * scale, digits))
        lines.append(f"| {label} | {_fmt(floor, digits)} | " + " | ".join(cells) + " |")

    ms = 1000
    row("ack p50 (ms)", "ack_p50_ms", 0.0)
    row("ack p99 (ms)", "ack_p99_ms", 0.0)
    row("event → model request p50 (ms)", "model_request_p50_ms", 0.0)
    row("event → model request p99 (ms)", "model_request_p99_ms", 0.0)
    row("first sign p50 (ms)", "first_sign_p50_ms", fl["first_sign"] * ms)
    row("first sign p99 (ms)", "first_sign_p99_ms", fl["first_sign"] * ms)
    row("first text p50 (ms)", "first_text_p50_ms", fl["first_text"] * ms)
    row("first text p99 (ms)", "first_text_p99_ms", fl["first_text"] * ms)
    row("completion p50 (ms)", "completion_p50_ms", fl["completion"] * ms)
    row("completion p99 (ms)", "completion_p99_ms", fl["completion"] * ms)
    row("completion max (ms)", "completion_max_ms", fl["completion"] * ms)
    row("model's last byte → answer complete p50 (ms)", "tail_p50_ms", cfg.rtt * ms)
    row("model's last byte → answer complete p99 (ms)", "tail_p99_ms", cfg.rtt * ms)
    row("model stream, measured p50 (ms)", "model_span_p50_ms", cfg.model_time * ms)
    row("makespan (s)", "makespan_s", fl["completion"], 2)
    row("Slack calls per answer", "calls_per_answer_total", None, 1)
    methods = sorted({m for n in ns for m in med[n]["calls_per_answer"]})
    for m in methods:
        cells = [_fmt(med[n]["calls_per_answer"].get(m), 2) for n in ns]
        lines.append(f"| · {m} | - | " + " | ".join(cells) + " |")
    globals_ = sorted({m for n in ns for m in med[n]["global_calls"]})
    for m in globals_:
        cells = [_fmt(med[n]["global_calls"].get(m), 0) for n in ns]
        lines.append(f"| {m} calls during the burst (total) | 0 | " + " | ".join(cells) + " |")
    row("new Web API connections per answer", "web_api_connections_per_answer", None, 1)
    peaks = sorted({m for n in ns for m in med[n]["peak_calls_per_s"]})
    for m in peaks:
        cells = [_fmt(med[n]["peak_calls_per_s"].get(m), 0) for n in ns]
        lines.append(f"| peak {m} calls in 1 s (all answers) | - | " + " | ".join(cells) + " |")
    row("min gap between updates of a message (s)", "update_gap_min_s", cfg.stream_interval, 2)
    row("bot CPU during the burst (s)", "bot_cpu_s", None, 2)
    row("bot CPU per answer (ms)", "cpu_ms_per_answer", None, 1)
    row("bot peak RSS, VmHWM (MB)", "rss_peak_mb", None, 1)
    if cfg.bots > 1:
        row(f"bot peak RSS, all {cfg.bots} copies (MB)", "rss_peak_sum_mb", None, 1)
    row("bot RSS after start (MB, all copies)", "rss_start_mb", None, 1)
    row("idle CPU before traffic (% core)", "idle_cpu_before", 0.0, 2, 100)
    row("idle CPU after the burst (% core)", "idle_cpu_after", 0.0, 2, 100)
    row("bot start → socket open (s)", "startup_s", None, 2)
    row("harness loop lag p99 (ms)", "harness_lag_p99_ms", None, 1)
    if cfg.gc_trace:
        row("bot GC pauses (gen 1+2) in the burst", "gc_pauses", None, 0)
        row("bot GC gen-2 pauses in the burst", "gc_gen2_pauses", None, 0)
        row("bot longest GC pause (ms)", "gc_max_ms", None, 1)
        row("bot GC pause total (ms)", "gc_total_ms", None, 1)
    row("errors", "errors", 0.0)
    lines += ["", "| target | N | value | limit | result |", "|---|---:|---:|---:|---|"]
    for t in targets:
        digits = 2 if t["unit"] in ("x", "%", "s") else 1 if t["unit"] == "calls" else 0
        lines.append(
            f"| {t['target']} | {_fmt(t['n'])} | {_fmt(t['value'], digits)} {t['unit']} | "
            f"{_fmt(t['limit'], digits)} {t['unit']} | {t['result']} |"
        )
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for dist in ("slack_bolt", "slack_sdk", "openai", "aiohttp"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
    digest = hashlib.sha256()
    for path in sorted((ROOT / "slackgpt").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "versions": ", ".join(versions),
        "git_head": head,
        "slackgpt_sha256": digest.hexdigest()[:12],
        "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


async def main_async(cfg: Config) -> int:
    info = machine_info()
    runs: list[dict] = []
    workdir = Path(tempfile.mkdtemp(prefix="slackgpt-bench-"))
    try:
        for run in range(cfg.repeat):
            for i, n in enumerate(cfg.ns):
                started = time.monotonic()
                result = await run_scenario(cfg, n, run, workdir, idle_before=(i == 0))
                runs.append(result)
                status = "ok" if not result["errors"] else "ERROR " + "; ".join(result["errors"])
                print(
                    f"run {run + 1}/{cfg.repeat} N={n}: {status} "
                    f"({time.monotonic() - started:.1f}s)",
                    file=sys.stderr,
                    flush=True,
                )
                for warning in result["warnings"]:
                    print(f"  warning: {warning}", file=sys.stderr)
                if result["errors"] and result.get("bot_log_tail"):
                    print("  bot log (tail):\n" + result["bot_log_tail"], file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    info["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    med = summarize(runs, cfg.ns)
    targets = evaluate(cfg, med)
    print(render(cfg, med, targets, info))
    path = cfg.json_path
    if path:
        doc = {
            "config": asdict(cfg) | {"floors": cfg.floors, "model_time": cfg.model_time},
            "machine": info,
            "median": {str(n): m for n, m in med.items()},
            "targets": targets,
            "runs": runs,
        }
        text = json.dumps(doc, indent=2, default=str)
        if path == "-":
            print(text)
        else:
            Path(path).write_text(text + "\n")
    errors = sum(len(r["errors"]) for r in runs)
    if errors:
        print(f"{errors} error(s): see above", file=sys.stderr)
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        return asyncio.run(main_async(cfg))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        _kill_leftovers()


if __name__ == "__main__":
    sys.exit(main())

"""Figures for issue #9: the hostile PDF read the old way (a thread) and in a worker process.

    .venv/bin/python -m bench.parsing            # all figures (~1 min)
    .venv/bin/python -m bench.parsing --quick    # fewer pages and a shorter window (~20 s)

* in-process: ``files.pdf_text`` on ``hostile_pdf()`` page by page, in a fresh interpreter:
  CPU seconds and peak RSS growth per page.
* threads: six hostile PDFs through ``asyncio.to_thread`` (what ``files.py`` does today), for
  a few seconds: the loop's worst lag, the default executor's worst wait, the peak RSS.
* workers: the same through ``slackgpt.files.pdf_workers.Parser``: one file, then six at once.
* start-up: a one-page PDF through a worker (median of 10), and an idle child's RSS.

Memory is read from /proc (Linux only): VmRSS and VmHWM of this process and its children.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import time

from fakes.documents import hostile_pdf, text_pdf
from slackgpt.files.pdf_workers import Parser


def status(pid: int | str = "self") -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon and RssFile of a process, in MB (empty once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as lines:
            return {
                line.split(":")[0]: int(line.split()[1]) / 1024
                for line in lines
                if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:"))
            }
    except OSError:
        return {}


def children() -> list[int]:
    """The live parsing workers of this process."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if ppid == os.getpid() and b"slackgpt.files.pdf_child" in cmdline.read():
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def in_process(pages: int) -> dict:
    """The old way, synchronously: CPU seconds and peak RSS growth of each page."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(hostile_pdf()))
    start = status()["VmRSS"]
    rows = []
    for page in reader.pages[:pages]:
        cpu = time.process_time()
        text = page.extract_text()
        rows.append(
            {
                "cpu_s": round(time.process_time() - cpu, 2),
                "peak_growth_mb": round(status()["VmHWM"] - start, 1),
                "text_chars": len(text),
            }
        )
    return {"file_bytes": len(hostile_pdf()), "pages": rows}


class Probe:
    """Samples the loop's lag, the default executor's wait and memory while work runs."""

    def __init__(self) -> None:
        self.lag = self.executor_wait = 0.0
        self.executor_calls = 0
        self.executor_since: float | None = None  # a call in flight since then
        self.peak_parent = self.peak_tree = self.peak_child = 0.0
        self.most_children = 0
        self.start_parent = status()["VmRSS"]

    async def tick(self) -> None:
        """Sleep 20 ms at a time, noting how late the loop wakes up, and sample memory."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.02)
            self.lag = max(self.lag, time.monotonic() - before - 0.02)
            self.sample()

    async def use_executor(self) -> None:
        """Run a no-op in the default thread pool every 50 ms (as aiohttp's DNS does)."""
        loop = asyncio.get_running_loop()
        while True:
            self.executor_since = time.monotonic()
            await loop.run_in_executor(None, time.sleep, 0)
            self.executor_wait = max(self.executor_wait, time.monotonic() - self.executor_since)
            self.executor_since = None
            self.executor_calls += 1
            await asyncio.sleep(0.05)

    def sample(self) -> None:
        pids = children()
        kids = [status(pid).get("VmRSS", 0.0) for pid in pids]
        parent = status()["VmRSS"]
        self.most_children = max(self.most_children, len(pids))
        self.peak_parent = max(self.peak_parent, parent)
        self.peak_child = max(self.peak_child, *kids, 0.0)
        self.peak_tree = max(self.peak_tree, parent + sum(kids))

    def figures(self) -> dict:
        waiting = time.monotonic() - self.executor_since if self.executor_since else 0.0
        return {
            "loop_lag_max_s": round(self.lag, 3),
            "executor_wait_max_s": round(max(self.executor_wait, waiting), 3),
            "executor_call_pending": self.executor_since is not None,
            "executor_calls": self.executor_calls,
            "parent_rss_start_mb": round(self.start_parent, 1),
            "parent_rss_peak_mb": round(self.peak_parent, 1),
            "child_rss_peak_mb": round(self.peak_child, 1),
            "tree_rss_peak_mb": round(self.peak_tree, 1),
            "most_children": self.most_children,
        }


async def probed(work, window: float | None = None) -> dict:
    """Run ``work`` (a coroutine) under a ``Probe``, for ``window`` seconds at most."""
    probe = Probe()
    probers = [asyncio.create_task(probe.tick()), asyncio.create_task(probe.use_executor())]
    started = time.monotonic()
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait([task], timeout=window)
    elapsed = time.monotonic() - started
    probe.sample()
    figures = {"elapsed_s": round(elapsed, 2), "finished": bool(done), **probe.figures()}
    for prober in probers:
        prober.cancel()
    if done:
        figures["outcomes"] = [getattr(r, "outcome", r) for r in task.result()]
    return figures


async def threads(window: float) -> dict:
    """The old way: six hostile PDFs in the default thread pool, watched for ``window`` s."""
    from slackgpt.files.attachments import pdf_text

    data = hostile_pdf()
    work = asyncio.gather(*(asyncio.to_thread(pdf_text, data, 50_000) for _ in range(6)))
    return await probed(work, window)


async def workers() -> dict:
    """The new way: one hostile PDF, six at once, and the start-up cost of a worker."""
    async with Parser() as parser:
        one = await probed(asyncio.gather(parser.pdf_text(hostile_pdf(), 50_000)))
        six = await probed(
            asyncio.gather(*(parser.pdf_text(hostile_pdf(), 50_000) for _ in range(6)))
        )
        small, times = text_pdf(1, ["Hello"]), []
        for _ in range(10):
            started = time.monotonic()
            await parser.pdf_text(small, 1_000)
            times.append(time.monotonic() - started)
    return {"one": one, "six": six, "one_page_pdf_median_s": round(statistics.median(times), 3)}


def idle_child() -> dict:
    """RSS of a worker that has imported everything and waits for its file."""
    from slackgpt.files.pdf_workers import Limits, child_environment

    command = [sys.executable, "-m", "slackgpt.files.pdf_child", Limits().job(1_000, os.getpid())]
    child = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_environment(os.environ)
    )
    time.sleep(1.0)  # it confines itself and blocks reading stdin
    figures = {k: round(v, 1) for k, v in status(child.pid).items()}
    child.communicate(text_pdf(1, ["Hello"]))
    return figures


def in_subprocess(scenario: str, argument: float) -> dict:
    """Run a scenario in a fresh interpreter, so its memory figures are its own."""
    command = [sys.executable, "-m", "bench.parsing", "--scenario", scenario, str(argument)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 pages in-process, 5 s window")
    parser.add_argument("--scenario", nargs=2, metavar=("NAME", "ARG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scenario:
        name, argument = args.scenario[0], float(args.scenario[1])
        if name == "in_process":
            result = in_process(int(argument))
        else:  # not asyncio.run: closing the loop would wait for the threads still parsing
            result = asyncio.new_event_loop().run_until_complete(threads(argument))
        print(json.dumps(result, default=str), flush=True)
        os._exit(0)  # threads cannot be stopped: leave without waiting for them
    pages, window = (2, 5.0) if args.quick else (5, 15.0)
    figures = {
        "in_process": in_subprocess("in_process", pages),
        "threads": in_subprocess("threads", window),
        "workers": asyncio.run(workers()),
        "idle_child": idle_child(),
    }
    print(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""slackgpt.files.pdf_workers: PDFs read in bounded worker processes (real children, real PDFs).

What is watched from the outside comes from /proc: which children run (their command line
names ``slackgpt.files.pdf_child``) and their resident memory. ``getrusage(RUSAGE_CHILDREN)``
is no use here: Linux keeps a child's peak RSS across exec, so it reports the forking parent's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from fakes.documents import ENGLISH, damaged_pdf, encrypted_pdf, hostile_pdf, text_pdf
from slackgpt.files.pdf_child import extract_pdf
from slackgpt.files.pdf_workers import (
    Limits,
    Outcome,
    Parsed,
    Parser,
    Transcript,
    child_environment,
)
from tests.helpers import until

pytest.importorskip("pypdf")
pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/status"), reason="watches processes through /proc"
)

MB = 1 << 20
SLOW = dict(pages=1_000, repeats=5_000)
"""A hostile PDF that is CPU-bound but small in memory: 0.1 s and 5 MB a page, 1,000 pages."""


# --- Watching processes through /proc ---------------------------------------------------


def rss_mb(pid: int | str = "self") -> float:
    """A process's resident memory now, in MB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def workers() -> list[int]:
    """The live parsing children of this process (a zombie's command line is empty)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == me and b"slackgpt.files.pdf_child" in command:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@dataclass
class Watch:
    """Peaks seen by sampling /proc every 10 ms (how late the loop wakes meanwhile is a figure
    of bench.parsing, not a check here)."""

    parent_start: float = field(default_factory=rss_mb)
    parent_peak: float = 0.0
    child_peak: float = 0.0
    tree_peak: float = 0.0
    most_workers: int = 0

    def sample(self) -> None:
        pids = workers()
        children = [rss_mb(pid) for pid in pids]
        parent = rss_mb()
        self.most_workers = max(self.most_workers, len(pids))
        self.parent_peak = max(self.parent_peak, parent)
        self.child_peak = max(self.child_peak, *children, 0.0)
        self.tree_peak = max(self.tree_peak, parent + sum(children))


@contextlib.asynccontextmanager
async def watching() -> AsyncIterator[Watch]:
    """Sample in a task on the running loop (so it also shows whether the loop is free)."""
    watch = Watch()

    async def sampler() -> None:
        while True:
            await asyncio.sleep(0.01)  # the sampling period, not a wait for an event
            watch.sample()

    task = asyncio.create_task(sampler())
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def parser() -> AsyncIterator[Parser]:
    async with Parser() as parser:
        yield parser


# --- Reading real PDFs -------------------------------------------------------------------


@pytest.mark.timeout(20)
async def test_a_700_kb_pdf_is_read_whole(parser):
    pdf = text_pdf(700_000)
    assert 700_000 <= len(pdf) < 720_000
    parsed = await parser.pdf_text(pdf, max_chars=1_000_000)
    assert parsed.outcome is Outcome.OK
    assert (parsed.pages_read, parsed.pages_total) == (66, 66)
    assert not parsed.pages_cut and not parsed.chars_cut
    lines = parsed.text.split("\n")
    assert lines[0] == f"00001 {ENGLISH}"
    assert lines[1] == "00002 분기 보고서에는 매출과 비용, 그리고 다음 출시 계획이 담겨 있습니다"
    assert lines[-1].startswith("02640 분기 보고서에는")


@pytest.mark.timeout(20)
async def test_text_stops_at_max_chars(parser):
    parsed = await parser.pdf_text(text_pdf(700_000), max_chars=5_000)
    assert parsed.outcome is Outcome.OK
    assert len(parsed.text) == 5_000
    assert parsed.chars_cut and not parsed.pages_cut
    assert parsed.pages_read < 5


@pytest.mark.timeout(20)
async def test_pages_stop_at_the_page_cap():
    async with Parser(Limits(pages=3)) as parser:
        parsed = await parser.pdf_text(text_pdf(100_000), max_chars=1_000_000)
    assert parsed.outcome is Outcome.OK
    assert (parsed.pages_read, parsed.pages_total) == (3, 10)
    assert parsed.pages_cut and not parsed.chars_cut
    assert parsed.text.count("\n") == 3 * 40 + 2 - 1  # 40 lines a page, a blank line between


@pytest.mark.timeout(20)
async def test_a_pdf_encrypted_with_an_empty_password_reads(parser):
    parsed = await parser.pdf_text(encrypted_pdf(["Encrypted but readable"]), max_chars=100)
    assert parsed.outcome is Outcome.OK
    assert parsed.text.startswith("Encrypted but readable\n")


@pytest.mark.timeout(20)
async def test_a_pdf_locked_with_a_password_is_unreadable(parser):
    parsed = await parser.pdf_text(encrypted_pdf(user_password="secret"), max_chars=100)
    assert parsed.outcome is Outcome.UNREADABLE
    assert "decrypted" in parsed.detail
    assert parsed.text == ""


@pytest.mark.timeout(20)
async def test_a_damaged_pdf_is_unreadable(parser):
    parsed = await parser.pdf_text(damaged_pdf(), max_chars=100)
    assert parsed == Parsed(Outcome.UNREADABLE, detail="PdfReadError: startxref not found")


# --- Hostile PDFs -------------------------------------------------------------------------


@pytest.mark.timeout(20)
async def test_the_hostile_pdf_hits_the_memory_cap_and_the_parent_stays_small(parser):
    async with watching() as watch:
        parsed = await parser.pdf_text(hostile_pdf(), max_chars=50_000)
    assert parsed.outcome is Outcome.TOO_COMPLEX
    assert parsed.detail == "MemoryError"  # the memory cap stopped it, not the clock
    assert (parsed.text, parsed.pages_total) == ("", 20)
    assert watch.parent_peak - watch.parent_start < 5
    assert 20 < watch.child_peak < parser.limits.memory_mb + 16  # + the interpreter's files


@pytest.mark.timeout(20)
async def test_a_cpu_bound_pdf_is_stopped_at_the_wall_clock_cap():
    async with Parser(Limits(seconds=1.5)) as parser, watching() as watch:
        started = time.monotonic()
        parsed = await parser.pdf_text(hostile_pdf(**SLOW), max_chars=50_000)
        elapsed = time.monotonic() - started
    assert parsed.outcome is Outcome.TOO_COMPLEX
    assert parsed.detail == "wall-clock cap"
    assert parsed.pages_total == 1_000 and 0 < parsed.pages_read < 1_000
    assert elapsed >= 1.5  # not before the cap (the cap's own timer: no slow machine fails it)
    assert workers() == []
    assert 0 < watch.child_peak < parser.limits.memory_mb + 16


@pytest.mark.timeout(60)
async def test_six_hostile_pdfs_run_two_at_a_time_and_the_loop_stays_free(parser):
    loop = asyncio.get_running_loop()
    running_at_each_call: list[int] = []

    async def use_the_default_executor() -> None:
        while True:
            await loop.run_in_executor(None, time.sleep, 0)
            running_at_each_call.append(parser.running)
            await asyncio.sleep(0.05)  # the prober's period, not a wait for an event

    async with watching() as watch:
        prober = asyncio.create_task(use_the_default_executor())
        results = await asyncio.gather(
            *(parser.pdf_text(hostile_pdf(), max_chars=50_000) for _ in range(6))
        )
        prober.cancel()
    assert [parsed.outcome for parsed in results] == [Outcome.TOO_COMPLEX] * 6
    assert watch.most_workers == 2
    # The loop and its default executor went on serving while two children parsed. (How
    # late they were, and how long the six took, are figures of bench.parsing.)
    assert sum(1 for running in running_at_each_call if running == 2) >= 3
    assert watch.parent_peak - watch.parent_start < 5
    assert watch.tree_peak < watch.parent_start + 2 * (parser.limits.memory_mb + 16)


# --- Stopping children ---------------------------------------------------------------------


@pytest.mark.timeout(20)
async def test_cancelling_the_caller_kills_its_child():
    # A child left to run would be stopped only by its 30 s cap, past this test's timeout.
    async with Parser(Limits(seconds=30)) as parser:
        task = asyncio.create_task(parser.pdf_text(hostile_pdf(**SLOW), max_chars=50_000))
        await until(lambda: parser.running == 1)
        [pid] = workers()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not alive(pid)
        assert parser.running == 0


@pytest.mark.timeout(20)
async def test_cancelling_while_the_child_starts_leaves_no_child(parser):
    for delay in (0, 0.001, 0.003, 0.01, 0.03):
        task = asyncio.create_task(parser.pdf_text(hostile_pdf(**SLOW), max_chars=50_000))
        await asyncio.sleep(delay)  # the scenario: cancel at moments along the child's start
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await until(lambda: workers() == [], timeout=2)
    assert parser.running == 0


@pytest.mark.timeout(20)
async def test_aclose_kills_the_children_in_flight():
    parser = Parser(Limits(seconds=30))  # children left to run would outlive the test
    tasks = [
        asyncio.create_task(parser.pdf_text(hostile_pdf(**SLOW), max_chars=50_000))
        for _ in range(3)
    ]
    await until(lambda: len(workers()) == 2)
    pids = workers()
    await parser.aclose()
    assert not any(alive(pid) for pid in pids)
    results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert {parsed.outcome for parsed in results} == {Outcome.UNAVAILABLE}
    assert workers() == []
    later = await parser.pdf_text(text_pdf(1), max_chars=100)
    assert later == Parsed(Outcome.UNAVAILABLE, detail="the parser is closed")


@pytest.mark.timeout(20)
async def test_a_child_dies_with_the_bot_even_when_it_exits_abruptly(tmp_path):
    """``os._exit`` (the bot's second SIGTERM) skips ``aclose()``: the child must not stay.

    With memory to spare, each page takes seconds and writes nothing meanwhile, so the child
    would not notice its closed pipe before the page ends: only ``PR_SET_PDEATHSIG`` stops it.
    """
    pdf = tmp_path / "slow.pdf"
    pdf.write_bytes(hostile_pdf(pages=3))
    script = textwrap.dedent(
        f"""
        import asyncio, os, sys
        from slackgpt.files.pdf_workers import Limits, Parser

        async def main():
            parser = Parser(Limits(seconds=30, memory_mb=400))
            task = asyncio.create_task(parser.pdf_text(open({str(pdf)!r}, "rb").read(), 100))
            while not parser.running:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)  # the scenario: the bot dies while the child reads
            me = os.getpid()
            print(open(f"/proc/{{me}}/task/{{me}}/children").read(), flush=True)
            os._exit(130)

        asyncio.run(main())
        """
    )
    bot = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=15, check=False
    )
    assert bot.returncode == 130, bot.stderr
    child = int(bot.stdout)
    await until(lambda: not alive(child), what="the orphaned child to die")
    assert not alive(child)


@pytest.mark.timeout(20)
def test_the_cpu_cap_is_a_backstop_in_the_child():
    """A child left alone (no parent to kill it) is stopped by its own CPU limit."""
    job = json.loads(Limits(niceness=0).job(max_chars=100, parent=os.getpid()))
    job["cpu"] = 1  # SIGXCPU after 1 s of CPU time, SIGKILL after 2
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = subprocess.run(
        [sys.executable, "-m", "slackgpt.files.pdf_child", json.dumps(job)],
        input=hostile_pdf(**SLOW),
        capture_output=True,
        env=child_environment(os.environ),
        timeout=15,
        check=False,
    )
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert child.returncode == -signal.SIGXCPU
    used = sum(cpu_after[:2]) - sum(cpu_before[:2])  # user + system seconds
    assert 0.9 <= used < 1.9  # the kernel checks the limit on its clock ticks
    lines = [json.loads(line) for line in child.stdout.splitlines()]
    assert lines[0] == {"pages": 1_000} and "end" not in lines[-1]


# --- A worker that cannot run ------------------------------------------------------------


@pytest.mark.timeout(20)
async def test_a_worker_that_cannot_start_makes_the_file_unavailable():
    async with Parser(command=["/nonexistent/python"]) as parser:
        parsed = await parser.pdf_text(text_pdf(1), max_chars=100)
    assert parsed.outcome is Outcome.UNAVAILABLE
    assert parsed.detail.startswith("could not start a worker")


@pytest.mark.timeout(20)
async def test_a_worker_that_crashes_before_reading_makes_the_file_unavailable():
    async with Parser(command=[sys.executable, "-c", "raise SystemExit(3)"]) as parser:
        parsed = await parser.pdf_text(text_pdf(1), max_chars=100)
    assert parsed == Parsed(Outcome.UNAVAILABLE, detail="the worker failed (exit status 3)")


@pytest.mark.timeout(20)
async def test_the_child_gets_no_secrets_from_the_environment(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    show_environment = (
        "import json, os, sys; sys.stdin.buffer.read(); "
        "print(json.dumps({'pages': 1})); "
        "print(json.dumps({'text': json.dumps(dict(os.environ))})); "
        "print(json.dumps({'end': 'ok'}))"
    )
    async with Parser(command=[sys.executable, "-c", show_environment]) as parser:
        parsed = await parser.pdf_text(b"%PDF", max_chars=100_000)
    assert parsed.outcome is Outcome.OK
    environment = json.loads(parsed.text)
    assert "SLACK_BOT_TOKEN" not in environment and "OPENAI_API_KEY" not in environment
    import slackgpt

    holds_package = os.path.dirname(os.path.dirname(os.path.abspath(slackgpt.__file__)))
    assert environment["PYTHONPATH"].split(os.pathsep)[0] == holds_package


# --- The pure parts, without processes ------------------------------------------------------


def lines_of(*messages: dict) -> list[bytes]:
    return [json.dumps(message).encode() + b"\n" for message in messages]


def test_a_transcript_joins_pages_and_reads_the_closing_line():
    transcript = Transcript(max_chars=100)
    for line in lines_of(
        {"pages": 3}, {"text": "one"}, {"text": ""}, {"text": "\n\nthree"}, {"end": "ok"}
    ):
        transcript.feed(line)
    assert transcript.result(0) == Parsed(
        Outcome.OK, text="one\n\nthree", pages_read=3, pages_total=3
    )


def test_a_transcript_keeps_max_chars_whatever_the_child_sends():
    transcript = Transcript(max_chars=5)
    for line in [b"not json\n", b"[1, 2]\n", *lines_of({"text": "abcdefgh"}, {"end": "ok"})]:
        transcript.feed(line)
    parsed = transcript.result(0)
    assert (parsed.text, parsed.chars_cut, parsed.outcome) == ("abcde", True, Outcome.OK)


@pytest.mark.parametrize(
    ("messages", "returncode", "timed_out", "outcome", "detail"),
    [
        ([{"pages": 2}, {"end": "ok", "pages_cut": True}], 0, False, Outcome.OK, ""),
        ([{"end": "unreadable", "detail": "PdfReadError: x"}], 0, False, Outcome.UNREADABLE,
         "PdfReadError: x"),
        ([{"end": "unavailable", "detail": "pypdf is missing"}], 0, False, Outcome.UNAVAILABLE,
         "pypdf is missing"),
        ([{"pages": 2}, {"text": "a"}], None, True, Outcome.TOO_COMPLEX, "wall-clock cap"),
        ([{"pages": 2}], -signal.SIGXCPU, False, Outcome.TOO_COMPLEX,
         "killed by SIGXCPU (CPU cap)"),
        ([], -signal.SIGKILL, False, Outcome.TOO_COMPLEX, "killed by SIGKILL"),
        ([{"pages": 2}], 1, False, Outcome.TOO_COMPLEX, "the worker died reading (exit status 1)"),
        ([], 1, False, Outcome.UNAVAILABLE, "the worker failed (exit status 1)"),
        ([{"end": "ok"}], 1, False, Outcome.UNAVAILABLE, "the worker failed (exit status 1)"),
        ([{"end": "maybe"}], 0, False, Outcome.UNAVAILABLE, "the worker failed (exit status 0)"),
    ],
)
def test_the_outcome_comes_from_the_closing_line_the_exit_and_the_clock(
    messages, returncode, timed_out, outcome, detail
):
    transcript = Transcript(max_chars=100)
    for line in lines_of(*messages):
        transcript.feed(line)
    parsed = transcript.result(returncode, timed_out=timed_out)
    assert (parsed.outcome, parsed.detail) == (outcome, detail)


def test_limits_give_the_child_its_caps():
    limits = Limits(seconds=2.5, pages=7, memory_mb=30, address_slack_mb=10, niceness=5)
    assert limits.cpu_seconds() == 4
    assert json.loads(limits.job(max_chars=-5, parent=42)) == {
        "max_chars": 0,
        "max_pages": 7,
        "memory": 30 * MB,
        "address_space": 40 * MB,
        "cpu": 4,
        "niceness": 5,
        "parent": 42,
    }
    assert Limits(seconds=10).cpu_seconds() == 11


def test_the_child_environment_keeps_what_python_needs_and_drops_the_rest():
    env = child_environment(
        {"PATH": "/bin", "LANG": "C.UTF-8", "PYTHONPATH": "/extra", "SLACK_BOT_TOKEN": "x"}
    )
    assert env["PATH"] == "/bin" and env["LANG"] == "C.UTF-8"
    assert env["PYTHONPATH"].endswith(os.pathsep + "/extra")
    assert "SLACK_BOT_TOKEN" not in env


def test_extract_pdf_cuts_at_max_chars_in_process():
    messages: list[dict] = []
    extract_pdf(text_pdf(100_000), max_chars=3_500, max_pages=200, emit=messages.append)
    assert messages[0] == {"pages": 10}
    assert sum(len(message.get("text", "")) for message in messages) == 3_500
    assert messages[-1] == {"end": "ok", "pages_cut": False, "chars_cut": True}


def test_extract_pdf_without_pypdf_is_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "pypdf", None)  # makes `import pypdf` fail
    messages: list[dict] = []
    extract_pdf(text_pdf(1), max_chars=100, max_pages=200, emit=messages.append)
    assert len(messages) == 1
    assert messages[0]["end"] == "unavailable"
    assert messages[0]["detail"].startswith("pypdf is missing")

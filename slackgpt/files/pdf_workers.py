"""Untrusted files parsed in bounded worker processes, never in a thread of the event loop.

Each file gets a fresh child, ``python -m slackgpt.files.pdf_child``: the bytes go in on
stdin, one JSON line per page comes back on stdout, then one closing line. The child caps
its own memory and CPU time (``setrlimit``) and runs at a lower priority before it reads;
the parent caps its wall-clock time and kills it (its whole process group) on timeout,
cancellation or ``aclose()``. At most ``workers`` children run at once, for all answers.
A file that hits a cap reads as ``too_complex``, with the text of the pages read before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slackgpt.files.pdf_child import Outcome

log = logging.getLogger(__name__)

MB = 1 << 20
REAP_SECONDS = 1.0
"""How long to wait for a killed child to be reaped before leaving it to asyncio."""


@dataclass(frozen=True)
class Parsed:
    """What a worker read from a file."""

    outcome: Outcome
    text: str = ""
    pages_read: int = 0
    pages_total: int | None = None  # None: unknown (the file could not be opened)
    pages_cut: bool = False  # stopped at the cap on pages
    chars_cut: bool = False  # stopped at ``max_chars``: ``text`` is that long
    detail: str = ""  # why, for the logs (an error, the cap that was hit)


@dataclass(frozen=True)
class Limits:
    """The caps of one worker process.

    ``memory_mb`` caps the child's private data (``RLIMIT_DATA``: heap and anonymous maps,
    what a container is charged for). Python with pypdf starts at 17 MB of it; a 10 MB PDF
    (the largest the bot downloads) of 930 pages reads in 31 MB. At the cap a child's RSS
    is 46 MB, 10 MB of which are the interpreter's files, shared with the bot: a 90 MB bot
    with 2 children at the cap stays under 185 MB. The address space gets
    ``address_slack_mb`` more (shared libraries) as a second fence. The CPU cap is a
    backstop a second past the wall-clock cap, for a child whose parent is gone.
    ``niceness`` lowers the children's priority: on a busy machine answers come first.
    """

    seconds: float = 10.0
    pages: int = 200
    memory_mb: int = 36
    address_slack_mb: int = 64
    niceness: int = 10

    def cpu_seconds(self) -> int:
        """The child's ``RLIMIT_CPU``: the wall-clock cap rounded up, plus one second."""
        return int(-(-self.seconds // 1)) + 1

    def job(self, max_chars: int, parent: int) -> str:
        """The child's command-line argument: everything it needs but the bytes."""
        return json.dumps(
            {
                "max_chars": max(0, max_chars),
                "max_pages": self.pages,
                "memory": self.memory_mb * MB,
                "address_space": (self.memory_mb + self.address_slack_mb) * MB,
                "cpu": self.cpu_seconds(),
                "niceness": self.niceness,
                "parent": parent,
            }
        )


class Transcript:
    """The parent's reading of a child's output: page lines, then one closing line.

    Pure: ``feed`` each line as it comes, then ``result`` once the child is gone (or was
    killed). Text beyond ``max_chars`` is dropped whatever the child sends.
    """

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max(0, max_chars)
        self.pages: list[str] = []
        self.chars = 0
        self.pages_read = 0
        self.pages_total: int | None = None
        self.dropped = False  # text beyond max_chars was sent and dropped
        self.end: dict | None = None

    def feed(self, line: bytes) -> None:
        """Take one line of the child's output; a line that is not a JSON object is ignored."""
        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if isinstance(message.get("pages"), int):
            self.pages_total = message["pages"]
        if isinstance(message.get("text"), str):
            self.pages_read += 1
            text = message["text"][: self.max_chars - self.chars]
            self.dropped |= len(text) < len(message["text"])
            if text:
                self.pages.append(text)
                self.chars += len(text)
        if isinstance(message.get("end"), str):
            self.end = message

    def result(self, returncode: int | None, timed_out: bool = False) -> Parsed:
        """The ``Parsed`` for a child that exited with ``returncode`` (None: still running)."""
        end = self.end or {}
        outcome, detail = _outcome(end, returncode, timed_out, self.pages_total is not None)
        return Parsed(
            outcome=outcome,
            text="".join(self.pages),
            pages_read=self.pages_read,
            pages_total=self.pages_total,
            pages_cut=bool(end.get("pages_cut")),
            chars_cut=bool(end.get("chars_cut")) or self.dropped,
            detail=detail,
        )


def _outcome(
    end: dict, returncode: int | None, timed_out: bool, opened: bool
) -> tuple[Outcome, str]:
    """The outcome and its detail from the closing line, the exit status and the clock.

    A child that died without a closing line hit a cap if it was killed by a signal or had
    opened the file; otherwise the worker itself failed (e.g. a cap too low to start).
    """
    if timed_out:
        return Outcome.TOO_COMPLEX, "wall-clock cap"
    try:
        said = Outcome(end.get("end"))
    except ValueError:
        said = None
    if said is not None and returncode == 0:
        return said, str(end.get("detail") or "")
    if returncode is not None and returncode < 0:
        name = _signal_name(-returncode)
        return Outcome.TOO_COMPLEX, f"killed by {name}" + (" (CPU cap)" * (name == "SIGXCPU"))
    if opened:
        return Outcome.TOO_COMPLEX, f"the worker died reading (exit status {returncode})"
    return Outcome.UNAVAILABLE, f"the worker failed (exit status {returncode})"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Parser:
    """Parses untrusted files in at most ``workers`` child processes at a time.

    Create one per bot and share it; ``aclose()`` it at shutdown. ``command`` is the child's
    command line (default: this interpreter, ``-m slackgpt.files.pdf_child``).
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        workers: int = 2,
        command: Sequence[str] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.limits = limits or Limits()
        self.workers = workers
        self.command = tuple(command or (sys.executable, "-m", "slackgpt.files.pdf_child"))
        self._slots = asyncio.Semaphore(workers)  # binds to a loop on first use
        self._starting: set[asyncio.Future] = set()
        self._live: set[asyncio.subprocess.Process] = set()
        self._closed = False

    @property
    def running(self) -> int:
        """How many children are alive now."""
        return sum(1 for proc in self._live if proc.returncode is None)

    async def pdf_text(self, data: bytes, max_chars: int) -> Parsed:
        """The text of a PDF, at most ``max_chars`` characters; never raises for a bad file.

        Waits for a free worker first; the wall-clock cap counts from the child's start.
        Cancelling the caller kills the child.
        """
        async with self._slots:
            if self._closed:
                return Parsed(Outcome.UNAVAILABLE, detail="the parser is closed")
            started = time.monotonic()
            parsed = await self._run(data, max_chars)
        if parsed.outcome is not Outcome.OK:
            log.warning(
                "PDF of %d bytes: %s after %.1f s (%s)",
                len(data),
                parsed.outcome.value,
                time.monotonic() - started,
                parsed.detail,
            )
        return parsed

    async def _run(self, data: bytes, max_chars: int) -> Parsed:
        """One child, from start to reaping, within the wall-clock cap."""
        transcript = Transcript(max_chars)
        try:
            proc = await self._start(max_chars)
        except OSError as error:
            log.warning("could not start a parsing worker: %r", error)
            return Parsed(Outcome.UNAVAILABLE, detail=f"could not start a worker: {error}")
        try:
            await asyncio.wait_for(_exchange(proc, data, transcript), self.limits.seconds)
        except TimeoutError:
            return transcript.result(None, timed_out=True)
        finally:
            await self._end(proc)
        if self._closed and proc.returncode != 0:
            return Parsed(Outcome.UNAVAILABLE, detail="the parser was closed while it read")
        return transcript.result(proc.returncode)

    async def _start(self, max_chars: int) -> asyncio.subprocess.Process:
        """Start a child, never cancelling asyncio midway (it can hang, CPython #125502).

        A caller cancelled meanwhile leaves the start to finish; then the child is killed.
        """
        spawn = asyncio.ensure_future(self._spawn(max_chars))
        self._starting.add(spawn)
        spawn.add_done_callback(self._starting.discard)
        try:
            return await asyncio.shield(spawn)
        except asyncio.CancelledError:
            spawn.add_done_callback(self._abandon)
            raise

    def _abandon(self, spawn: asyncio.Future) -> None:
        """Kill the child of a start whose caller is gone (its protocol reaps it)."""
        if not spawn.cancelled() and spawn.exception() is None:
            proc = spawn.result()
            _kill(proc)
            self._live.discard(proc)

    async def _spawn(self, max_chars: int) -> asyncio.subprocess.Process:
        """Start a child in its own session (so its whole group can be killed)."""
        proc = await asyncio.create_subprocess_exec(
            *self.command,
            self.limits.job(max_chars, os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=child_environment(os.environ),
            limit=6 * max(0, max_chars) + 64 * 1024,  # one page's line, JSON-escaped
            start_new_session=os.name == "posix",
        )
        self._live.add(proc)
        if self._closed:  # closed while it started
            _kill(proc)
        return proc

    async def _end(self, proc: asyncio.subprocess.Process) -> None:
        """Kill ``proc`` if it still runs, and reap it (briefly: a kill is not refused)."""
        try:
            if proc.returncode is None:
                _kill(proc)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(proc.wait(), REAP_SECONDS)
        finally:
            self._live.discard(proc)

    def close(self) -> None:
        """Kill every child now; later calls return ``unavailable``. Safe in a signal handler."""
        self._closed = True
        for proc in list(self._live):
            if proc.returncode is None:
                _kill(proc)

    async def aclose(self) -> None:
        """``close()``, let the children being started finish starting (they are killed
        then), and wait for the killed children to be reaped: about a second at most."""
        self.close()
        if self._starting:
            await asyncio.wait(list(self._starting), timeout=REAP_SECONDS)
        waits = [proc.wait() for proc in list(self._live)]
        if waits:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), REAP_SECONDS)

    async def __aenter__(self) -> Parser:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def _exchange(proc: asyncio.subprocess.Process, data: bytes, transcript: Transcript) -> None:
    """Send ``data`` to the child, then feed its lines to ``transcript`` until it exits."""
    assert proc.stdin is not None and proc.stdout is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it died early
        proc.stdin.write(data)
        await proc.stdin.drain()
        proc.stdin.close()
    while True:
        try:
            line = await proc.stdout.readline()
        except ValueError:  # a line over the limit: not from an honest child
            _kill(proc)
            break
        if not line:
            break
        transcript.feed(line)
    await proc.wait()


def _kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the child's process group (the child alone where there are none)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()


_INHERITED = ("PATH", "PYTHONHOME", "LANG", "LC_ALL", "LC_CTYPE", "SYSTEMROOT", "TMPDIR")


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: no secrets (tokens, keys), just what Python needs.

    ``PYTHONPATH`` leads with the directory holding this package, so ``-m`` finds it also
    when the bot runs from a source checkout that is not installed.
    """
    env = {name: environ[name] for name in _INHERITED if name in environ}
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = [package_parent, *filter(None, environ.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env

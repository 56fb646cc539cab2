"""The bot under test as its own process: ``python app.py`` (or the floor bot) pointed at the
fakes, with its CPU time and memory read from ``/proc/<pid>``."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT")
_LIVE: set[subprocess.Popen[bytes]] = set()  # bot processes to kill whatever happens


@dataclass(frozen=True)
class Launch:
    """How to start a bot: which one, with what interpreter, wrappers and settings."""

    kind: str = "slackgpt"  # or "floor": bench/floor.py
    python: str = "python3"
    app: str = str(ROOT / "app.py")
    cprofile_dir: str | None = None
    pyinstrument_dir: str | None = None
    gc_trace: bool = False
    env: Mapping[str, str] = field(default_factory=dict)  # the settings (tokens, URLs, …)

    def command(self, tag: str) -> list[str]:
        cmd = [self.python]
        if self.cprofile_dir:
            out = Path(self.cprofile_dir).resolve() / f"{self.kind}-{tag}.prof"
            out.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["-m", "cProfile", "-o", str(out)]
        elif self.pyinstrument_dir:
            out = Path(self.pyinstrument_dir).resolve() / f"{self.kind}-{tag}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["-m", "pyinstrument", "--show-all", "-o", str(out)]
        if self.gc_trace:  # the script under a wrapper that reports collector pauses
            cmd.append(str(ROOT / "bench" / "gc_trace.py"))
        cmd.append(str(ROOT / "bench" / "floor.py") if self.kind == "floor" else self.app)
        return cmd


class BotProcess:
    """One copy of a bot; started in an empty directory with a clean environment."""

    def __init__(self, launch: Launch, workdir: Path, tag: str):
        self.launch, self.workdir, self.tag = launch, workdir, tag
        self.log_path = workdir / f"{launch.kind}-{tag}.log"
        env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
        own = {"PYTHONUNBUFFERED": "1", "XDG_STATE_HOME": str(workdir)}  # its usage file here
        self.env = env | own | dict(launch.env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            # The working directory is empty on purpose: no stray .env is read.
            self.proc = subprocess.Popen(
                self.launch.command(self.tag),
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
    """K copies of a bot, each with its own Socket Mode connection (Slack spreads events
    over an app's connections); measured as one."""

    def __init__(self, launch: Launch, workdir: Path, tag: str, copies: int = 1) -> None:
        self.bots = [BotProcess(launch, workdir, f"{tag}-b{i}") for i in range(copies)]
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


def kill_leftovers() -> None:
    """Kill every bot process still running (at exit, whatever happened)."""
    for proc in list(_LIVE):
        with contextlib.suppress(Exception):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)


atexit.register(kill_leftovers)

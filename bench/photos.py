"""The photos profile (issue 18, item 6): a few messages at once, each with ten phone photos.

    .venv/bin/python -m bench.run --profile photos       # 3 messages x 10 photos of 4.9 MB

Every photo is a real 4032 x 3024 JPEG of just under 4.9 MB (noise over gradients, so it
compresses like a photo), served by FakeSlack as a private file. The figure is the bot's
memory while it reads them and answers: its peak RSS as the kernel keeps it (``VmHWM`` of the
bot's process), and the peaks of its process tree's RSS and PSS, sampled every 20 ms (the
tree: the bot and any worker processes it started; PSS counts shared pages once). Each answer
must arrive whole; the notes under it (images skipped) are counted, not judged.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from .analysis import Asked
from .profiles import Photos, answer_chunks
from .report import target
from .scenario import BenchError, Options, Session, measured, session, wait_answers, warm_up

Result = dict[str, Any]
SAMPLE_EVERY = 0.02


def make_photo(width: int, height: int, at_most: int) -> bytes:
    """A JPEG that compresses like a phone photo, as large as it gets within ``at_most``."""
    from PIL import Image

    noise = Image.effect_noise((width, height), 20)
    across = Image.linear_gradient("L").resize((width, height))
    down = Image.linear_gradient("L").rotate(90).resize((width, height))
    photo = Image.merge("RGB", (Image.blend(noise, across, 0.5), Image.blend(noise, down, 0.4),
                                across.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    best = b""
    for quality in (95, 93, 91, 89, 87, 85, 80, 75, 70):
        out = io.BytesIO()
        photo.save(out, "JPEG", quality=quality)
        if out.tell() <= at_most:
            return out.getvalue()
        best = out.getvalue()
    return best


def status_mb(pid: int, keys: tuple[str, ...]) -> dict[str, float]:
    """Fields of ``/proc/<pid>/status`` in MB (empty once the process is gone)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as lines:
        pairs = (line.split(":", 1) for line in lines)
        return {k: int(v.split()[0]) / 1024 for k, v in pairs if k in keys}
    return {}


def pss_mb(pid: int) -> float:
    """Proportional set size of a process (shared pages divided among their users), MB."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as lines:
        for line in lines:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux's ``/proc/<pid>/task/<tid>/children``)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


class TreeSampler:
    """Peaks of a process tree's summed RSS and PSS, sampled while the run goes on."""

    def __init__(self, pid: int) -> None:
        self.pid, self.rss_peak, self.pss_peak, self.samples = pid, 0.0, 0.0, 0
        self.task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        pids = tree(self.pid)
        rss = sum(status_mb(p, ("VmRSS",)).get("VmRSS", 0.0) for p in pids)
        self.rss_peak = max(self.rss_peak, rss)
        self.pss_peak = max(self.pss_peak, sum(pss_mb(p) for p in pids))
        self.samples += 1

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_EVERY)

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def run_photos(opts: Options, profile: Photos, photo: bytes, workdir: Path) -> Result:
    """One run against fresh fakes and a fresh bot."""
    result: Result = {"errors": [], "warnings": [], "photo_mb": len(photo) / 1e6}
    opened = session(opts, workdir, "photos")
    return await measured(opened, lambda s: _measure(s, opts, profile, photo, result), result)


async def _measure(s: Session, opts: Options, profile: Photos, photo: bytes, out: Result) -> None:
    if opts.warmup:
        await warm_up(s, opts.copies)
    bot = s.bots.bots[0]
    out["rss_start_mb"] = status_mb(bot.pid, ("VmRSS",)).get("VmRSS")
    sampler = TreeSampler(bot.pid)
    sampler.start()
    started = time.monotonic()
    asked = await _send(s, profile, photo)
    missing = await wait_answers(s, asked, s.world.model_time + 60)
    out["wall_s"] = time.monotonic() - started
    await sampler.stop()
    sampler.sample()
    if not s.bots.alive():
        raise BenchError(f"the bot died (status {s.bots.exit_status()})")
    out |= {
        "rss_peak_mb": status_mb(bot.pid, ("VmHWM",)).get("VmHWM"),
        "tree_rss_peak_mb": sampler.rss_peak,
        "tree_pss_peak_mb": sampler.pss_peak,
        "samples": sampler.samples,
        "downloads": len(s.slack.downloads),
        "model_images": [len(_images(body)) for body in s.llm.requests[opts.copies:]],
    }
    expected = "".join(answer_chunks(s.world.tokens))
    notes = []
    for q in asked:
        texts, streaming = s.texts(q)
        if streaming or not "".join(texts).startswith(expected):
            out["errors"].append(f"the answer to {q.key} did not arrive whole")
        notes.append("".join(texts).count(" was skipped"))
    out["notes_per_answer"] = notes
    if missing:
        out["errors"].append(f"{len(missing)} answers not finished (e.g. {sorted(missing)[:3]})")


async def _send(s: Session, profile: Photos, photo: bytes) -> list[Asked]:
    """Every message at once, each with its own copies of the photos."""
    me = s.slack.bot_user_id

    async def one(channel: str) -> Asked:
        files = [s.slack.add_file(f"IMG_{i:04d}.jpg", photo, "image/jpeg", "jpg")
                 for i in range(profile.photos)]
        msg = await s.slack.mention(channel, f"<@{me}> what is in these? q-{channel}",
                                    files=files)
        return Asked(channel, channel, msg["ts"])

    return list(await asyncio.gather(*map(one, profile.channel_ids())))


def _images(body: dict) -> list[dict]:
    """The image parts of a model request's messages."""
    parts = [p for m in body.get("messages", []) if isinstance(m.get("content"), list)
             for p in m["content"]]
    return [p for p in parts if p.get("type") == "image_url"]


def render(profile: Photos, result: Result) -> list[str]:
    """The run's table and its target."""
    def mb(key: str) -> str:
        value = result.get(key)
        return "-" if value is None else f"{value:.0f}"

    return [
        f"photos — {profile.messages} messages at once, {profile.photos} JPEGs each "
        f"({profile.width} x {profile.height}, {result['photo_mb']:.2f} MB)",
        "",
        "| figure | value |",
        "| --- | ---: |",
        f"| bot RSS before the messages (MB) | {mb('rss_start_mb')} |",
        f"| bot peak RSS, VmHWM (MB) | {mb('rss_peak_mb')} |",
        f"| process tree peak RSS / PSS, sampled every 20 ms (MB) | {mb('tree_rss_peak_mb')} / "
        f"{mb('tree_pss_peak_mb')} |",
        f"| downloads / images the model received per answer | {result.get('downloads')} / "
        f"{result.get('model_images')} |",
        f"| notes per answer (images skipped) | {result.get('notes_per_answer')} |",
        f"| wall time, first message to last answer (s) | {result.get('wall_s', 0):.1f} |",
        "",
        *_targets(profile, result),
    ]


def _targets(profile: Photos, result: Result) -> list[str]:
    row = target("bot peak RSS", None, result.get("rss_peak_mb"), profile.target_mb, "MB")
    return [f"target: {row['target']} {row['value'] or 0:.0f} MB <= {row['limit']:.0f} MB: "
            f"{row['result']}"]


async def photos(opts: Options, workdir: Path) -> tuple[list[str], dict]:
    """``bench.run --profile photos``: one run with ``opts`` (the profile's world); the table
    and every figure."""
    profile = Photos()
    photo = await asyncio.to_thread(make_photo, profile.width, profile.height,
                                    profile.photo_bytes)
    started = time.monotonic()
    result = await run_photos(replace(opts, world=profile.world), profile, photo, workdir)
    status = "ok" if not result["errors"] else "ERROR " + "; ".join(result["errors"])
    print(f"photos: {status} ({time.monotonic() - started:.1f}s)", file=sys.stderr, flush=True)
    if result["errors"] and result.get("bot_log_tail"):
        print("  bot log (tail):\n" + result["bot_log_tail"], file=sys.stderr)
    return render(profile, result), {"profile": asdict(profile), "runs": [result]}

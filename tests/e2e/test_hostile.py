"""End to end: what a hostile member can post, and what it must not do to the bot or others."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from pathlib import Path

import pytest

from fakes.documents import hostile_pdf, text_pdf
from fakes.openai import Reply
from slackgpt.slack.quota import Quota
from tests.helpers import env_for, finished, run_app, until

pytestmark = pytest.mark.timeout(60)

CHANNEL = "C1"
WRITES = ("chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream",
          "chat.stopStream")
LIVE = re.compile(r"<!(here|channel|everyone|subteam)|(?<![\w@])@(here|channel|everyone)\b", re.I)
BROADCASTS = "Sure <!here|all of you> and <!subteam^S0123ABCD|@oncall team> now"


def split_answer(body: dict) -> Reply:
    """The model writes BROADCASTS in two pieces, cut where the question says, and ends a
    while after the second (an empty delta), so that the second piece is an update of its
    own rather than riding on the message's last call."""
    question = str(body["messages"][-1]["content"])
    cut = int(re.search(r"split (\d+)", question).group(1))
    return Reply(chunks=[BROADCASTS[:cut], BROADCASTS[cut:], ""], token_delay=0.15)


async def ask_every_split(slack) -> list[dict]:
    """One question per split, each in a channel of its own (posting is paced per channel)."""
    questions = [
        await slack.mention(f"C{cut:02d}", f"<@{slack.bot_user_id}> split {cut}")
        for cut in range(1, len(BROADCASTS))
    ]
    for question in questions:
        channel = question["channel"]
        await slack.wait_for(lambda q=question: shown(slack, q).endswith("now"), timeout=20)
        await slack.answered(channel, question["ts"])
    return questions


def shown(slack, question: dict) -> str:
    """The bot's answer as a person reads it, across its messages."""
    return "".join(m["text"] for m in slack.bot_replies(question["channel"], question["ts"]))


def sent_text(slack) -> str:
    """Everything the bot's writes carried to Slack."""
    return "\n".join(str(call.params) for call in slack.calls if call.method in WRITES)


@pytest.mark.parametrize("route", ["stream", "post-and-update"])
async def test_broadcasts_split_at_every_position_never_go_out_live(slack, llm, start_bot, route):
    llm.default = split_answer
    # The two pieces straddle an update; Slack's minute is a second here, so that every one
    # of the answers can take the route under test.
    await start_bot(stream_interval=0.05, quota=Quota(window=1))
    if route == "post-and-update":
        slack.fail("chat.startStream", "not_allowed", times=None)
    questions = await ask_every_split(slack)
    updates = [c for c in slack.calls if c.method in ("chat.appendStream", "chat.update")]
    assert len(updates) >= len(questions) // 2  # most answers really were sent in two steps
    assert not LIVE.search(sent_text(slack))
    for question in questions:
        text = shown(slack, question)
        assert not LIVE.search(text), text
        assert "here" in text and "oncall team" in text  # readable, just inert


# Files ----------------------------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """A process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def memory_kb(pid: int) -> dict[str, int]:
    """Rss, Pss and USS (Private_Clean + Private_Dirty) of one process, in kB; {} once gone."""
    with contextlib.suppress(OSError, IndexError, KeyError, ValueError):
        fields = {
            line.split(":")[0]: int(line.split()[1])
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
        }
        return {"rss": fields["Rss"], "pss": fields["Pss"],
                "uss": fields["Private_Clean"] + fields["Private_Dirty"]}
    return {}


def tree_memory_mb(pid: int) -> dict[str, float]:
    """The process tree's memory, in MB: ``pss`` counts a page shared by several processes
    (the interpreter's files, mapped by the bot and each PDF worker) once in all, split
    between them; ``rss`` would count it once per process."""
    total = {"rss": 0, "pss": 0, "uss": 0}
    for member in tree(pid):
        for key, kb in memory_kb(member).items():
            total[key] += kb
    return {key: kb / 1024 for key, kb in total.items()}


def pdf_workers(pid: int) -> list[int]:
    """The PDF workers among a process's descendants."""
    found = []
    for member in tree(pid):
        with contextlib.suppress(OSError):
            if b"slackgpt.files.pdf_child" in Path(f"/proc/{member}/cmdline").read_bytes():
                found.append(member)
    return found


async def started_bot(slack, llm, tmp_path, **env):
    process = await run_app(env_for(slack, llm, **env), tmp_path)
    await slack.wait_for(lambda: slack.sockets_open > 0, timeout=20)
    return process


async def test_six_hostile_pdfs_do_not_take_the_bot_down(slack, llm, tmp_path):
    process = await started_bot(slack, llm, tmp_path)
    samples = [tree_memory_mb(process.pid)]
    sampling = True

    async def sample() -> None:
        while sampling:
            samples.append(tree_memory_mb(process.pid))
            await asyncio.sleep(0.05)  # the sampling period, not a wait for an event

    sampler = asyncio.ensure_future(sample())
    try:
        pdfs = []
        for i in range(6):
            pdf = slack.add_file(f"bomb{i}.pdf", hostile_pdf(), "application/pdf")
            pdfs.append(await slack.mention(f"C{30 + i}", f"<@{slack.bot_user_id}> read this",
                                            files=[pdf]))
        plain = await slack.mention("C40", f"<@{slack.bot_user_id}> meanwhile, hello?")
        await slack.wait_for(lambda: slack.bot_text("C40", plain["ts"]), timeout=10)
        unread = [q for q in pdfs if not slack.bot_replies(q["channel"], q["ts"])]
        for question in pdfs:
            await slack.answered(question["channel"], question["ts"], timeout=60)
    finally:
        sampling = False
        await sampler
        process.send_signal(signal.SIGTERM)
        await finished(process)
    # Six PDFs take three rounds of two workers: the question asked after them was not
    # queued behind them. (How soon it is answered meanwhile is bench.parsing's figure.)
    assert unread, "the plain question was answered only after every PDF was read"
    for question in pdfs:
        assert "too complex to read" in slack.bot_text(question["channel"], question["ts"])
    peak = {key: max(sample[key] for sample in samples) for key in ("pss", "rss", "uss")}
    summary = ", ".join(f"{key.upper()} {mb:.0f} MB" for key, mb in peak.items())
    assert peak["pss"] < 200, f"the bot's process tree reached {summary}"


async def test_a_700_kb_pdf_reaches_the_model_whole(slack, llm, bot):
    lines = [f"Section {i}: the quarterly figures rose by {i} percent." for i in range(40)]
    pdf = text_pdf(700_000, lines)
    assert len(pdf) > 650_000
    file = slack.add_file("report.pdf", pdf, "application/pdf")
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> summarize", files=[file])
    await slack.answered(CHANNEL, question["ts"], timeout=20)
    sent = str(llm.requests[0]["messages"][-1]["content"])
    assert "Section 0:" in sent and "Section 39:" in sent
    assert "could not be read" not in slack.bot_text(CHANNEL, question["ts"])


async def test_a_file_that_is_bigger_than_it_said_is_said_to_be_cut(slack, llm, bot):
    big = b"name,score\n" + b"someone,42\n" * 200_000  # 2.2 MB of CSV, said to be 1 KB
    file = slack.add_file("data.csv", big, "text/csv", size=1000)
    llm.script(Reply(text="Counted."))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> stats?", files=[file])
    await slack.answered(CHANNEL, question["ts"], timeout=20)
    text = slack.bot_text(CHANNEL, question["ts"])
    assert "over the 1 MB limit for text files: I read its beginning" in text


async def test_the_bot_token_never_goes_to_a_foreign_host(slack, llm, bot):
    external = slack.add_external_file("plan.txt", b"secret plan", "text/plain")
    forged = slack.add_file("notes.txt", b"notes", "text/plain")
    forged["url_private_download"] = slack.foreign.add("/steal.txt", b"x", "text/plain")
    question = await slack.mention(
        CHANNEL, f"<@{slack.bot_user_id}> read these", files=[external, forged]
    )
    await slack.answered(CHANNEL, question["ts"])
    assert slack.foreign.requests == []
    text = slack.bot_text(CHANNEL, question["ts"])
    assert "`plan.txt` was skipped: it is stored outside Slack" in text
    assert "`notes.txt` was skipped: it could not be downloaded" in text


async def test_sigterm_while_a_pdf_is_read_exits_in_time_and_says_so(slack, llm, tmp_path):
    process = await started_bot(slack, llm, tmp_path, SHUTDOWN_GRACE="2")
    slow = hostile_pdf(pages=400, repeats=10_000)  # small pages, many: up to the 10 s cap
    pdf = slack.add_file("slow.pdf", slow, "application/pdf")
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> read", files=[pdf])
    await until(lambda: pdf_workers(process.pid), timeout=10, what="a PDF worker")
    process.send_signal(signal.SIGTERM)
    code, err = await finished(process, timeout=15)
    assert code == 0, err
    # The answer was cut at the 2 s grace, not finished when the worker's 10 s cap ended it.
    assert "restarting" in slack.bot_text(CHANNEL, question["ts"])

"""End to end: asking the asker before a tool writes. The real bot posts the request with its
buttons in the fake Slack; people click over Socket Mode (``block_actions``); the decision is
settled once, also when the click reaches another copy of the bot (a real Redis between them).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from fakes.redis_server import redis_server
from slackgpt.tools.base import Asker, ToolResult
from tests.helpers import approval_request, outcome_of, until, watch

pytestmark = pytest.mark.timeout(30)
CHANNEL = "C0APPROVE1"


@dataclass(frozen=True)
class Writer:
    """A tool that writes (what it does is not the point here)."""

    name: str = "tickets_create_ticket"
    title: str = "Create a ticket (tickets)"
    description: str = "Create a ticket."
    parameters: dict = field(default_factory=lambda: {"type": "object", "properties": {}})
    writes: bool = True

    async def run(self, arguments: dict, asker: Asker) -> ToolResult:
        return ToolResult("created")


def asked(slack) -> Asker:
    root = slack.add_message(CHANNEL, "file a ticket, please", user="U1")
    return Asker(user="U1", channel=CHANNEL, thread_ts=root["ts"])


def told(slack, user: str) -> list[str]:
    """What the bot said to ``user`` alone."""
    return [e.text for e in slack.ephemerals if e.user == user]


async def test_no_answer_in_time_is_a_no_and_a_late_click_is_told_so(slack, start_bot):
    bot = await start_bot(approval_timeout=1.0)
    asker = asked(slack)
    waiting = asyncio.create_task(bot.approvals.approve(Writer(), {"title": "x"}, asker))
    request = await approval_request(slack, CHANNEL, asker.thread_ts)
    assert "without an answer within 1 second" in request["text"]
    assert await waiting is False
    assert outcome_of(slack, CHANNEL, request) == "⌛ No answer within 1 second; not run."
    with pytest.raises(LookupError):  # the buttons are gone...
        await slack.click_button(CHANNEL, request["ts"], "tool_approve", user="U1")
    # ...but a client that has not caught up still shows them
    await slack.click_button(CHANNEL, request["ts"], "tool_approve", user="U1",
                             seen=request["blocks"])
    await slack.wait_for(lambda: told(slack, "U1"))
    assert "nothing was run" in told(slack, "U1")[0]


async def test_a_double_click_counts_once(slack, start_bot):
    bot = await start_bot()
    asker = asked(slack)
    waiting = asyncio.create_task(bot.approvals.approve(Writer(), {}, asker))
    request = await approval_request(slack, CHANNEL, asker.thread_ts)
    await slack.click_button(CHANNEL, request["ts"], "tool_approve", user="U1")
    await slack.click_button(CHANNEL, request["ts"], "tool_deny", user="U1",
                             seen=request["blocks"])
    assert await waiting is True
    await slack.wait_for(lambda: told(slack, "U1"))
    assert told(slack, "U1") == ["Already approved: a decision is made once."]
    await slack.wait_for(lambda: outcome_of(slack, CHANNEL, request) is not None)
    assert outcome_of(slack, CHANNEL, request).startswith("✅ Approved")


async def test_a_stopped_answer_ends_its_request(slack, start_bot):
    bot = await start_bot()
    asker = asked(slack)
    waiting = asyncio.create_task(bot.approvals.approve(Writer(), {}, asker))
    request = await approval_request(slack, CHANNEL, asker.thread_ts)
    waiting.cancel()  # as when the person stops the answer
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await slack.wait_for(lambda: outcome_of(slack, CHANNEL, request) is not None)
    assert outcome_of(slack, CHANNEL, request).startswith("⏹️")
    await slack.click_button(CHANNEL, request["ts"], "tool_approve", user="U1",
                             seen=request["blocks"])
    await slack.wait_for(lambda: told(slack, "U1"))
    assert "nothing was run" in told(slack, "U1")[0]


async def test_a_click_on_another_copy_decides_for_the_copy_that_waits(
    slack, start_bot, redis_url
):
    copies = [await start_bot(redis_url=redis_url) for _ in range(2)]
    clicks = [watch([copy.approvals], "clicked") for copy in copies]
    asker = asked(slack)
    waiter = copies[0]
    waiting = asyncio.create_task(waiter.approvals.approve(Writer(), {}, asker))
    request = await approval_request(slack, CHANNEL, asker.thread_ts)

    # The fake Slack hands interactions to the two sockets in turn: a bystander clicks
    # until the next click is due at the copy that does not wait.
    while True:
        before = [c.done for c in clicks]
        await slack.click_button(CHANNEL, request["ts"], "tool_approve", user="U2")
        await until(lambda b=before: sum(c.done for c in clicks) > sum(b))
        if clicks[1].done == before[1]:  # the waiter took it: the next goes to the other
            break
    assert not waiting.done()
    await slack.click_button(CHANNEL, request["ts"], "tool_approve", user="U1")
    assert await waiting is True
    await until(lambda: clicks[1].done == before[1] + 1, what="the other copy's click")
    assert clicks[0].done == before[0] + 1  # the waiting copy saw the bystander's only
    assert set(told(slack, "U2")) == {"Only the person who asked can approve this."}


async def test_with_the_store_away_a_click_cannot_become_a_yes(slack, start_bot):
    with redis_server() as server:
        bot = await start_bot(redis_url=server.url, approval_timeout=1.5)
        asker = asked(slack)
        waiting = asyncio.create_task(bot.approvals.approve(Writer(), {}, asker))
        request = await approval_request(slack, CHANNEL, asker.thread_ts)
        server.stop()
        await slack.click_button(CHANNEL, request["ts"], "tool_approve", user="U1")
        assert await waiting is False
    assert "could not be recorded" in told(slack, "U1")[0]
    assert outcome_of(slack, CHANNEL, request).startswith("⌛")


async def test_a_click_whose_value_names_another_asker_is_no_approval(slack, start_bot):
    """The buttons' value says who may decide. A click carrying a value edited to name the
    clicker (a tampered or forged payload) settled ``approved:U2`` and the waiter, which
    only looked at the word ``approved``, ran the tool for U1 without U1's click."""
    bot = await start_bot()
    asker = asked(slack)
    waiting = asyncio.create_task(bot.approvals.approve(Writer(), {}, asker))
    request = await approval_request(slack, CHANNEL, asker.thread_ts)
    forged = [{**block, "elements": [{**button, "value": button["value"].replace("|U1|", "|U2|")}
                                      for button in block["elements"]]}
              for block in request["blocks"] if block["type"] == "actions"]
    assert "|U2|" in forged[0]["elements"][0]["value"]

    await slack.click_button(CHANNEL, request["ts"], "tool_approve", user="U2", seen=forged)

    assert await waiting is False
    await slack.wait_for(lambda: outcome_of(slack, CHANNEL, request) is not None)
    assert not outcome_of(slack, CHANNEL, request).startswith("✅")

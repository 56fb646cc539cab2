"""One long thread never stalls everyone (#18 item 1), and a summary is not joining the
conversation (#18 item 2): the real bot against the fake Slack with Slack's tiers on."""

from __future__ import annotations

import pytest

from fakes.openai import Reply
from fakes.slack.limits import RateLimiter
from slackgpt.pane.logic import SUMMARIZE_CALLBACK
from tests.helpers import thread_reply, until_handled, watch

pytestmark = pytest.mark.timeout(60)
HUGE = 10_000


def long_thread(slack, replies: int = HUGE) -> dict:
    root = slack.add_message("C1", "ROOT: the migration plan", user="U2")
    for i in range(replies):
        slack.add_message("C1", f"reply {i}", user=f"U{i % 7 + 3}", thread_ts=root["ts"])
    return {**root, "channel": "C1"}


async def test_a_reply_in_a_huge_thread_costs_one_page_and_holds_nobody_up(
    slack, llm, start_bot
):
    slack.web.rate_limits = RateLimiter()  # Slack's tiers, at Slack's pace
    root = long_thread(slack)
    runtime = await start_bot()
    handled = watch([runtime.answerer], "answer")
    await thread_reply(slack, root, "what a thread", user="U4")  # not for the bot
    await until_handled(handled, 1)
    assert len(slack.calls_to("conversations.replies")) == 1  # was 51 pages
    other = slack.add_message("C2", "hi", user="U1")
    question = await slack.mention("C2", f"<@{slack.bot_user_id}> hello", thread_ts=other["ts"])
    await slack.answered("C2", other["ts"])
    assert question["thread_ts"] == other["ts"] and slack.throttled() == 0


async def test_an_answer_in_a_huge_thread_reads_its_root_and_newest_replies(slack, llm, bot):
    root = long_thread(slack)
    await slack.mention("C1", f"<@{slack.bot_user_id}> where are we?", thread_ts=root["ts"])
    [answer] = await slack.answered("C1", root["ts"])
    assert len(slack.calls_to("conversations.replies")) <= 3
    said = [str(m["content"]) for m in llm.requests[0]["messages"]]
    assert "ROOT: the migration plan" in said[1]
    assert said[-1].endswith("where are we?") and "reply 9999" in said[-2]
    assert "earlier messages of this thread" in answer["text"]  # said, not hidden


async def test_a_summary_of_a_huge_thread_reads_at_most_3_pages(slack, llm, bot):
    root = long_thread(slack)
    await slack.message_shortcut(SUMMARIZE_CALLBACK, "C1", root["ts"], user="U4")
    await slack.answered("C1", root["ts"])
    assert len(slack.calls_to("conversations.replies")) <= 3


async def test_after_a_summary_the_bot_stays_out_of_the_conversation(slack, llm, start_bot):
    """The summary is the bot's message in the thread, but replies are not for the bot: not
    in this copy, and not in a fresh one that learns the thread from Slack."""
    root = long_thread(slack, 3)
    llm.script(Reply(text="Summary: migrate on Friday."))
    first = await start_bot()
    await slack.message_shortcut(SUMMARIZE_CALLBACK, "C1", root["ts"], user="U4")
    await slack.answered("C1", root["ts"])
    await first.close()
    fresh = await start_bot()  # no memory of this thread: it reads it
    handled = watch([fresh.answerer], "answer")
    await thread_reply(slack, root, "thanks, and the rollback?", user="U5")
    await until_handled(handled, 1)
    assert len(llm.requests) == 1 and len(slack.bot_replies("C1", root["ts"])) == 1

"""Threads: whether a person's reply continues a conversation with the bot (the real door
against the fake Slack)."""

from __future__ import annotations

from slackgpt.answering.threads import Threads
from slackgpt.slack.api import SlackApi
from slackgpt.slack.events import SUMMARY_METADATA, BotIdentity, Question
from slackgpt.slack.quota import Quota
from slackgpt.state.local import LocalState

ME = BotIdentity("UBOT", "BBOT")


def reply(slack, root: dict, user: str = "U1") -> Question:
    msg = slack.add_message("C1", "sounds good", user=user, thread_ts=root["ts"])
    return Question("C1", msg["ts"], user, "sounds good", thread_ts=root["ts"])


def bot_says(slack, root: dict, text: str = "An answer.", **kw) -> dict:
    return slack.add_message("C1", text, user="UBOT", bot_id="BBOT", thread_ts=root["ts"], **kw)


async def test_a_reply_after_the_bots_answer_is_a_follow_up(slack, door):
    root = slack.add_message("C1", "@gpt question", user="U2")
    bot_says(slack, root)
    threads = Threads(door, LocalState(None), ME)
    has_bot, thread = await threads.has_bot(reply(slack, root), allowed=True)
    assert has_bot and thread[-1]["text"] == "sounds good"


async def test_a_reply_written_before_the_bot_joined_is_not_for_it(slack, door):
    """Read late (a copy that waited for Slack's budget), the thread already holds the bot's
    answer to a later mention: the earlier reply still was not addressed to the bot."""
    root = slack.add_message("C1", "lunch?", user="U2")
    early = reply(slack, root, user="U3")
    bot_says(slack, root)
    threads = Threads(door, LocalState(None), ME)
    assert (await threads.has_bot(early, allowed=True))[0] is False
    # The thread itself is remembered as the bot's: later replies need no read.
    assert await threads.state.thread_has_bot("C1", root["ts"]) is True
    reads = len(slack.calls_to("conversations.replies"))
    assert (await threads.has_bot(reply(slack, root), allowed=True))[0] is True
    assert len(slack.calls_to("conversations.replies")) == reads


async def test_a_summary_is_not_joining_the_conversation(slack, door):
    """#18 item 2: the bot summarized a human thread; the next reply is not for it."""
    root = slack.add_message("C1", "the release plan", user="U2")
    bot_says(slack, root, "Summary: ship Friday.", metadata=SUMMARY_METADATA)
    threads = Threads(door, LocalState(None), ME)
    has_bot, _ = await threads.has_bot(reply(slack, root, user="U3"), allowed=True)
    assert has_bot is False
    assert await threads.state.thread_has_bot("C1", root["ts"]) is False


async def test_a_thread_the_bot_never_wrote_in_costs_one_small_read(slack, door):
    root = slack.add_message("C1", "chatter", user="U2")
    for i in range(30):
        slack.add_message("C1", f"reply {i}", user=f"U{i % 3 + 3}", thread_ts=root["ts"])
    threads = Threads(door, LocalState(None), ME)
    assert (await threads.has_bot(reply(slack, root), allowed=True))[0] is False
    [read] = slack.calls_to("conversations.replies")
    assert read.params["limit"] == "1"  # the root's reply_users tell (a GET: strings)


async def test_a_thread_not_learned_for_want_of_budget_stays_unknown(slack):
    quota = Quota(per_minute={"conversations.replies": 10}, per_channel={})
    door = SlackApi(slack.bot_token, slack.api_url, quota=quota)
    try:
        for _ in range(6):
            await quota.take("conversations.replies")  # answers used 6 of 10 this minute
        root = slack.add_message("C1", "chatter", user="U2")
        state = LocalState(None)
        threads = Threads(door, state, ME)
        assert await threads.has_bot(reply(slack, root), allowed=True) == (False, None)
        assert not slack.calls_to("conversations.replies")  # 4 are kept for answers
        assert await state.thread_has_bot("C1", root["ts"]) is None  # a later reply asks again
    finally:
        await door.close()

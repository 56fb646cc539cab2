"""Threads: whether a person's reply continues a conversation with the bot."""

from __future__ import annotations

from slackgpt.answering.threads import Threads
from slackgpt.slack.events import BotIdentity, Question
from slackgpt.state.local import LocalState

ME = BotIdentity("UBOT", "BBOT")


class Door:
    """The one Slack read Threads makes, answered from a list (None: no budget to learn)."""

    def __init__(self, thread: list[dict] | None):
        self.thread_messages, self.reads = thread, 0

    async def learn_thread(self, channel: str, thread_ts: str) -> list[dict] | None:
        self.reads += self.thread_messages is not None
        return self.thread_messages


def reply(ts: str) -> Question:
    return Question("C1", ts, "U1", "sounds good", thread_ts="1.000000")


async def test_a_reply_after_the_bots_answer_is_a_follow_up():
    door = Door([{"ts": "1.000000", "user": "U2"}, {"ts": "2.000000", "user": "UBOT"}])
    threads = Threads(door, LocalState(None), ME)  # type: ignore[arg-type]
    has_bot, thread = await threads.has_bot(reply("3.000000"), allowed=True)
    assert has_bot and thread[-1]["ts"] == "3.000000"


async def test_a_reply_written_before_the_bot_joined_is_not_for_it():
    """Read late (a copy that waited for Slack's budget), the thread already holds the bot's
    answer to a later mention: the earlier reply still was not addressed to the bot."""
    door = Door([{"ts": "1.000000", "user": "U2"}, {"ts": "2.000000", "user": "U3"},
                 {"ts": "4.000000", "bot_id": "BBOT"}])
    threads = Threads(door, LocalState(None), ME)  # type: ignore[arg-type]
    has_bot, _ = await threads.has_bot(reply("2.000000"), allowed=True)
    assert has_bot is False
    # The thread itself is remembered as the bot's: later replies need no read.
    assert await threads.state.thread_has_bot("C1", "1.000000") is True
    assert (await threads.has_bot(reply("5.000000"), allowed=True))[0] is True
    assert door.reads == 1


async def test_a_thread_not_learned_for_want_of_budget_stays_unknown():
    door = Door(None)  # the door keeps the rest of the read budget for answers
    state = LocalState(None)
    threads = Threads(door, state, ME)  # type: ignore[arg-type]
    assert await threads.has_bot(reply("3.000000"), allowed=True) == (False, None)
    assert await state.thread_has_bot("C1", "1.000000") is None  # so a later reply asks again

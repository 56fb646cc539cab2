"""Reading threads within a few pages, however long (#18 item 1): the real door against the
fake Slack, and the pure window arithmetic."""

from __future__ import annotations

from slackgpt.slack import thread_reads
from slackgpt.slack.events import BotIdentity
from slackgpt.slack.thread_reads import bot_wrote, merged, newest_window

ME = BotIdentity("UBOT", "BBOT")


def long_thread(slack, replies: int, *, bot_at: int | None = None) -> dict:
    """A thread of ``replies`` replies a minute apart (and the bot's answer at ``bot_at``)."""
    start = 1_700_000_000
    root = slack.add_message("C1", "ROOT", user="U2", ts=f"{start}.000000")
    for i in range(replies):
        at = start + 60 * (i + 1)
        if i == bot_at:
            slack.add_message("C1", "an answer", user="UBOT", bot_id="BBOT",
                              thread_ts=root["ts"], ts=f"{at - 1}.000000")
        slack.add_message("C1", f"reply {i}", user=f"U{i % 7 + 3}", thread_ts=root["ts"],
                          ts=f"{at}.000000")
    return root


def test_the_window_aims_at_the_newest_replies():
    root = {"ts": "1000.000000", "reply_count": 10_000, "latest_reply": "11000.000000"}
    assert newest_window(root, aim=400) == "10600.000000"  # the last 4 % of the time
    assert newest_window({**root, "reply_count": 300}, aim=400) is None  # it all fits


def test_pages_merge_once_each_oldest_first():
    assert [m["ts"] for m in merged([{"ts": "2.0"}, {"ts": "1.0"}], [{"ts": "2.0"}])] == [
        "1.0", "2.0"
    ]


def test_the_roots_reply_users_tell_whether_the_bot_wrote():
    assert bot_wrote({"reply_users": ["U1", "UBOT"], "reply_users_count": 2}, ME)
    assert not bot_wrote({"reply_users": ["U1", "U2"], "reply_users_count": 2}, ME)
    assert bot_wrote({"reply_users": ["U1"], "reply_users_count": 9}, ME)  # a cut list: look


async def test_a_short_thread_is_one_page(slack, door):
    root = long_thread(slack, 30)
    thread = await thread_reads.read(door, "C1", root["ts"])
    assert len(thread) == 31 and len(slack.calls_to("conversations.replies")) == 1


async def test_a_10000_message_thread_is_its_root_and_newest_replies_in_at_most_3_pages(
    slack, door
):
    root = long_thread(slack, 10_000)
    thread = await thread_reads.read(door, "C1", root["ts"])
    assert len(slack.calls_to("conversations.replies")) <= 3
    assert thread[0]["text"] == "ROOT" and thread[-1]["text"] == "reply 9999"
    texts = [m["text"] for m in thread]
    assert "reply 9700" in texts and "reply 5000" not in texts  # the newest, not the middle
    assert texts == sorted(texts, key=lambda t: int(t.split()[-1]) if t != "ROOT" else -1)


async def test_learning_a_long_thread_the_bot_is_not_in_is_one_page(slack, door):
    root = long_thread(slack, 10_000)
    learned = await thread_reads.learn(door, "C1", root["ts"], ME)
    assert learned is not None and learned[0] is False
    [read] = slack.calls_to("conversations.replies")
    assert read.params["limit"] == "1"


async def test_learning_a_long_thread_the_bot_answered_in_reads_at_most_3_pages(slack, door):
    root = long_thread(slack, 10_000, bot_at=9_999)  # the bot answered the latest question
    learned = await thread_reads.learn(door, "C1", root["ts"], ME)
    assert learned is not None and learned[0] is True
    assert len(slack.calls_to("conversations.replies")) <= 3


async def test_a_thread_from_one_reply_on(slack, door):
    root = slack.add_message("C1", "root")
    replies = [slack.add_message("C1", f"r{i}", thread_ts=root["ts"]) for i in range(5)]
    page = await thread_reads.page_from(door, "C1", root["ts"], replies[1]["ts"], limit=3)
    assert [m["text"] for m in page] == ["r1", "r2", "r3"]
    assert str(slack.calls_to("conversations.replies")[-1].params["inclusive"]) in ("1", "true")
    whole = await thread_reads.page_from(door, "C1", root["ts"], None, limit=50)
    assert len(whole) == 6
    assert "inclusive" not in slack.calls_to("conversations.replies")[-1].params

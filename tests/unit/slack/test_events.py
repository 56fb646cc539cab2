"""Which Slack events are questions, and who wrote a message (pure)."""

from __future__ import annotations

import pytest

from slackgpt.slack.events import (
    BotIdentity,
    from_person,
    is_dm,
    is_dm_question,
    is_follow_up,
    is_own,
    question_from,
)

ME = BotIdentity(user_id="UBOT", bot_id="BBOT", name="gpt")


def event(**fields):
    return {"type": "message", "user": "U1", "text": "hi", "ts": "2.0", "channel": "C1",
            "channel_type": "channel", **fields}


def test_question_from_an_event_keeps_where_and_who():
    body = {"event_id": "Ev1", "team_id": "T1"}
    files = [{"id": "F1"}]
    question = question_from(event(thread_ts="1.0", files=files), body)
    assert (question.channel, question.ts, question.user, question.thread_ts) == (
        "C1", "2.0", "U1", "1.0"
    )
    assert (question.team, question.event_id, question.files) == ("T1", "Ev1", ({"id": "F1"},))
    assert question.target.thread_ts == "1.0"
    assert question_from(event(), body).target.thread_ts == "2.0"  # a new thread under it


def test_a_question_keeps_its_action_token_to_search_as_the_asker():
    assert question_from(event(action_token="1.2.ab"), {}).action_token == "1.2.ab"
    pane = event(assistant_thread={"action_token": "3.4.cd"})
    assert question_from(pane, {}).action_token == "3.4.cd"
    assert question_from(event(assistant_thread="odd"), {}).action_token is None
    assert question_from(event(), {}).action_token is None


def test_own_messages_by_user_or_bot_id():
    assert is_own({"user": "UBOT"}, ME) and is_own({"bot_id": "BBOT"}, ME)
    assert not is_own({"user": "U1"}, ME)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, True),
        ({"subtype": "file_share"}, True),
        ({"subtype": "thread_broadcast"}, True),
        ({"subtype": "message_changed"}, False),
        ({"subtype": "channel_join"}, False),
        ({"bot_id": "B2", "subtype": "bot_message"}, False),
        ({"user": "UBOT"}, False),
        ({"user": ""}, False),
    ],
)
def test_from_person(fields, expected):
    assert from_person(event(**fields), ME) is expected


def test_dms():
    assert is_dm("D1") and not is_dm("C1")
    assert is_dm_question(event(channel="D1", channel_type="im"), ME)
    assert not is_dm_question(event(), ME)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"thread_ts": "1.0"}, True),
        ({}, False),  # not in a thread
        ({"thread_ts": "2.0"}, False),  # the root itself
        ({"thread_ts": "1.0", "text": "<@U2> what do you think?"}, False),  # for someone else
        ({"thread_ts": "1.0", "text": "<@UBOT> and?"}, False),  # comes as app_mention
        ({"thread_ts": "1.0", "channel_type": "im"}, False),  # DMs are answered anyway
    ],
)
def test_follow_ups(fields, expected):
    assert is_follow_up(event(**fields), ME) is expected

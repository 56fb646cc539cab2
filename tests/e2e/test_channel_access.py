"""The channel in view is read for someone only when they could read it themselves (#18 item 4):
a private channel for its members, a public one for anyone, someone else's DM for nobody."""

from __future__ import annotations

import pytest

from fakes.openai import Reply
from tests.helpers import ask, open_pane

pytestmark = pytest.mark.timeout(30)


def everything_the_model_read(llm) -> str:
    return " ".join(str(m["content"]) for m in llm.requests[-1]["messages"])


async def test_a_private_channel_is_not_read_for_someone_outside_it(slack, llm, bot):
    slack.add_channel("G1", name="hr-private", private=True, people=("U2", "U3"))
    slack.add_message("G1", "Salaries are changing on Friday.", user="U2")
    llm.script(Reply(text="I can't see that channel."))
    thread = await open_pane(slack, context_channel="G1", user="U1")

    [answer] = await ask(slack, thread, "What is happening in this channel?")

    assert "Salaries" not in everything_the_model_read(llm)
    assert not slack.calls_to("conversations.history")  # not even read
    assert answer["text"].endswith("_I only read <#G1> for its members, and you aren't one._")


async def test_a_private_channel_is_read_for_its_members(slack, llm, bot):
    slack.add_channel("G1", name="team", private=True, people=("U1", "U2"))
    slack.add_message("G1", "The offsite is in May.", user="U2")
    llm.script(Reply(text="In May."), Reply(text="Still May."))
    thread = await open_pane(slack, context_channel="G1", user="U1")

    await ask(slack, thread, "When is the offsite?")
    assert "The offsite is in May." in everything_the_model_read(llm)
    await ask(slack, thread, "Sure?", count=2)

    assert len(slack.calls_to("conversations.members")) == 1  # kept for a minute
    assert len(slack.calls_to("conversations.info")) == 1


async def test_a_public_channel_is_read_for_anyone_without_asking_who_is_in_it(
    slack, llm, bot
):
    slack.add_channel("C7", name="announcements", people=("U2",))
    slack.add_message("C7", "The new office opens Monday.", user="U2")
    llm.script(Reply(text="Monday."))
    thread = await open_pane(slack, context_channel="C7", user="U1")

    await ask(slack, thread, "When does the office open?")

    assert "The new office opens Monday." in everything_the_model_read(llm)
    assert not slack.calls_to("conversations.members")


async def test_someone_elses_dm_is_never_read(slack, llm, bot):
    llm.script(Reply(text="I can't read that."))
    thread = await open_pane(slack, context_channel="D0OTHER99", user="U1")

    [answer] = await ask(slack, thread, "Summarize this conversation")

    assert not slack.calls_to("conversations.history")
    assert not slack.calls_to("conversations.info")
    assert "I can't read other people's direct messages" in answer["text"]

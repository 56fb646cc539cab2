"""End to end in the agent view (the app's Messages tab, ``features.agent_view``): opening the
tab offers the suggested prompts; the channel a person looks at (``app_context_changed``) is
read for their questions, as the pane's was, only when they could read it themselves; the
first question names the session."""

from __future__ import annotations

import pytest

from fakes.openai import Reply
from slackgpt.config.values import DEFAULT_PROMPTS
from tests.helpers import system_prompt, until_handled, watch

pytestmark = pytest.mark.timeout(30)


async def ask_dm(slack, text: str, user: str = "U1") -> list[dict]:
    """A person's DM to the bot (a thread of its own in the agent view); the finished reply."""
    question = await slack.dm(text, user=user, channel=slack.im_of(user))
    return await slack.answered(question["channel"], question["ts"])


def quoted(request: dict) -> str:
    """The user message of quotes the model got (empty when there is none)."""
    found = [m["content"] for m in request["messages"][1:-1]
             if str(m["content"]).startswith("[Quoted from Slack")]
    return found[0] if found else ""


async def test_opening_the_messages_tab_offers_the_prompts(slack, llm, bot):
    dm = slack.im_of("U1")
    earlier = slack.add_message(dm, "an earlier chat")
    await slack.acked(await slack.open_home("U1"))
    await slack.wait_for(lambda: (dm, earlier["ts"]) in slack.suggested_prompts)
    assert slack.suggested_prompts[(dm, earlier["ts"])].prompts == [
        p.as_dict() for p in DEFAULT_PROMPTS
    ]
    [call] = slack.calls_to("assistant.threads.setSuggestedPrompts")
    assert "thread_ts" not in call.params  # "silently fails" for an agent app with one
    await slack.acked(await slack.open_home("U1", tab="home"))
    assert len(slack.calls_to("assistant.threads.setSuggestedPrompts")) == 1


async def test_no_prompts_configured_sets_none(slack, llm, start_bot):
    bot = await start_bot(suggested_prompts=())
    opened = watch([bot.pane], "home_opened")
    slack.add_message(slack.im_of("U1"), "an earlier chat")
    await slack.acked(await slack.open_home("U1"))
    await until_handled(opened, 1)
    assert not slack.calls_to("assistant.threads.setSuggestedPrompts")


async def test_an_empty_dm_gets_no_prompts_and_answers_all_the_same(slack, llm, bot):
    await slack.acked(await slack.open_home("U3"))
    await slack.wait_for(lambda: slack.calls_to("assistant.threads.setSuggestedPrompts"))
    [call] = slack.calls_to("assistant.threads.setSuggestedPrompts")
    assert call.response["error"] == "message_not_found"  # "the latest message": none yet
    llm.script(Reply(text="Still here."))
    [reply] = await ask_dm(slack, "hello", user="U3")
    assert reply["text"] == "Still here."


async def test_the_channel_in_view_is_read_for_a_question_in_the_agent_view(slack, llm, bot):
    slack.add_channel("C1", name="general")
    slack.add_message("C1", "We ship on Friday.", user="U2")
    await slack.acked(await slack.change_app_context("C1", user="U1"))
    llm.script(Reply(text="Friday."), Reply(text="No channel."))

    [reply] = await ask_dm(slack, "When do we ship?")
    assert reply["text"] == "Friday."
    view = quoted(llm.requests[0])
    assert "<#C1>" in view and "We ship on Friday." in view
    assert "<#" not in system_prompt(llm.requests[0])
    [history] = slack.calls_to("conversations.history")
    assert history.params["channel"] == "C1"

    await slack.acked(await slack.change_app_context(None, user="U1"))
    await ask_dm(slack, "And now?")
    assert quoted(llm.requests[1]) == ""  # looking at nothing Slack names: nothing read
    assert len(slack.calls_to("conversations.history")) == 1


async def test_a_private_channel_in_view_is_read_only_for_its_members(slack, llm, bot):
    slack.add_channel("G1", name="secret", private=True, people=("U2",))
    slack.add_message("G1", "The password is swordfish.", user="U2")
    llm.script(Reply(text="Cannot see it."), Reply(text="Seen."))
    await slack.acked(await slack.change_app_context("G1", user="U1"))  # not a member
    [reply] = await ask_dm(slack, "What is in this channel?")
    assert "swordfish" not in str(llm.requests[0]["messages"])
    assert "cannot read" in system_prompt(llm.requests[0])
    assert reply["text"].startswith("Cannot see it.") and "<#G1>" in reply["text"]
    assert not slack.calls_to("conversations.history")

    await slack.acked(await slack.change_app_context("G1", user="U2"))  # a member
    await ask_dm(slack, "What is in this channel?", user="U2")
    assert "swordfish" in quoted(llm.requests[1])


async def test_each_person_has_their_own_channel_in_view(slack, llm, bot):
    slack.add_channel("C1", name="general")
    slack.add_message("C1", "general chatter", user="U4")
    await slack.acked(await slack.change_app_context("C1", user="U1"))
    llm.script(Reply(text="Nothing in view."))
    await ask_dm(slack, "What's here?", user="U2")
    assert quoted(llm.requests[0]) == ""


async def test_a_reply_in_an_agent_view_thread_reads_the_channel_in_view_too(slack, llm, bot):
    slack.add_channel("C1", name="general")
    slack.add_message("C1", "Lunch at noon.", user="U2")
    llm.script(Reply(text="Hi."), Reply(text="Noon."))
    [first] = await ask_dm(slack, "hi")
    await slack.acked(await slack.change_app_context("C1", user="U1"))
    dm = slack.im_of("U1")
    await slack.dm("When is lunch?", channel=dm, thread_ts=first["thread_ts"])
    await slack.answered(dm, first["thread_ts"], count=2)
    assert "Lunch at noon." in quoted(llm.requests[1])


async def test_the_first_question_names_the_agent_session(slack, llm, bot):
    llm.script(Reply(text="Sure."), Reply(text="Done."))
    question = await slack.dm("Plan the offsite agenda\nwith times", channel=slack.im_of("U1"))
    await slack.answered(question["channel"], question["ts"])
    key = (question["channel"], question["ts"])
    await slack.wait_for(lambda: slack.session_statuses(*key)[-1:] == ["active"])
    assert slack.sessions[key].title == "Plan the offsite agenda"
    await slack.dm("Shorter please", channel=question["channel"], thread_ts=question["ts"])
    await slack.answered(question["channel"], question["ts"], count=2)
    assert slack.sessions[key].title == "Plan the offsite agenda"
    assert not slack.calls_to("assistant.threads.setTitle")  # pane threads only

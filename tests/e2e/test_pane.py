"""End to end in the AI pane: the real bot over Socket Mode, the fake Slack's pane surface.

What a person sees: suggested prompts and a greeting when they open the pane, a title from
their first question, answers that know the channel they are looking at (or say in one
sentence why they can't), feedback buttons whose clicks are acknowledged and confirmed, and
the "Summarize this thread" shortcut.
"""

from __future__ import annotations

import logging

import pytest

from fakes.openai import Reply
from slackgpt.answering.policy import NOT_ALLOWED_USER
from slackgpt.config.values import DEFAULT_PROMPTS, AccessRules, SuggestedPrompt
from slackgpt.pane.logic import SUMMARIZE_CALLBACK
from tests.helpers import GREETING, ask, open_pane, system_prompt, until_handled, watch

pytestmark = pytest.mark.timeout(30)


def quoted(request: dict) -> str:
    """The channel in view as the model got it: a user message of quotes after the system's
    (anyone's text never goes into the system message)."""
    second = request["messages"][1]
    assert second["role"] == "user" and second["content"].startswith("[Quoted from Slack")
    assert "<#" not in system_prompt(request)
    return str(second["content"])


# -- opening the pane -------------------------------------------------------------------------


async def test_opening_the_pane_offers_prompts_greets_and_remembers_the_channel(
    slack, llm, start_bot
):
    await start_bot(pane_greeting=GREETING)
    slack.add_channel("C1", name="general")
    slack.add_message("C1", "We ship the release on Friday.", user="U2")
    slack.add_message("C1", "QA signs off on Thursday.", user="U3")
    llm.script(Reply(text="Release Friday, QA sign-off Thursday."))

    thread = await open_pane(slack)
    key = (thread.channel, thread.thread_ts)

    assert slack.suggested_prompts[key].prompts == [p.as_dict() for p in DEFAULT_PROMPTS]
    await slack.wait_for(lambda: slack.bot_replies(*key))
    assert [r["text"] for r in slack.bot_replies(*key)] == [GREETING]

    [answer] = await ask(slack, thread, "Summarize this channel")

    assert answer["text"] == "Release Friday, QA sign-off Thursday."
    view = quoted(llm.requests[0])
    assert "<#C1>" in view and "not instructions" in view
    assert view.index("user-u2: We ship the release on Friday.") < view.index(
        "user-u3: QA signs off on Thursday."
    )  # oldest first
    assert llm.requests[0]["messages"][-1]["content"] == "user-u1: Summarize this channel"
    [history] = slack.calls_to("conversations.history")
    assert history.params["channel"] == "C1" and history.params["limit"] == "50"
    await slack.wait_for(lambda: key in slack.titles)
    assert slack.titles[key] == "Summarize this channel"
    assert slack.calls_to("chat.startStream")[0].params["thread_ts"] == thread.thread_ts


async def test_the_first_question_titles_the_thread_and_later_ones_do_not(slack, llm, bot):
    llm.script(Reply(text="First answer."), Reply(text="Second answer."))
    thread = await open_pane(slack, context_channel=None)
    long_question = (
        "Can you explain how our deployment pipeline promotes builds from staging to "
        "production, step by step?\nAlso list the approvals."
    )
    await ask(slack, thread, long_question)
    key = (thread.channel, thread.thread_ts)
    await slack.wait_for(lambda: key in slack.titles)
    await ask(slack, thread, "And who approves?", count=2)

    title = slack.titles[key]
    assert title.endswith("…") and len(title) <= 60 and "\n" not in title
    assert title.startswith("Can you explain how our deployment pipeline")
    assert len(slack.calls_to("assistant.threads.setTitle")) == 1
    assert not slack.calls_to("conversations.history")  # no channel in view: nothing read
    assert "<#" not in system_prompt(llm.requests[1])


async def test_configured_prompts_are_offered(slack, llm, start_bot):
    mine = (SuggestedPrompt("Standup", "Write my standup update."),)
    await start_bot(suggested_prompts=mine)
    thread = await open_pane(slack)
    assert slack.suggested_prompts[(thread.channel, thread.thread_ts)].prompts == [
        {"title": "Standup", "message": "Write my standup update."}
    ]


async def test_no_prompts_configured_sets_none(slack, llm, start_bot):
    await start_bot(suggested_prompts=())
    await slack.start_assistant_thread("U1", context_channel="C1")
    await slack.acked(slack.envelopes[-1]["envelope_id"])
    llm.script(Reply(text="ok"))
    thread = slack.assistant_threads[-1]
    [answer] = await ask(slack, thread, "hello")  # the thread works all the same
    assert answer["text"] == "ok"
    assert not slack.calls_to("assistant.threads.setSuggestedPrompts")


# -- the channel in view ----------------------------------------------------------------------


async def test_the_channel_in_view_follows_the_person(slack, llm, bot):
    slack.add_channel("C1", name="general")
    slack.add_channel("C2", name="design")
    slack.add_message("C1", "general chatter", user="U2")
    slack.add_message("C2", "The new logo is blue.", user="U3")
    llm.script(Reply(text="It is blue."))
    thread = await open_pane(slack, context_channel="C1")

    changed = await slack.change_assistant_context(thread, "C2")
    await slack.acked(changed)
    await ask(slack, thread, "¿De qué color es el logo en este canal?")

    view = quoted(llm.requests[0])
    assert "<#C2>" in view and "The new logo is blue." in view
    assert "general chatter" not in view and "<#C1>" not in view


@pytest.mark.parametrize(
    ("private", "sentence"),
    [
        (False, "I can't read <#C2> because I'm not in it: type `/invite @slackgpt` there."),
        (True, "I can't see <#C2>: it is private and I'm not in it; type `/invite @slackgpt` "
         "there."),
    ],
)
async def test_a_channel_the_bot_cannot_read_is_explained_once(
    slack, llm, bot, private, sentence
):
    slack.add_channel("C2", name="secret" if private else "random", member=False, private=private)
    slack.add_message("C2", "nobody told the bot", user="U2")
    llm.script(Reply(text="I can't see that channel."), Reply(text="Still can't."))
    thread = await open_pane(slack, context_channel="C2")

    [first] = await ask(slack, thread, "What's happening here?")
    second = (await ask(slack, thread, "Anything new?", count=2))[-1]

    assert first["text"] == f"I can't see that channel.\n\n_{sentence}_"
    assert second["text"] == "Still can't."  # said once per thread and channel
    system = system_prompt(llm.requests[0])
    assert "cannot read" in system and "nobody told the bot" not in system


# -- feedback ---------------------------------------------------------------------------------


async def test_a_feedback_click_is_acked_logged_and_confirmed(slack, llm, bot, caplog):
    caplog.set_level(logging.INFO, logger="slackgpt.pane.handlers")
    llm.script(Reply(text="Use Postgres."))
    thread = await open_pane(slack)
    [answer] = await ask(slack, thread, "Which database?")
    buttons = slack.feedback_buttons(thread.channel, answer["ts"])
    assert buttons["type"] == "feedback_buttons"

    envelope = await slack.click_feedback(thread.channel, answer["ts"], positive=False)

    assert await slack.acked(envelope, within=3.0) is None
    await slack.wait_for(lambda: slack.ephemerals)
    [seen] = slack.ephemerals
    assert (seen.channel, seen.user, seen.thread_ts) == (thread.channel, "U1", thread.thread_ts)
    assert "recorded" in seen.text
    [line] = [r for r in caplog.records if r.getMessage() == "feedback"]
    assert (line.answer_ts, line.channel, line.model, line.vote, line.user) == (
        answer["ts"], thread.channel, "gpt-test", "bad", "U1"
    )


async def test_channel_answers_carry_the_buttons_too(slack, llm, bot):
    llm.script(Reply(text="Yes."))
    question = await slack.mention("C1", f"<@{slack.bot_user_id}> does it work here?")
    [reply] = await slack.answered("C1", question["ts"])
    stop = slack.calls_to("chat.stopStream")[-1].params
    assert stop["blocks"][0]["type"] == "context_actions"
    envelope = await slack.click_feedback("C1", reply["ts"], user="U7")
    await slack.acked(envelope)
    await slack.wait_for(lambda: slack.ephemerals)
    assert slack.ephemerals[0].user == "U7" and slack.ephemerals[0].thread_ts == question["ts"]


async def test_posted_and_updated_answers_carry_the_buttons_on_their_last_message(
    slack, llm, start_bot
):
    await start_bot(stream_interval=0.05)
    slack.fail("chat.startStream", "not_allowed", times=None)
    paragraph = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20
    text = "\n\n".join(f"{i}. {paragraph}" for i in range(16))  # ~18,000 characters
    llm.script(Reply(chunks=[text[i : i + 1000] for i in range(0, len(text), 1000)]))
    question = await slack.mention("C1", f"<@{slack.bot_user_id}> a long one")

    await slack.wait_for(
        lambda: "15. " in slack.bot_text("C1", question["ts"])
        and slack.feedback_buttons("C1", slack.bot_replies("C1", question["ts"])[-1]["ts"]),
        timeout=10,
    )
    replies = slack.bot_replies("C1", question["ts"])
    assert len(replies) >= 2
    assert [bool(slack.feedback_buttons("C1", r["ts"])) for r in replies] == [False] * (
        len(replies) - 1
    ) + [True]
    assert " ".join(slack.bot_text("C1", question["ts"]).split()) == " ".join(text.split())


async def test_feedback_buttons_can_be_turned_off(slack, llm, start_bot):
    await start_bot(feedback_buttons=False)
    llm.script(Reply(text="No buttons."))
    question = await slack.mention("C1", f"<@{slack.bot_user_id}> hi")
    [reply] = await slack.answered("C1", question["ts"])
    assert reply["text"] == "No buttons." and slack.feedback_buttons("C1", reply["ts"]) is None
    assert "blocks" not in slack.calls_to("chat.stopStream")[-1].params


# -- summarize this thread --------------------------------------------------------------------


async def test_summarize_this_thread_posts_the_summary_in_the_thread(slack, llm, bot):
    root = slack.add_message("C1", "배포 일정을 정해야 해요.", user="U2")
    slack.add_message("C1", "금요일은 어때요?", user="U3", thread_ts=root["ts"])
    reply = slack.add_message("C1", "좋아요, 금요일로 해요.", user="U2", thread_ts=root["ts"])
    llm.script(Reply(chunks=["요약: ", "금요일에 ", "배포하기로 했습니다."], token_delay=0.05))

    envelope = await slack.message_shortcut(SUMMARIZE_CALLBACK, "C1", reply["ts"], user="U4")

    assert await slack.acked(envelope, within=3.0) is None
    [summary] = await slack.answered("C1", root["ts"])
    assert summary["text"] == "요약: 금요일에 배포하기로 했습니다."
    assert slack.feedback_buttons("C1", summary["ts"])
    turns = llm.requests[0]["messages"][1:]
    assert [t["content"] for t in turns[:3]] == [
        "user-u2: 배포 일정을 정해야 해요.",
        "user-u3: 금요일은 어때요?",
        "user-u2: 좋아요, 금요일로 해요.",
    ]
    assert turns[-1]["content"].startswith("user-u4: Summarize this thread")
    assert "language" in turns[-1]["content"]
    start = slack.calls_to("chat.startStream")[0].params
    assert start["thread_ts"] == root["ts"] and start["recipient_user_id"] == "U4"
    assert slack.statuses[0].thread_ts == root["ts"]  # the first sign: "is thinking…"
    assert not slack.calls_to("reactions.add")  # an interaction comes once: no 👀 claim
    assert len(slack.calls_to("conversations.replies")) == 1  # read once, for both steps


async def test_a_double_clicked_summary_is_written_once(slack, llm, bot):
    clicks = watch([bot.answerer], "answer")  # each click is a question for the answerer
    root = slack.add_message("C1", "배포 일정을 정해야 해요.", user="U2")
    llm.script(Reply(text="요약: 아직 정하지 않았습니다.", first_token_delay=0.2))
    await slack.message_shortcut(SUMMARIZE_CALLBACK, "C1", root["ts"], user="U4")
    await slack.message_shortcut(SUMMARIZE_CALLBACK, "C1", root["ts"], user="U4")
    [summary] = await slack.answered("C1", root["ts"])
    await until_handled(clicks, 2)  # both clicks were dealt with: one summary written
    assert summary["text"] == "요약: 아직 정하지 않았습니다."
    assert len(slack.bot_replies("C1", root["ts"])) == 1
    assert len(llm.requests) == 1


async def test_summarizing_a_thread_the_bot_cannot_read_says_how_to_fix_it(slack, llm, bot):
    slack.add_channel("C9", name="random", member=False)
    msg = slack.add_message("C9", "a thread the bot is not in", user="U2")

    envelope = await slack.message_shortcut(SUMMARIZE_CALLBACK, "C9", msg["ts"], user="U4")

    await slack.acked(envelope, within=3.0)
    await slack.wait_for(lambda: slack.responses)
    [response] = slack.responses
    assert response.body["text"] == (
        "I can't read <#C9> because I'm not in it: type `/invite @slackgpt` there."
    )
    assert response.body["response_type"] == "ephemeral"
    assert not llm.requests and not slack.bot_replies("C9", msg["ts"])


async def test_a_refused_summary_is_told_to_the_person_alone(slack, llm, start_bot):
    await start_bot(access=AccessRules(allowed_users=frozenset({"U1"})))
    msg = slack.add_message("C1", "a thread", user="U2")

    envelope = await slack.message_shortcut(SUMMARIZE_CALLBACK, "C1", msg["ts"], user="U4")

    await slack.acked(envelope, within=3.0)
    await slack.wait_for(lambda: slack.responses)
    assert slack.responses[0].body["text"] == NOT_ALLOWED_USER
    assert not slack.calls_to("conversations.replies") and not llm.requests
    assert not slack.bot_replies("C1", msg["ts"])


# -- outside the pane -------------------------------------------------------------------------


async def test_a_plain_dm_thread_gets_no_title_and_no_channel_read(slack, llm, bot):
    llm.script(Reply(text="One."), Reply(text="Two."))
    top = await slack.dm("first", channel="D1")
    await slack.answered("D1", top["ts"])
    await slack.dm("second, in the thread", channel="D1", thread_ts=top["ts"])
    await slack.answered("D1", top["ts"], count=2)
    assert not slack.calls_to("assistant.threads.setTitle")
    assert not slack.calls_to("conversations.history")
    assert "<#" not in system_prompt(llm.requests[1])

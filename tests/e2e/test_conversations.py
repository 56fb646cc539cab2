"""End to end: follow-ups, other bots, files, long threads, access rules and usage."""

from __future__ import annotations

from fakes.openai import Reply
from slackgpt.config.values import AccessRules
from tests.helpers import PNG, thread_reply, until_handled, watch

CHANNEL = "C1"


async def told(slack, user: str, count: int = 1) -> list[str]:
    """What only ``user`` was shown (ephemeral messages), once there are ``count``."""
    await slack.wait_for(lambda: len([e for e in slack.ephemerals if e.user == user]) >= count)
    return [e.text for e in slack.ephemerals if e.user == user]


# Follow-ups ---------------------------------------------------------------------------------


async def test_follow_up_in_the_bots_thread_needs_no_mention(slack, llm, bot):
    llm.script(Reply(text="Paris."), Reply(text="About 2.1 million."))
    root = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> capital of France?")
    await slack.answered(CHANNEL, root["ts"])

    await thread_reply(slack, root, "and its population?")

    replies = await slack.answered(CHANNEL, root["ts"], count=2)
    assert replies[-1]["text"] == "About 2.1 million."
    assert [m["role"] for m in llm.requests[1]["messages"]] == [
        "system", "user", "assistant", "user",
    ]
    assert llm.requests[1]["messages"][-1]["content"] == "user-u1: and its population?"


async def test_thread_the_bot_is_not_part_of_is_left_alone(slack, llm, bot):
    handled = watch([bot.answerer], "answer")
    root = slack.add_message(CHANNEL, "lunch?", user="U2")
    await thread_reply(slack, root, "sure, noon")
    await until_handled(handled, 1)  # looked at, and left
    assert not llm.requests and not slack.bot_replies(CHANNEL, root["ts"])
    # The bot only looked: nothing visible (no status, no reaction) in someone else's thread.
    start_up = {"auth.test", "apps.connections.open", "assistant.search.info"}
    assert {c.method for c in slack.calls} <= start_up | {"conversations.replies"}


async def test_follow_ups_cost_no_thread_read_per_human_reply(slack, llm, bot):
    """The bot remembers the threads it is in and the ones it is not."""
    handled = watch([bot.answerer], "answer")
    llm.script(Reply(text="Paris."), Reply(text="Big."))
    ours = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> capital of France?")
    await slack.answered(CHANNEL, ours["ts"])
    reads_after_answer = len(slack.calls_to("conversations.replies"))
    await thread_reply(slack, ours, "<@U2> nice, right?")  # for someone else: no read
    await thread_reply(slack, ours, "how big is it?")  # a follow-up: read only to answer
    await slack.answered(CHANNEL, ours["ts"], count=2)
    assert len(slack.calls_to("conversations.replies")) == reads_after_answer + 1

    theirs = slack.add_message(CHANNEL, "lunch?", user="U2")
    for text in ("sure", "noon?", "ok"):
        await thread_reply(slack, theirs, text)
    await until_handled(handled, 5)  # the reply to U2 is no question: the other five were
    learned = [c for c in slack.calls_to("conversations.replies") if c.params["ts"] == theirs["ts"]]
    assert len(learned) == 1  # learned once that the bot is not in it
    assert len(llm.requests) == 2


async def test_a_refused_persons_thread_reply_costs_no_read(slack, llm, start_bot):
    bot = await start_bot(access=AccessRules(allowed_users=frozenset({"U1"})))
    handled = watch([bot.answerer], "answer")
    calls = len(slack.calls)
    root = slack.add_message(CHANNEL, "a thread the bot has never seen", user="U2")
    await thread_reply(slack, root, "anyone?", user="U2")
    await until_handled(handled, 1)
    assert len(slack.calls) == calls and not llm.requests  # no read, nothing said


async def test_follow_up_addressed_to_someone_else_is_left_alone(slack, llm, bot):
    handled = watch([bot.answerer], "answer")
    root = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> hi")
    await slack.answered(CHANNEL, root["ts"])
    await thread_reply(slack, root, "<@U2> what do you think?")
    # A follow-up sent after it is answered: had the reply to U2 been taken as a question,
    # it would have been taken first (events are handled in the order they come).
    await thread_reply(slack, root, "and you, bot?")
    await slack.answered(CHANNEL, root["ts"], count=2)
    await until_handled(handled, 2)
    assert len(llm.requests) == 2
    assert llm.requests[1]["messages"][-1]["content"] == "user-u1: and you, bot?"


async def test_mention_sent_as_app_mention_and_message_is_answered_once(slack, llm, bot):
    handled = watch([bot.answerer], "answer")
    root = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> first")
    await slack.answered(CHANNEL, root["ts"])
    text = f"<@{slack.bot_user_id}> second"
    msg = slack.add_message(CHANNEL, text, thread_ts=root["ts"])
    event = {"type": "message", "user": "U1", "text": text, "ts": msg["ts"],
             "thread_ts": root["ts"], "channel": CHANNEL, "channel_type": "channel",
             "event_ts": msg["ts"], "team": slack.team_id}
    await slack.send_event(event)
    await slack.send_event({**event, "type": "app_mention"})
    await slack.answered(CHANNEL, root["ts"], count=2)
    await until_handled(handled, 2)  # the message event was no question of its own
    assert len(llm.requests) == 2
    assert len(slack.bot_replies(CHANNEL, root["ts"])) == 2


async def test_other_bots_are_context_never_triggers(slack, llm, bot):
    handled = watch([bot.answerer], "answer")
    root = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> is the build green?")
    await slack.answered(CHANNEL, root["ts"])
    deploy = slack.add_message(CHANNEL, "Build #42 failed", user="U9", bot_id="B9",
                               thread_ts=root["ts"])
    await slack.send_event(
        {"type": "message", "subtype": "bot_message", "bot_id": "B9", "text": "Build #42 failed",
         "ts": deploy["ts"], "thread_ts": root["ts"], "channel": CHANNEL,
         "channel_type": "channel"}
    )
    await slack.send_event(
        {"type": "app_mention", "bot_id": "B9", "user": "U9", "text": f"<@{slack.bot_user_id}> hi",
         "ts": deploy["ts"], "channel": CHANNEL}
    )
    # The person's follow-up comes after the two bot events: had either been taken as a
    # question, it would have been taken first (events are handled in the order they come).
    await thread_reply(slack, root, "why did it fail?")
    await slack.answered(CHANNEL, root["ts"], count=2)
    await until_handled(handled, 2)
    assert len(llm.requests) == 2
    contents = [m["content"] for m in llm.requests[1]["messages"]]
    assert "B9 (bot): Build #42 failed" in contents


# Files --------------------------------------------------------------------------------------


async def test_text_file_is_given_to_the_model_with_its_name(slack, llm, bot):
    csv = slack.add_file("sales.csv", b"month,total\nJan,10\nFeb,12\n", "text/csv")
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> sum it", files=[csv])
    await slack.answered(CHANNEL, question["ts"])
    content = llm.requests[0]["messages"][-1]["content"]
    assert isinstance(content, str)
    assert "user-u1: sum it" in content and "sales.csv" in content and "Feb,12" in content
    assert slack.downloads == [csv["id"]]


async def test_image_goes_to_the_model_as_image_input(slack, llm, bot):
    image = slack.add_file("chart.png", PNG, "image/png")
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> what is this?",
                                   files=[image])
    await slack.answered(CHANNEL, question["ts"])
    parts = llm.requests[0]["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "user-u1: what is this?"}
    assert parts[1]["type"] == "image_url"
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")


async def test_images_off_and_oversized_files_get_a_note_not_a_failure(slack, llm, start_bot):
    await start_bot(model_images=False)
    llm.script(Reply(text="Here is what I can say."))
    image = slack.add_file("photo.png", PNG, "image/png")
    huge = {**slack.add_file("dump.log", b"x", "text/plain"), "size": 50_000_000}
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> look", files=[image, huge])
    replies = await slack.answered(CHANNEL, question["ts"])
    text = replies[0]["text"]
    assert text.startswith("Here is what I can say.")
    assert "photo.png" in text and "dump.log" in text
    assert isinstance(llm.requests[0]["messages"][-1]["content"], str)
    assert slack.downloads == []


async def test_files_alone_are_a_question(slack, llm, bot):
    note = slack.add_file("todo.md", "# 할 일\n- 보고서".encode(), "text/markdown")
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}>", files=[note])
    await slack.answered(CHANNEL, question["ts"])
    assert "할 일" in llm.requests[0]["messages"][-1]["content"]


# Long threads -------------------------------------------------------------------------------


async def test_thread_over_budget_drops_the_oldest_turns_and_says_so(slack, llm, start_bot):
    await start_bot(context_tokens=1500)
    root = slack.add_message(CHANNEL, "ROOT: we are planning the offsite.")
    for i in range(30):
        slack.add_message(CHANNEL, f"message {i}: " + "details " * 40, user="U2",
                          thread_ts=root["ts"])
    llm.script(Reply(text="Summary."))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> NEWEST: summarize",
                                   thread_ts=root["ts"])
    replies = await slack.answered(CHANNEL, root["ts"])
    contents = [m["content"] for m in llm.requests[0]["messages"]]
    assert "ROOT" in contents[1] and "NEWEST" in contents[-1]
    assert "message 0:" not in " ".join(contents) and "message 29:" in " ".join(contents)
    assert replies[0]["text"].startswith("Summary.")
    assert "earlier messages of this thread" in replies[0]["text"]
    assert question["thread_ts"] == root["ts"]


# Access and cost ----------------------------------------------------------------------------


async def test_denied_user_and_channel_get_a_polite_no(slack, llm, start_bot):
    rules = AccessRules(allowed_users=frozenset({"U1"}), allowed_channels=frozenset({"C1"}))
    await start_bot(access=rules)
    stranger = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> hi", user="U2")
    await slack.mention("C2", f"<@{slack.bot_user_id}> hi", user="U1")
    assert "only answer the people" in (await told(slack, "U2"))[0]
    assert "don't answer in this channel" in (await told(slack, "U1"))[0]
    assert [e.thread_ts for e in slack.ephemerals if e.user == "U2"] == [stranger["ts"]]
    assert not llm.requests
    assert not slack.calls_to("reactions.add") and not slack.calls_to("chat.postMessage")


async def test_a_stranger_chatting_in_the_bots_thread_is_told_once_privately(
    slack, llm, start_bot
):
    """Refusals cost no 👀 and no public message; a reply is refused once, then ignored."""
    await start_bot(access=AccessRules(allowed_users=frozenset({"U1"})))
    root = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> hello")
    await slack.answered(CHANNEL, root["ts"])
    for text in ("what do you think?", "and this?", "anyone?"):
        await thread_reply(slack, root, text, user="U2")
    assert "only answer the people" in (await told(slack, "U2"))[0]
    await thread_reply(slack, root, "thanks!", user="U1")  # an allowed reply is answered...
    await slack.answered(CHANNEL, root["ts"], count=2)
    assert len([e for e in slack.ephemerals if e.user == "U2"]) == 1  # ...the stranger's: once
    assert len(slack.calls_to("reactions.add")) == 2  # the two answers, no refusal
    assert len(llm.requests) == 2


async def test_user_over_the_hourly_limit_is_told_when_to_come_back(slack, llm, start_bot):
    await start_bot(access=AccessRules(requests_per_hour=2))
    for i in range(2):
        question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> q{i}")
        await slack.answered(CHANNEL, question["ts"])
    await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> q2")
    [refusal] = await told(slack, "U1")
    assert len(llm.requests) == 2
    assert "limit of 2 questions an hour" in refusal and "ask again in about" in refusal
    other = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> me too", user="U2")
    await slack.answered(CHANNEL, other["ts"])
    assert len(llm.requests) == 3


async def test_channel_prompt_and_usage_footer(slack, llm, start_bot):
    from slackgpt.config.profiles import Profile, from_channel_prompts

    pirate = from_channel_prompts({"C1": "Answer like a pirate."}, Profile())  # CHANNEL_PROMPTS
    await start_bot(profiles=pirate, show_usage=True)
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> hello")
    replies = await slack.answered(CHANNEL, question["ts"])
    assert "Answer like a pirate." in llm.requests[0]["messages"][0]["content"]
    assert "gpt-test ·" in replies[0]["text"] and "tokens" in replies[0]["text"]

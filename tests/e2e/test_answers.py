"""End to end: the real bot over Socket Mode against the fake Slack and the fake OpenAI."""

from __future__ import annotations

import pytest

from fakes.openai import Reply
from slackgpt.answering.stream import STATUS

CHANNEL = "C1"






async def test_channel_mention_streams_the_answer_into_its_thread(slack, llm, bot):
    llm.script(Reply(chunks=["Socket Mode ", "keeps a ", "**websocket** open."], token_delay=0.1))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> what is Socket Mode?")

    replies = await slack.answered(CHANNEL, question["ts"])

    assert [r["text"] for r in replies] == ["Socket Mode keeps a **websocket** open."]
    # The model saw the system prompt and the question without the mention.
    request = llm.requests[0]
    assert request["model"] == "gpt-test"
    assert request["stream"] is True
    assert request["messages"][0]["role"] == "system"
    assert request["messages"][-1] == {"role": "user", "content": "user-u1: what is Socket Mode?"}
    assert "temperature" not in request and "max_completion_tokens" not in request
    # The thread first showed the bot working, then streamed (no per-token updates).
    methods = [c.method for c in slack.calls if c.method != "auth.test"]
    assert methods.index("assistant.threads.setStatus") < methods.index("chat.startStream")
    assert slack.statuses[0].status == STATUS
    assert slack.statuses[0].thread_ts == question["ts"]
    start = slack.calls_to("chat.startStream")[0].params
    assert start["thread_ts"] == question["ts"]
    assert start["recipient_user_id"] == "U1" and start["recipient_team_id"] == slack.team_id
    assert start["markdown_text"] == "Socket Mode "  # the first words go out at once
    assert not slack.calls_to("chat.update")
    assert len(slack.calls_to("chat.stopStream")) == 1


async def test_korean_question_gets_korean_answer(slack, llm, bot):
    llm.script(Reply(text="슬랙은 팀 협업 도구입니다."))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> 슬랙이 뭐야? 한국어로 답해줘")

    replies = await slack.answered(CHANNEL, question["ts"])

    assert replies[0]["text"] == "슬랙은 팀 협업 도구입니다."
    messages = llm.requests[0]["messages"]
    assert messages[-1]["content"] == "user-u1: 슬랙이 뭐야? 한국어로 답해줘"
    assert "language" in messages[0]["content"]


async def test_mention_inside_a_thread_sends_the_whole_thread(slack, llm, bot):
    slack.page_size = 2  # forces conversations.replies pagination
    root = slack.add_message(CHANNEL, "We should pick a database.", user="U1")
    slack.add_message(CHANNEL, "Postgres?", user="U2", thread_ts=root["ts"])
    slack.add_message(CHANNEL, "Earlier answer.", user=slack.bot_user_id, thread_ts=root["ts"],
                      bot_id=slack.bot_id)
    slack.add_message(CHANNEL, "<@U3> thoughts?", user="U2", thread_ts=root["ts"])
    llm.script(Reply(text="Postgres is a solid default."))

    question = await slack.mention(
        CHANNEL, f"<@{slack.bot_user_id}> which one, and why?", user="U3", thread_ts=root["ts"]
    )
    await slack.wait_for(lambda: len(slack.bot_replies(CHANNEL, root["ts"])) == 2)
    await slack.answered(CHANNEL, root["ts"], count=2)

    assert llm.requests[0]["messages"][1:] == [
        {"role": "user", "content": "user-u1: We should pick a database."},
        {"role": "user", "content": "user-u2: Postgres?"},
        {"role": "assistant", "content": "Earlier answer."},
        {"role": "user", "content": "user-u2: @user-u3 thoughts?"},
        {"role": "user", "content": "user-u3: which one, and why?"},
    ]
    assert len(slack.calls_to("conversations.replies")) >= 3
    assert slack.bot_replies(CHANNEL, root["ts"])[-1]["text"] == "Postgres is a solid default."
    assert slack.calls_to("chat.startStream")[-1].params["thread_ts"] == root["ts"]
    assert question["ts"] != root["ts"]


async def test_dm_is_answered_in_a_thread_without_a_mention(slack, llm, bot):
    llm.script(Reply(text="Hello there!"))
    message = await slack.dm("hi, can you help?", channel="D1")

    replies = await slack.answered("D1", message["ts"])

    assert replies[0]["text"] == "Hello there!"
    assert llm.requests[0]["messages"][-1]["content"] == "user-u1: hi, can you help?"
    start = slack.calls_to("chat.startStream")[0].params
    assert start["channel"] == "D1" and start["thread_ts"] == message["ts"]


async def test_dm_edits_and_bot_messages_are_not_answered(slack, llm, bot):
    llm.script(Reply(text="only once"))
    await slack.send_event(
        {"type": "message", "subtype": "message_changed", "channel": "D1", "channel_type": "im",
         "ts": "5.0", "message": {"text": "edited"}}
    )
    await slack.send_event(
        {"type": "message", "channel": "D1", "channel_type": "im", "ts": "6.0",
         "bot_id": "B9", "text": "from a bot"}
    )
    message = await slack.dm("real question", channel="D1")
    await slack.answered("D1", message["ts"])
    assert len(llm.requests) == 1
    assert len(slack.acks) == 3  # every event is acknowledged, answered or not


async def test_empty_mention_gets_a_hint_without_calling_the_model(slack, llm, bot):
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}>   ")

    await slack.wait_for(lambda: slack.ephemerals)

    assert "Ask me something" in slack.ephemerals[0].text  # only the asker sees the hint
    assert slack.ephemerals[0].thread_ts == question["ts"]
    assert llm.requests == [] and not slack.bot_replies(CHANNEL, question["ts"])


async def test_streaming_refused_falls_back_to_post_and_update(slack, llm, start_bot):
    await start_bot(stream_interval=0.3)
    slack.fail("chat.startStream", "not_allowed", times=None)
    words = [f"word{i} " for i in range(30)]
    llm.script(Reply(chunks=["# Title\n\n", *words, "\n\n**done**"], token_delay=0.05))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> write a lot")

    await slack.wait_for(lambda: llm.requests and slack.calls_to("chat.postMessage"))
    await slack.wait_for(
        lambda: slack.bot_text(CHANNEL, question["ts"]).endswith("**done**"), timeout=8
    )

    expected = "# Title\n\n" + "".join(words) + "\n\n**done**"
    assert slack.bot_text(CHANNEL, question["ts"]) == expected
    post = slack.calls_to("chat.postMessage")[0].params
    assert post["blocks"][0]["type"] == "markdown"  # standard Markdown, rendered by Slack
    final_text = slack.calls_to("chat.update")[-1].params["text"]
    assert "*Title*" in final_text  # mrkdwn for notifications and old clients
    updates = slack.calls_to("chat.update")
    assert 1 <= len(updates) <= 8  # paced, not one per token (the gaps: bench's update_gap_*)


async def test_long_answer_is_split_across_messages(slack, llm, bot):
    paragraph = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20
    text = "\n\n".join(f"{i}. {paragraph}" for i in range(30))  # ~35,000 characters
    llm.script(Reply(chunks=[text[i : i + 500] for i in range(0, len(text), 500)]))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> a long essay please")

    await slack.wait_for(
        lambda: llm.requests
        and slack.calls_to("chat.stopStream")
        and not any(m["streaming"] for m in slack.bot_replies(CHANNEL, question["ts"]))
        and "29. " in slack.bot_text(CHANNEL, question["ts"]),
        timeout=10,
    )
    replies = slack.bot_replies(CHANNEL, question["ts"])
    assert len(replies) >= 3
    assert all(len(r["text"]) <= 12_000 for r in replies)
    assert " ".join(slack.bot_text(CHANNEL, question["ts"]).split()) == " ".join(text.split())


async def test_the_bot_never_pings_everyone(slack, llm, bot):
    llm.script(Reply(chunks=["Sure, <!chan", "nel> and @here ", "will be told."]))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> announce it")
    replies = await slack.answered(CHANNEL, question["ts"])
    assert "<!channel>" not in replies[0]["text"]
    assert "@\u2060channel" in replies[0]["text"] and "@\u2060here" in replies[0]["text"]


async def test_redelivered_event_is_answered_once(slack, llm, bot):
    llm.script(Reply(text="one answer", first_token_delay=0.3))
    message = slack.add_message(CHANNEL, f"<@{slack.bot_user_id}> once please")
    event = {"type": "app_mention", "user": "U1", "text": message["text"], "ts": message["ts"],
             "channel": CHANNEL, "event_ts": message["ts"], "team": slack.team_id}
    await slack.send_event(event, event_id="Ev1")
    await slack.send_event(event, event_id="Ev1", retry_attempt=1, retry_reason="timeout")
    await slack.answered(CHANNEL, message["ts"])
    await slack.wait_for(lambda: len(slack.acks) == 2)
    assert len(llm.requests) == 1
    assert len(slack.bot_replies(CHANNEL, message["ts"])) == 1


@pytest.mark.parametrize("temperature", [0.2])
async def test_configured_parameters_are_sent(slack, llm, start_bot, temperature):
    await start_bot(temperature=temperature, max_completion_tokens=321, system_prompt="Be terse.")
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> hi")
    await slack.answered(CHANNEL, question["ts"])
    request = llm.requests[0]
    assert request["temperature"] == temperature
    assert request["max_completion_tokens"] == 321
    assert request["messages"][0] == {"role": "system", "content": "Be terse."}

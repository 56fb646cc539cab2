"""End to end: the model calls tools (Slack search, a linked message, tools added to the bot's
toolkit) and the answer shows each step, against the fake Slack and the fake model."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import pytest

from fakes.openai import Call, Reply
from slackgpt.answering.prompt import STOPPED
from slackgpt.tools.base import Asker, Source, ToolResult
from tests.helpers import until_handled, watch

pytestmark = pytest.mark.timeout(30)

CHANNEL = "C1"


def tool_messages(request: dict) -> list[dict]:
    return [m for m in request["messages"] if m.get("role") == "tool"]


def seen_by_model(llm) -> str:
    """Everything the model was sent, as text."""
    return "\n".join(str(m.get("content")) for r in llm.requests for m in r["messages"])


@dataclass
class Made:
    """A tool made for a test: what it answers, how long it waits, what it saw."""

    name: str = "lookup"
    title: str = "Looking it up"
    done_title: str = "Looked it up"
    description: str = "Look something up."
    parameters: dict = field(default_factory=lambda: {
        "type": "object", "properties": {"q": {"type": "string"}}})
    writes: bool = False
    result: ToolResult = field(default_factory=lambda: ToolResult("found: 42", summary="1 hit"))
    wait: asyncio.Event | None = None  # run() waits for it (never set: a tool that hangs)
    fails: bool = False
    runs: list[dict] = field(default_factory=list)

    async def run(self, arguments: dict, asker: Asker) -> ToolResult:
        self.runs.append(arguments)
        if self.wait is not None:
            await self.wait.wait()
        if self.fails:
            raise RuntimeError("the lookup service is down")
        return self.result


@dataclass
class Hanging(Made):
    """A tool that runs until it is cancelled, and says when it started and was cancelled."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, arguments: dict, asker: Asker) -> ToolResult:
        self.started.set()
        try:
            await asyncio.Event().wait()  # never set: only cancellation ends it
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return self.result


class Offer:
    """A source offering the given tools to every question."""

    def __init__(self, *tools: object):
        self.tools = tools

    def tools_for(self, asker: Asker, text: str) -> list[object]:
        return list(self.tools)


async def ask(slack, text: str, user: str = "U1") -> tuple[dict, dict]:
    """A mention, and the bot's finished reply to it."""
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> {text}", user=user)
    [reply] = await slack.answered(CHANNEL, question["ts"], timeout=15)
    return question, reply


async def test_two_rounds_of_tools_show_their_steps_then_the_answer(slack, llm, start_bot):
    slack.ai_search = True
    slack.add_channel("C2", name="releases", member=True)
    note = slack.add_message("C2", "The deploy freeze starts Friday at noon.", user="U2")
    reply_to = slack.add_message("C2", "Thursday for hotfixes only.", user="U3",
                                 thread_ts=note["ts"])
    link = slack.permalink("C2", note["ts"])
    llm.script(
        Reply("Let me check.", tool_calls=[Call("search_slack", {"query": "deploy freeze"})]),
        Reply("", tool_calls=[Call("read_slack_message", {"url": link})]),
        Reply("The freeze starts Friday at noon [1]."),
    )
    await start_bot()

    question, reply = await ask(slack, "when does the deploy freeze start?")

    assert reply["text"] == "Let me check.\n\nThe freeze starts Friday at noon [1]."
    cards = slack.tasks(CHANNEL, reply["ts"])
    assert [(c["title"], c["status"], c["output"]) for c in cards] == [
        ("Searched Slack", "complete", "1 result"),
        ("Read a linked message", "complete", "2 messages"),
    ]
    assert cards[0]["details"] == "deploy freeze" and cards[0]["sources"][0]["url"] == link
    # The steps came before the answer's words, in one timeline.
    shown = slack.state.stored(CHANNEL, reply["ts"])
    kinds = [c["type"] for c in shown.chunks if c["type"] != "markdown_text" or c["text"].strip()]
    assert kinds.index("task_update") < len(kinds) - 1 and kinds[-1] == "markdown_text"
    assert shown.task_display_mode == "timeline"
    # The model saw each round's results, answered by call id.
    [found] = tool_messages(llm.requests[1])
    assert "The deploy freeze starts Friday at noon." in found["content"]
    assert link in found["content"] and "when does the deploy" not in found["content"]
    read = tool_messages(llm.requests[2])[-1]["content"]
    assert "Thursday for hotfixes only." in read and "(the linked message)" in read
    assert all("tools" in r for r in llm.requests)
    # The line under the thread named the tool, and goes once the answer is there.
    statuses = [s.status for s in slack.statuses if s.thread_ts == question["ts"]]
    assert "is searching Slack…" in statuses and "is reading a linked message…" in statuses
    await slack.wait_for(lambda: slack.current_status(CHANNEL, question["ts"]) == "")
    assert reply_to["ts"]


async def test_calls_of_one_round_run_at_the_same_time(slack, llm, start_bot):
    # Each call waits for the other to have started: one after the other, both would time out.
    both = asyncio.Event()
    started: list[str] = []

    @dataclass
    class Meeting(Made):
        async def run(self, arguments: dict, asker: Asker) -> ToolResult:
            started.append(arguments["q"])
            if len(started) == 2:
                both.set()
            await both.wait()
            return ToolResult(f"met {arguments['q']}")

    bot = await start_bot(tool_timeout=5.0)
    bot.toolkit.add(Offer(Meeting()))
    calls = [Call("lookup", {"q": "a"}), Call("lookup", {"q": "b"})]
    llm.script(Reply("", tool_calls=calls, tool_call_pieces=4), Reply("Both met."))

    _, reply = await ask(slack, "meet twice")

    assert reply["text"] == "Both met."
    results = {m["tool_call_id"]: m["content"] for m in tool_messages(llm.requests[1])}
    assert results == {calls[0].id: "met a", calls[1].id: "met b"}
    assert [c["status"] for c in slack.tasks(CHANNEL, reply["ts"])] == ["complete", "complete"]


async def test_a_tool_that_hangs_or_breaks_is_a_failed_step_and_the_answer_comes(
    slack, llm, start_bot
):
    hangs = Made(name="slow", title="Asking the slow service", wait=asyncio.Event())
    breaks = Made(name="broken", title="Asking the broken service", fails=True)
    bot = await start_bot(tool_timeout=0.3)
    bot.toolkit.add(Offer(hangs, breaks))
    llm.script(
        Reply("", tool_calls=[Call("slow", {"q": "x"}), Call("broken", {"q": "y"})]),
        Reply("Neither service answered, sorry."),
    )

    _, reply = await ask(slack, "ask both services")

    assert reply["text"] == "Neither service answered, sorry."
    cards = slack.tasks(CHANNEL, reply["ts"])
    assert [(c["title"], c["status"], c["output"]) for c in cards] == [
        ("Asking the slow service", "error", "timed out"),
        ("Asking the broken service", "error", "failed"),
    ]
    slow, broken = (m["content"] for m in tool_messages(llm.requests[1]))
    assert "No result within 0.3 seconds" in slow and "RuntimeError" in broken
    assert "the lookup service is down" not in broken  # an exception's words stay in the log


async def test_malformed_calls_are_answered_with_what_was_wrong(slack, llm, start_bot):
    lookup = Made()
    bot = await start_bot()
    bot.toolkit.add(Offer(lookup))
    llm.script(
        Reply("", tool_calls=[
            Call("lookup", '{"q": "unfinished', id="c1"),
            Call("delete_everything", {}, id="c2"),
            Call("lookup", {"q": "no id"}, id=None),
            Call("lookup", {"q": "fine"}, id="c4"),
        ], same_index=False),
        Reply("Done."),
    )

    _, reply = await ask(slack, "look it up")

    assert reply["text"] == "Done."
    answers = {m["tool_call_id"]: m["content"] for m in tool_messages(llm.requests[1])}
    asked = [c["id"] for c in llm.requests[1]["messages"][-5]["tool_calls"]]
    assert len(asked) == 4 and set(answers) == set(asked)  # every call answered, by its id
    assert "not a JSON object" in answers["c1"]
    assert "no tool named 'delete_everything'" in answers["c2"]
    assert "no id" in answers[asked[2]] and answers["c4"] == "found: 42"
    assert lookup.runs == [{"q": "fine"}]  # only the well-formed call ran
    assert [c["output"] for c in slack.tasks(CHANNEL, reply["ts"])] == ["1 hit"]


async def test_a_server_without_tools_gets_a_plain_answer_and_one_log_line(
    slack, llm, start_bot, caplog
):
    caplog.set_level(logging.WARNING)
    llm.no_tools = "ollama"
    bot = await start_bot()
    bot.toolkit.add(Offer(Made()))
    llm.script(Reply("Plain answer."), Reply("Another plain one."))

    _, first = await ask(slack, "first")
    _, second = await ask(slack, "second")

    assert (first["text"], second["text"]) == ("Plain answer.", "Another plain one.")
    assert ["tools" in r for r in llm.requests] == [True, False, False]
    told = [r for r in caplog.records if "does not take tools" in r.getMessage()]
    assert len(told) == 1 and "gpt-test" in told[0].getMessage()


async def test_search_never_shows_the_model_what_the_asker_may_not_see(slack, llm, start_bot):
    slack.ai_search = True
    slack.add_channel("C2", name="general")
    slack.add_channel("G1", name="leadership", private=True, people=("U2",))
    slack.add_channel("G2", name="mine", private=True, people=("U1", "U2"))
    slack.add_message("C2", "deploy freeze: public plan", user="U2")
    slack.add_message("G1", "deploy freeze: the secret reason", user="U2")
    slack.add_message("G2", "deploy freeze: my private channel", user="U2")
    slack.add_message("D2", "deploy freeze: someone's DM", user="U2")
    llm.script(Reply("", tool_calls=[Call("search_slack", {"query": "deploy freeze"})]),
               Reply("Here is what I found."))
    await start_bot()

    _, reply = await ask(slack, "why the deploy freeze?", user="U1")

    seen = seen_by_model(llm)
    assert "public plan" in seen
    assert "secret reason" not in seen and "someone's DM" not in seen
    assert "my private channel" not in seen  # a bot token searches public channels only
    search = slack.calls_to("assistant.search.context")[0].params
    assert slack.action_tokens[search["action_token"]] == "U1"  # searched as the asker
    assert reply["text"] == "Here is what I found."


async def test_a_linked_message_the_asker_may_not_read_is_not_read(slack, llm, start_bot):
    slack.add_channel("G3", name="hr", private=True, people=("U2",))  # the bot is in it
    secret = slack.add_message("G3", "salaries: the numbers", user="U2")
    link = slack.permalink("G3", secret["ts"])
    llm.script(Reply("", tool_calls=[Call("read_slack_message", {"url": link})]),
               Reply("I can't read that one."))
    await start_bot()

    _, reply = await ask(slack, f"what does <{link}> say?", user="U1")

    assert "the numbers" not in seen_by_model(llm)
    [result] = tool_messages(llm.requests[1])
    assert "not in that conversation" in result["content"]
    assert not slack.calls_to("conversations.replies") or all(
        c.params.get("channel") != "G3" for c in slack.calls_to("conversations.replies"))
    assert [c["status"] for c in slack.tasks(CHANNEL, reply["ts"])] == ["error"]


async def test_a_posted_answer_lists_its_steps(slack, llm, start_bot):
    slack.fail("chat.startStream", "channel_type_not_supported", times=None)
    lookup = Made(result=ToolResult("found: 42", (Source("the ledger", "https://x.test/l"),),
                                    summary="1 hit"))
    bot = await start_bot()
    bot.toolkit.add(Offer(lookup))
    handled = watch([bot.answerer], "answer")
    llm.script(Reply("Checking.", tool_calls=[Call("lookup", {"q": "answer"})]),
               Reply("It is 42."))

    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> what is the answer?")
    await until_handled(handled, 1, timeout=15)  # posted and updated: done when answer() is

    [reply] = slack.bot_replies(CHANNEL, question["ts"])
    assert reply["text"] == "Checking.\n\nIt is 42."
    [steps] = [b for b in reply["blocks"] if b["type"] == "context"]
    [line] = [e["text"] for e in steps["elements"]]
    assert line == ":white_check_mark: Looked it up: 1 hit · <https://x.test/l|the ledger>"
    assert any(b["type"] == "context_actions" for b in reply["blocks"])  # feedback still there


async def test_writing_tools_run_only_once_approved(slack, llm, start_bot):
    writer = Made(name="post_note", title="Posting a note", writes=True)
    bot = await start_bot()
    bot.toolkit.add(Offer(writer))
    assert bot.toolkit.approver is bot.approvals  # the bot asks in Slack (tests/e2e/test_mcp)
    bot.toolkit.approver = None  # a toolkit with no way to ask refuses every writing call
    llm.script(Reply("", tool_calls=[Call("post_note", {"q": "hi"})]), Reply("Not posted."))

    await ask(slack, "post a note")

    assert writer.runs == []
    assert "no way to ask" in tool_messages(llm.requests[1])[0]["content"]

    asked: list[tuple[str, dict, str]] = []

    class Approver:
        async def approve(self, tool, arguments: dict, asker: Asker) -> bool:
            asked.append((tool.name, arguments, asker.user))
            return True

    bot.toolkit.approver = Approver()
    llm.script(Reply("", tool_calls=[Call("post_note", {"q": "hi"})]), Reply("Posted."))
    await ask(slack, "post a note again", user="U5")
    assert asked == [("post_note", {"q": "hi"}, "U5")] and writer.runs == [{"q": "hi"}]


async def test_after_the_last_round_the_model_must_answer_without_tools(slack, llm, start_bot):
    bot = await start_bot(tool_rounds=2)
    bot.toolkit.add(Offer(Made()))
    again = [Call("lookup", {"q": "more"})]
    llm.script(Reply("", tool_calls=again), Reply("", tool_calls=again),
               Reply("Enough: 42."))

    _, reply = await ask(slack, "keep looking")

    assert reply["text"] == "Enough: 42."
    assert ["tools" in r for r in llm.requests] == [True, True, False]


async def test_tool_words_shown_to_people_ping_no_one(slack, llm, start_bot):
    loud = Made(result=ToolResult("x", (Source("<!channel> look", "https://x.test/a"),),
                                  summary="@here <!everyone>"))
    bot = await start_bot()
    bot.toolkit.add(Offer(loud))
    llm.script(Reply("", tool_calls=[Call("lookup", {"q": "<!here> now"})]), Reply("ok"))

    _, reply = await ask(slack, "look")

    [card] = slack.tasks(CHANNEL, reply["ts"])
    texts = [card["details"], card["output"], card["sources"][0]["text"]]
    assert not any(t in s for s in texts for t in ("<!here>", "<!channel>", "<!everyone>"))
    assert "@here" not in card["output"]  # the word joiner makes it inert


async def test_without_an_action_token_search_is_not_offered(slack, llm, start_bot):
    slack.ai_search = True
    await start_bot()
    question = slack.add_message(CHANNEL, f"<@{slack.bot_user_id}> anything?", user="U1")
    event = {"type": "app_mention", "user": "U1", "text": question["text"],
             "ts": question["ts"], "channel": CHANNEL, "event_ts": question["ts"],
             "team": slack.team_id}  # as a follow-up: no action_token
    await slack.send_event(event)
    await slack.answered(CHANNEL, question["ts"])
    assert "tools" not in llm.requests[0]


async def test_stopping_the_bot_cancels_a_running_tool_and_says_so(slack, llm, start_bot):
    hanging = Hanging()
    bot = await start_bot(tool_timeout=60.0)
    bot.toolkit.add(Offer(hanging))
    llm.script(Reply("One moment.", tool_calls=[Call("lookup", {"q": "x"})]))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> look it up")
    await slack.wait_for(lambda: any(  # the tool's card shows: the tool is running
        c.method.endswith("Stream") and c.params.get("chunks") for c in slack.calls))

    await bot.shutdown(grace=0.1)

    assert hanging.cancelled.is_set()
    [reply] = await slack.answered(CHANNEL, question["ts"])
    assert reply["text"].startswith("One moment.") and "restarting" in reply["text"]
    [card] = slack.tasks(CHANNEL, reply["ts"])
    assert (card["status"], card["output"]) == ("error", "stopped")  # not left spinning


async def test_a_stop_click_during_a_tool_call_cancels_it_and_asks_the_model_no_more(
    slack, llm, start_bot
):
    hanging = Hanging()
    bot = await start_bot(tool_timeout=60.0)
    bot.toolkit.add(Offer(hanging))
    llm.script(Reply("Let me look.", tool_calls=[Call("lookup", {"q": "x"})]), Reply("Never."))
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> look it up")
    await asyncio.wait_for(hanging.started.wait(), 10)
    await slack.wait_for(lambda: any(  # the tool's card shows: the tool is running
        c.method.endswith("Stream") and c.params.get("chunks") for c in slack.calls))

    await slack.acked(await slack.click_stop(CHANNEL, question["ts"]))

    await asyncio.wait_for(hanging.cancelled.wait(), 5)
    [reply] = await slack.answered(CHANNEL, question["ts"])
    assert reply["text"].startswith("Let me look.") and reply["text"].endswith(STOPPED)
    assert not reply["streaming"]  # Slack closed the stream: its card stays as Slack left it
    assert len(llm.requests) == 1  # the round was the last: no model request after the stop
    assert slack.session_statuses(CHANNEL, question["ts"])[-1] == "active"


async def test_results_too_long_for_the_model_give_way_and_the_answer_comes(
    slack, llm, start_bot
):
    huge = Made(result=ToolResult("row " * 12_000, summary="a big table"))
    bot = await start_bot()
    bot.toolkit.add(Offer(huge))
    llm.script(Reply("", tool_calls=[Call("lookup", {"q": "all"})]), Reply("Summed up."))
    llm.context_limit = 2_000  # the first request fits; with the table, the second does not

    _, reply = await ask(slack, "sum up the table")

    assert reply["text"] == "Summed up."
    refused, retried = llm.requests[1], llm.requests[-1]
    assert len(llm.requests) >= 3  # the round was asked again, smaller
    assert len(str(refused["messages"][-1]["content"])) > len(
        str(retried["messages"][-1]["content"]))
    assert retried["messages"][-1]["role"] == "tool"  # still answered, by a shorter result


async def test_twenty_writing_calls_in_one_round_ask_the_asker_five_times_at_most(
    slack, llm, start_bot
):
    """A model (or a prompt injected into what it read) that calls a writing tool 20 times
    in one round posted 20 approval requests in the thread at once: a flood."""
    writer = Made(name="post_note", title="Posting a note", writes=True)
    bot = await start_bot()
    bot.toolkit.add(Offer(writer))
    asked: list[dict] = []

    class Approver:
        async def approve(self, tool, arguments: dict, asker: Asker) -> bool:
            asked.append(arguments)
            return True

    bot.toolkit.approver = Approver()
    calls = [Call("post_note", {"q": f"note {n}"}) for n in range(20)]
    llm.script(Reply("", tool_calls=calls), Reply("", tool_calls=calls[:2]), Reply("Posted."))

    _, reply = await ask(slack, "post twenty notes")

    assert reply["text"] == "Posted."
    assert len(asked) == len(writer.runs) == 5  # per answer, over all its rounds
    results = [m["content"] for m in tool_messages(llm.requests[-1])]
    assert len(results) == 22 and sum("found: 42" in r for r in results) == 5
    assert all("at most 5" in r for r in results if "found" not in r)


async def test_a_server_with_200_tools_leaves_some_out_and_never_turns_tools_off(
    slack, llm, start_bot, caplog
):
    """OpenAI takes 128 functions a request. An MCP server that lists 200 made every request
    refused (``param: tools``), which the client read as 'this server takes no tools': tools
    were off for good, Slack search included, for every channel."""
    bot = await start_bot()
    bot.toolkit.add(Offer(Made(), *(Made(name=f"extra_{n}") for n in range(200))))
    llm.script(Reply("", tool_calls=[Call("lookup", {"q": "x"})]), Reply("42."), Reply("Again."))

    _, first = await ask(slack, "what is it?")
    _, second = await ask(slack, "and again?")

    assert (first["text"], second["text"]) == ("42.", "Again.")
    assert [len(r.get("tools") or ()) for r in llm.requests] == [128, 128, 128]
    assert "does not take tools" not in caplog.text
    assert caplog.text.count("more tools than a model takes") == 1  # said once, not per question

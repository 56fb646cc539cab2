"""End to end: the real bot with the operator's MCP servers, real ones built with the SDK (one
over Streamable HTTP behind a bearer token, one over stdio), and the fake Slack for approvals.

Most tests make one call as the tool loop makes it (:func:`tests.helpers.run_tool`: the bot's
own tools and Approver); the last goes through the model's tool loop, end to end.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest

from fakes.openai import Reply
from fakes.openai_tools import Call
from slackgpt.tools.base import Asker
from tests.helpers import (
    MCP_TOKEN,
    STDIO_SERVER,
    TOOLS_CHANNEL,
    approval_request,
    mcp_servers,
    outcome_of,
    run_tool,
    tickets_toml,
)

pytestmark = pytest.mark.timeout(30)
CHANNEL, ELSEWHERE = TOOLS_CHANNEL, "C0ELSEWHERE"


async def start_with_tools(slack, llm, start_bot, tmp_path, mcp_http, **env):
    servers = mcp_servers(slack, llm, tmp_path, tickets_toml(mcp_http, **env))
    return await start_bot(mcp_servers=servers)


def asked(slack, channel: str = CHANNEL) -> Asker:
    root = slack.add_message(channel, "file a ticket for the printer, please", user="U1")
    return Asker(user="U1", channel=channel, thread_ts=root["ts"])


async def test_tools_are_listed_from_both_transports_and_offered_per_channel(
    slack, llm, start_bot, tmp_path, mcp_http
):
    bot = await start_with_tools(slack, llm, start_bot, tmp_path, mcp_http)
    here = {t.name: t for t in bot.mcp.tools_for(Asker("U1", CHANNEL, "1.0"))}
    there = {t.name for t in bot.mcp.tools_for(Asker("U1", ELSEWHERE, "1.0"))}
    assert {"tickets_search_tickets", "local_search_tickets", "tickets_tickets_stats"} <= set(here)
    assert there and all(n.startswith("tickets_") for n in there)  # local: one channel only
    assert here["tickets_create_ticket"].writes and not here["local_search_tickets"].writes
    assert here["tickets_tickets_stats"].title == "Ticket stats (tickets)"
    assert bot.mcp.tool("tickets_tickets_stats").remote == "tickets.stats"  # the reverse table


async def test_a_read_only_tool_runs_without_asking(slack, llm, start_bot, tmp_path, mcp_http):
    bot = await start_with_tools(slack, llm, start_bot, tmp_path, mcp_http)
    asker = asked(slack)
    found = await run_tool(bot, "tickets_search_tickets", {"query": "printer"}, asker)
    local = await run_tool(bot, "local_tickets_stats", {}, asker)
    assert not found.error and found.text == "TCK-1 Login fails (printer)"
    assert local.text == '{"open":0,"closed":0}'
    assert slack.bot_replies(CHANNEL, asker.thread_ts) == []  # nothing asked in Slack


async def test_a_writing_tool_runs_only_after_the_askers_approval(
    slack, llm, start_bot, tmp_path, mcp_http
):
    bot = await start_with_tools(slack, llm, start_bot, tmp_path, mcp_http)
    asker = asked(slack)
    args = {"title": "Printer on fire <!channel>", "body": "3rd floor"}

    refused = asyncio.create_task(run_tool(bot, "tickets_create_ticket", args, asker))
    request = await approval_request(slack, CHANNEL, asker.thread_ts)
    assert "Create a ticket (tickets)" in request["text"] and "3rd floor" in request["text"]
    assert "<!channel>" not in request["text"]  # the arguments ping no one
    await slack.click_button(CHANNEL, request["ts"], "tool_deny", user="U1")
    assert (await refused).error and mcp_http.created == []
    await slack.wait_for(lambda: outcome_of(slack, CHANNEL, request) is not None)
    assert outcome_of(slack, CHANNEL, request).startswith("🚫 Denied")

    approved = asyncio.create_task(run_tool(bot, "tickets_create_ticket", args, asker))
    request = await approval_request(slack, CHANNEL, asker.thread_ts)
    await slack.click_button(CHANNEL, request["ts"], "tool_approve", user="U2")  # not the asker
    await slack.wait_for(lambda: any(e.user == "U2" for e in slack.ephemerals))
    assert not approved.done() and mcp_http.created == []
    await slack.click_button(CHANNEL, request["ts"], "tool_approve", user="U1")
    result = await approved
    assert result.text == "Created ticket #1: Printer on fire <!channel>"
    assert [t["title"] for t in mcp_http.created] == [args["title"]]
    [told] = [e for e in slack.ephemerals if e.user == "U2"]
    assert told.blocks[0]["text"]["text"] == "Only <@U1> can approve this."


async def test_a_server_that_is_down_gives_its_calls_an_error_and_one_log_line(
    slack, llm, start_bot, tmp_path, mcp_http, caplog
):
    caplog.set_level(logging.INFO, logger="slackgpt.tools")
    gone = '[servers.gone]\nurl = "http://127.0.0.1:9/mcp"\nchannels = "*"\ntimeout = 2\n'
    servers = mcp_servers(slack, llm, tmp_path, tickets_toml(mcp_http) + gone)
    bot = await start_bot(mcp_servers=servers)
    offered = bot.mcp.tools_for(Asker("U1", CHANNEL, "1.0"))
    assert offered and not any(t.name.startswith("gone_") for t in offered)
    await mcp_http.stop()  # the server goes away while the bot runs
    asker = asked(slack)
    results = [await run_tool(bot, "tickets_search_tickets", {"query": "x"}, asker)
               for _ in range(3)]
    assert all(r.error and "tickets cannot be reached" in r.text for r in results)
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len([m for m in said if "tickets" in m and "cannot be" in m]) == 1  # not per call
    [gone] = [m for m in said if m.startswith("MCP server gone ")]
    assert "nothing answers at http://127.0.0.1:9/mcp" in gone

    await mcp_http.start()  # and comes back: the next call reconnects
    found = await run_tool(bot, "tickets_search_tickets", {"query": "back"}, asker)
    assert found.text == "TCK-1 Login fails (back)"


async def test_only_the_operators_header_reaches_a_server_and_no_slack_token(
    slack, llm, start_bot, tmp_path, mcp_http, monkeypatch
):
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.bot_token)  # in the bot's own environment
    monkeypatch.setenv("OPENAI_API_KEY", llm.api_key)
    monkeypatch.setenv("NOT_NAMED", "yes")
    bot = await start_with_tools(slack, llm, start_bot, tmp_path, mcp_http)
    asker = asked(slack)
    await run_tool(bot, "tickets_search_tickets", {"query": "x"}, asker)
    seen = mcp_http.headers
    assert seen and all(h.get("authorization") == f"Bearer {MCP_TOKEN}" for h in seen)
    values = " ".join(v for h in seen for v in h.values())
    assert "xox" not in values and slack.app_token not in values and llm.api_key not in values
    env = await run_tool(bot, "local_environment", {}, asker)
    names = set(env.text.split())
    assert names and not {n for n in names if n.startswith(("SLACK_", "OPENAI_"))}
    assert "NOT_NAMED" not in names  # only what the file names is passed (and PATH, HOME…)


async def test_the_named_variables_reach_a_stdio_server(slack, llm, start_bot, tmp_path):
    toml = (f'[servers.local]\ncommand = "{sys.executable}"\nargs = ["{STDIO_SERVER}"]\n'
            'env = { PASSED_ON = "${SOME_SECRET}", PLAIN = "yes" }\nchannels = "*"\n')
    servers = mcp_servers(slack, llm, tmp_path, toml, SOME_SECRET="s3cret-value-1234")
    bot = await start_bot(mcp_servers=servers)
    env = await run_tool(bot, "local_environment", {}, asked(slack))
    assert {"PASSED_ON", "PLAIN"} <= set(env.text.split())
    assert "SOME_SECRET" not in env.text.split()


async def test_the_model_calls_a_writing_tool_and_the_answer_goes_on(
    slack, llm, start_bot, tmp_path, mcp_http
):
    """The model calls ``tickets_create_ticket``; the asker approves in Slack; the ticket
    exists and the model's next turn reads the result."""
    await start_with_tools(slack, llm, start_bot, tmp_path, mcp_http)
    llm.script(
        Reply("", tool_calls=[Call("tickets_create_ticket", {"title": "Printer"})]),
        Reply("Filed it as ticket #1."),
    )
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> file a ticket: printer")
    request = await approval_request(slack, CHANNEL, question["ts"])
    assert mcp_http.created == []  # nothing runs before the click
    await slack.click_button(CHANNEL, request["ts"], "tool_approve", user="U1")
    replies = await slack.answered(CHANNEL, question["ts"], count=2)
    assert [t["title"] for t in mcp_http.created] == ["Printer"]
    answer, asking = replies  # the answer's message (its task first), the request below it
    assert answer["text"] == "Filed it as ticket #1." and asking["ts"] == request["ts"]
    assert outcome_of(slack, CHANNEL, request) == "✅ Approved by the person who asked; running it."
    statuses = slack.session_statuses(CHANNEL, question["ts"])  # the wait shows in the session
    assert statuses[:3] == ["processing", "suspended", "processing"], statuses
    second = llm.requests[-1]["messages"]
    assert any(m.get("role") == "tool" and "Created ticket #1" in str(m.get("content"))
               for m in second)


async def test_a_denied_writing_tool_is_read_by_the_model_and_nothing_is_written(
    slack, llm, start_bot, tmp_path, mcp_http
):
    await start_with_tools(slack, llm, start_bot, tmp_path, mcp_http)
    llm.script(
        Reply("", tool_calls=[Call("tickets_create_ticket", {"title": "Printer"})]),
        Reply("Understood, I did not file it."),
    )
    question = await slack.mention(CHANNEL, f"<@{slack.bot_user_id}> file a ticket: printer")
    request = await approval_request(slack, CHANNEL, question["ts"])
    await slack.wait_for(lambda: "suspended" in slack.session_statuses(CHANNEL, question["ts"]))
    with pytest.raises(LookupError, match="suspended"):  # Slack's stop button is for work;
        await slack.click_stop(CHANNEL, question["ts"])  # a wait has its Deny button instead
    await slack.click_button(CHANNEL, request["ts"], "tool_deny", user="U1")
    answer, _ = await slack.answered(CHANNEL, question["ts"], count=2)
    assert answer["text"] == "Understood, I did not file it." and mcp_http.created == []
    [tool] = [m for m in llm.requests[-1]["messages"] if m.get("role") == "tool"]
    assert tool["content"] == "Not run: the person asking did not approve it."
    assert outcome_of(slack, CHANNEL, request).startswith("🚫 Denied")


"""One MCP server's session kept alive: against real servers built with the SDK (over HTTP in
this process, over stdio as a child process), never a mock."""

from __future__ import annotations

import asyncio
import sys

import pytest

from fakes.mcp_server import McpHttpServer
from slackgpt.config.mcp_servers import McpServer
from slackgpt.tools.base import Asker
from slackgpt.tools.mcp_link import CallFailed, ServerLink
from slackgpt.tools.mcp_tools import McpTools, check_servers
from tests.helpers import MCP_TOKEN, STDIO_SERVER, until

pytestmark = pytest.mark.timeout(30)
ASKER = Asker("U1", "C0123ABCD", "1.0")


def http(server: McpHttpServer, token: str = MCP_TOKEN, **fields) -> McpServer:
    headers = {"Authorization": f"Bearer {token}"}
    return McpServer(name="tickets", url=server.url, headers=headers, **fields)


def stdio(**fields) -> McpServer:
    return McpServer(name="local", command=sys.executable, args=(str(STDIO_SERVER),), **fields)


async def test_a_slow_call_times_out_and_the_session_stays(mcp_http):
    link = ServerLink(http(mcp_http, timeout=1))
    link.start()
    try:
        assert await link.ready(5)
        with pytest.raises(CallFailed, match="no answer within 1 s"):
            await link.call("slow_count", {"seconds": 3})
        found = await link.call("search_tickets", {"query": "x"})
        assert found.content[0].text == "TCK-1 Login fails (x)" and link.up
    finally:
        await link.close()


async def test_a_stdio_server_that_crashes_is_started_again():
    link = ServerLink(stdio(timeout=10))
    link.start()
    try:
        assert await link.ready(10)
        with pytest.raises(CallFailed, match="cannot be reached"):
            await link.call("exit_now", {})
        stats = await link.call("tickets.stats", {})  # a new process, at once
        assert stats.structured_content == {"open": 0, "closed": 0}
    finally:
        await link.close()


async def test_tools_are_listed_again_and_the_model_names_follow(mcp_http):
    tools = McpTools([http(mcp_http)], refresh=0.2)
    await tools.ready(5)
    try:
        assert tools.tool("tickets_triage") is None

        def triage(ticket: int) -> str:
            """Sort a ticket into a queue."""
            return f"ticket {ticket} triaged"

        mcp_http.server.add_tool(triage)
        await until(lambda: tools.tool("tickets_triage") is not None, what="the new tool")
        tool = tools.tool("tickets_triage")
        assert tool.writes  # no annotations: it may write
        assert (await tool.run({"ticket": 7}, ASKER)).text == "ticket 7 triaged"
    finally:
        await tools.close()


async def test_the_operators_lists_decide_what_is_offered(mcp_http):
    server = http(mcp_http, allow_tools=("search_*", "create_ticket", "broken"),
                  deny_tools=("broken",), channels=frozenset({"C0123ABCD"}))
    tools = McpTools([server])
    await tools.ready(5)
    try:
        names = {t.name for t in tools.tools_for(ASKER)}
        assert names == {"tickets_search_tickets", "tickets_create_ticket"}
        assert tools.tools_for(Asker("U1", "C0OTHER001", "1.0")) == []
    finally:
        await tools.close()


async def test_check_says_what_each_server_offers_or_why_not(mcp_http):
    found = await check_servers([
        http(mcp_http, deny_tools=("create_ticket",)),
        http(mcp_http, token="wrong-token"),
        McpServer(name="missing", command="/nonexistent/mcp-server", timeout=5),
        McpServer(name="gone", url="http://127.0.0.1:9/mcp", timeout=2),
    ])
    said = [(detail, worked) for _, detail, worked in found]
    assert said[0] == ("6 tools listed, 5 offered everywhere (0 need the asker's approval)", True)
    assert said[1][1] is False and "refused the bot (HTTP 401)" in said[1][0]
    assert said[2] == ("could not start '/nonexistent/mcp-server': No such file or directory",
                       False)
    assert said[3] == ("nothing answers at http://127.0.0.1:9/mcp", False)


async def test_a_bot_without_mcp_servers_does_not_load_the_sdk():
    """Importing the SDK costs half a second or more at every start."""
    code = ("import sys, slackgpt.runtime, slackgpt.doctor, slackgpt.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types')))")
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code,
                                                   stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(), 20)
    assert out.decode().strip() == "[]"

"""The MCP server of the tests (the SDK's own server): its tools, its bearer check, and
stopping and starting again on the same port."""

from __future__ import annotations

import sys

import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from fakes.mcp_server import McpHttpServer, build
from tests.helpers import ROOT

pytestmark = pytest.mark.timeout(30)


async def test_the_tools_read_write_and_fail_as_annotated():
    async with Client(build()) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        created = await client.call_tool("create_ticket", {"title": "Printer"})
        broken = await client.call_tool("broken", {})
    assert tools["create_ticket"].annotations is None  # by MCP's defaults: it writes
    assert tools["search_tickets"].annotations.read_only_hint is True
    assert "exit_now" not in tools  # only a server in a process of its own may exit
    assert created.content[0].text == "Created ticket #1: Printer" and broken.is_error


async def test_http_wants_the_bearer_token_and_records_headers():
    async with McpHttpServer(token="right-token") as server:
        async with httpx2.AsyncClient() as http:
            refused = await http.post(server.url, json={})
        async with (
            httpx2.AsyncClient(headers={"Authorization": "Bearer right-token"}) as http,
            Client(streamable_http_client(server.url, http_client=http)) as client,
        ):
            found = await client.call_tool("search_tickets", {"query": "x"})
        port = server.port
        await server.stop()
        await server.start()  # the same port again: a server that came back
        assert server.port == port
    assert refused.status_code == 401 and server.refused >= 1
    assert found.content[0].text == "TCK-1 Login fails (x)"
    assert server.headers[-1]["authorization"] == "Bearer right-token"
    assert server.calls == [("search_tickets", {"query": "x"})]


async def test_stdio_runs_the_file_as_a_script_with_no_pythonpath():
    script = ROOT / "fakes" / "mcp_server.py"
    params = StdioServerParameters(command=sys.executable, args=[str(script)])
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert {"exit_now", "environment", "tickets.stats"} <= names

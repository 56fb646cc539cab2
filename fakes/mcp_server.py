"""A real MCP server, built with the official SDK (``MCPServer``), for tests and the bench.

Its tools: ``search_tickets`` (reads), ``create_ticket`` (no annotations: by MCP's defaults it
writes), ``tickets.stats`` (reads; structured output; a dotted name, which MCP allows and
Chat Completions does not), ``slow_count`` (reads, takes its time), ``broken`` (fails with a
tool error) and ``environment`` (the names of the variables its process sees); in a process
of its own also ``exit_now`` (it crashes).

Over Streamable HTTP on 127.0.0.1, in this process, behind a bearer token it checks (a
request without it gets 401)::

    async with McpHttpServer(token="t0ken") as server:   # server.url: http://127.0.0.1:PORT/mcp
        ...server.headers (every request's headers), server.created, server.calls

Over stdio, as its own process: ``python fakes/mcp_server.py`` (the file runs as a script,
so it needs no PYTHONPATH: an MCP client passes only the variables it is told to).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass, field
from typing import TypedDict

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

READS = ToolAnnotations(read_only_hint=True)


class Stats(TypedDict):
    open: int
    closed: int


@dataclass
class Record:
    """What the server saw: the tools called (name, arguments) and the tickets created."""

    calls: list[tuple[str, dict]] = field(default_factory=list)
    created: list[dict] = field(default_factory=list)


def build(record: Record | None = None, *, can_exit: bool = False) -> MCPServer:
    """The server and its tools; ``record`` keeps what was called. ``can_exit`` (a server in a
    process of its own) adds ``exit_now``, which ends the process as a crash would."""
    seen = record if record is not None else Record()
    server = MCPServer("fake-tickets", log_level="WARNING")
    if can_exit:

        @server.tool(annotations=READS)
        def exit_now() -> str:
            """End this server's process at once."""
            os._exit(3)

    @server.tool(title="Search tickets", annotations=READS)
    def search_tickets(query: str) -> str:
        """Find tickets whose title contains ``query``."""
        seen.calls.append(("search_tickets", {"query": query}))
        found = [t for t in seen.created if query.lower() in t["title"].lower()]
        lines = [f"#{t['id']} {t['title']}" for t in found] or [f"TCK-1 Login fails ({query})"]
        return "\n".join(lines)

    @server.tool(title="Create a ticket")  # no annotations: MCP's defaults say it writes
    def create_ticket(title: str, body: str = "") -> str:
        """Create a ticket with a title and a body."""
        seen.calls.append(("create_ticket", {"title": title, "body": body}))
        ticket = {"id": len(seen.created) + 1, "title": title, "body": body}
        seen.created.append(ticket)
        return f"Created ticket #{ticket['id']}: {title}"

    @server.tool(name="tickets.stats", annotations=ToolAnnotations(title="Ticket stats",
                                                                   read_only_hint=True))
    def stats() -> Stats:
        """How many tickets there are, open and closed."""
        seen.calls.append(("tickets.stats", {}))
        return Stats(open=len(seen.created), closed=0)

    @server.tool(annotations=READS)
    async def slow_count(seconds: float) -> str:
        """Count slowly for ``seconds`` seconds."""
        seen.calls.append(("slow_count", {"seconds": seconds}))
        await asyncio.sleep(seconds)  # the point of this tool: it takes its time
        return f"counted for {seconds} s"

    @server.tool(annotations=READS)
    def broken() -> str:
        """Always fails."""
        seen.calls.append(("broken", {}))
        raise ToolError("the ticket database is on fire")

    @server.tool(annotations=READS)
    def environment() -> str:
        """The names of the environment variables this server's process sees."""
        seen.calls.append(("environment", {}))
        return " ".join(sorted(os.environ))

    return server


class McpHttpServer:
    """The server over Streamable HTTP on 127.0.0.1, in this process, checking a bearer token.

    ``headers``: every HTTP request's headers (lower-case names), in order. ``stop()`` and
    ``start()`` again (same port) make a server that goes away and comes back.
    """

    def __init__(self, token: str = "t0ken-for-tests", *, port: int = 0):
        self.token, self.port = token, port
        self.record = Record()
        self.headers: list[dict[str, str]] = []
        self.refused = 0  # requests without the right token
        self.server: MCPServer | None = None
        self._uvicorn: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    @property
    def calls(self) -> list[tuple[str, dict]]:
        return self.record.calls

    @property
    def created(self) -> list[dict]:
        return self.record.created

    async def start(self) -> None:
        """Listen (on the same port as before, after a stop)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self.server = build(self.record)  # add_tool() on it changes what it lists
        app = self.server.streamable_http_app(host="127.0.0.1")
        config = uvicorn.Config(self._guard(app), log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=1)
        self._uvicorn = uvicorn.Server(config)
        self._task = asyncio.create_task(self._uvicorn.serve(sockets=[sock]))
        while not self._uvicorn.started:
            if self._task.done():
                await self._task  # raises what stopped it
            await asyncio.sleep(0.01)  # uvicorn says it is up only through this flag

    async def stop(self) -> None:
        """Close the listener and every connection."""
        server, task, self._uvicorn, self._task = self._uvicorn, self._task, None, None
        if server is None or task is None:
            return
        server.should_exit = True  # open streams get timeout_graceful_shutdown (1 s)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def __aenter__(self) -> McpHttpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _guard(self, app):
        """The MCP app behind a check of ``Authorization: Bearer <token>``; headers recorded."""
        expected = f"Bearer {self.token}"

        async def guarded(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            self.headers.append(headers)
            if headers.get("authorization") != expected:
                self.refused += 1
                body = b'{"error": "invalid_token"}'
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer error="invalid_token"'),
                ]})
                await send({"type": "http.response.body", "body": body})
                return None
            return await app(scope, receive, send)

        return guarded


if __name__ == "__main__":  # python fakes/mcp_server.py: the server over stdio
    build(can_exit=True).run("stdio")

"""One MCP server, reached with the official ``mcp`` SDK, kept connected.

The session is long-lived and held by a task of its own (the SDK's transports must be entered
and left in one task; a transport that fails ends that task's block, not a caller's). It is
opened again after a failure, after pauses that grow from 1 s to a minute (a call in the
meantime tries at once). The tools are listed when it connects, again every ``refresh``
seconds and when the server says they changed. A call while the server is away fails at once
with :class:`CallFailed` saying why; one log line per outage, one when it is back.

Only the operator's headers go to an HTTP server (the bot's own tokens never do), and a
stdio server's process gets only the variables its ``env`` names (beside PATH, HOME, USER…,
which the SDK passes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from importlib.metadata import PackageNotFoundError, version

import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CONNECTION_CLOSED,
    REQUEST_TIMEOUT,
    CallToolResult,
    Implementation,
    ToolListChangedNotification,
)
from mcp_types import Tool as McpToolSpec

from slackgpt.config.mcp_servers import McpServer
from slackgpt.deadline import deadline
from slackgpt.logs import first_line

log = logging.getLogger(__name__)

REFRESH = 300.0  # seconds between listings of a server's tools
FIRST_PAUSE, LONGEST_PAUSE = 1.0, 60.0  # before connecting again after a failure
CALL_PATIENCE = 5.0  # seconds a call waits for a server that is connecting
MAX_PAGES = 20  # of one tools listing
SSE_READ = 300.0  # seconds an HTTP server may keep a response stream quiet


class CallFailed(Exception):
    """A call did not give a result; the message says why (for the model and the log).
    ``down``: the server cannot be reached (its outage is logged once, not per call)."""

    def __init__(self, why: str, *, down: bool = False):
        super().__init__(why)
        self.down = down


def _our_version() -> str:
    try:
        return version("slackgpt")
    except PackageNotFoundError:
        return "0"


CLIENT = Implementation(name="slackgpt", version=_our_version())


class ServerLink:
    """One server's session, kept open by :meth:`start`'s task; its tools in ``tools``.

    ``on_tools`` is called after each listing that changed them.
    """

    def __init__(
        self,
        server: McpServer,
        *,
        refresh: float = REFRESH,
        on_tools: Callable[[], None] | None = None,
    ):
        self.server, self.refresh, self.on_tools = server, refresh, on_tools
        self.tools: tuple[McpToolSpec, ...] = ()
        self.why = "not connected yet"  # why it cannot be used, while it cannot
        self._client: Client | None = None
        self._wake = asyncio.Event()  # list again, or connect again now
        self._changed = asyncio.Event()  # replaced after each attempt and each break
        self._broken = False
        self._tried = False  # an attempt to connect has ended
        self._down_since: float | None = None
        self._said_down = False  # the outage was logged
        self._status: int | None = None  # the last HTTP error status of this attempt
        self._task: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        return self._client is not None

    def start(self) -> None:
        """Connect, in a task that keeps the session until :meth:`close`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mcp:{self.server.name}")

    async def ready(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the first attempt to end; whether it is up."""
        changed = self._changed
        if not self.up and not self._tried:
            with contextlib.suppress(TimeoutError):
                async with deadline(timeout):
                    await changed.wait()
        return self.up

    async def probe(self) -> str | None:
        """Connect once and list the tools (``--check``): None when it worked, else why."""
        try:
            async with deadline(self.server.timeout), self._open() as client:
                await self._list(client)
        except Exception as error:  # a transport's failure may come as an ExceptionGroup
            return self._explain(error)
        return None

    async def call(self, tool: str, arguments: dict) -> CallToolResult:
        """Call the server's ``tool``; raises :class:`CallFailed` when there is no result."""
        client = await self._client_now()
        timeout = self.server.timeout
        try:
            async with deadline(timeout + 1.0):  # the SDK's own timeout should come first
                return await client.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except TimeoutError:
            raise CallFailed(f"no answer within {timeout:g} s") from None
        except MCPError as error:
            if error.code == REQUEST_TIMEOUT:
                raise CallFailed(f"no answer within {timeout:g} s") from None
            if error.code != CONNECTION_CLOSED:
                raise CallFailed(f"the server refused the call: {error.message[:300]}") from None
            self._break(error)
        except Exception as error:  # the transport failed, or the answer was malformed
            self._break(error)
        raise CallFailed(f"the MCP server {self.server.name} cannot be reached ({self.why})",
                         down=True)

    async def close(self) -> None:
        """End the session (a stdio server's process ends with it)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the task that holds the session -------------------------------------------------

    async def _run(self) -> None:
        pause = FIRST_PAUSE
        while True:
            if await self._attempt():
                pause = FIRST_PAUSE
                continue  # it worked, then broke: connect again at once
            self._announce()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with deadline(pause):
                    await self._wake.wait()  # a call wants it now
            pause = min(pause * 2, LONGEST_PAUSE)

    async def _attempt(self) -> bool:
        """Connect, list, and hold the session until it breaks; whether it was up."""
        was_up, self._status, self._broken = False, None, False
        try:
            async with deadline(self.server.timeout) as limit, self._open() as client:
                await self._list(client)
                limit.reschedule(None)
                was_up = True
                self._came_up(client)
                await self._hold(client)
        except Exception as error:  # a transport's failure may come as an ExceptionGroup
            self._went_down(error, was_up=was_up)
        finally:
            self._client = None
        return was_up

    async def _hold(self, client: Client) -> None:
        """List the tools every ``refresh`` seconds (or when woken) until a call breaks."""
        while True:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with deadline(self.refresh):
                    await self._wake.wait()
            if self._broken:
                raise CallFailed(self.why)
            async with deadline(self.server.timeout):
                await self._list(client)

    @contextlib.asynccontextmanager
    async def _open(self) -> AsyncIterator[Client]:
        """A connected client: over stdio (a process of its own) or Streamable HTTP."""
        server = self.server
        options = {"read_timeout_seconds": server.timeout, "client_info": CLIENT, "cache": None,
                   "message_handler": self._notice}
        if server.url is None:
            params = StdioServerParameters(command=server.command or "", args=list(server.args),
                                           env=dict(server.env), cwd=server.cwd)
            async with Client(params, **options) as client:
                yield client
            return
        timeout = httpx2.Timeout(server.timeout, read=max(server.timeout, SSE_READ))
        hooks = {"response": [self._saw]}
        async with (
            httpx2.AsyncClient(headers=dict(server.headers), timeout=timeout,
                               event_hooks=hooks) as http,
            Client(streamable_http_client(server.url, http_client=http), **options) as client,
        ):
            yield client

    async def _list(self, client: Client) -> None:
        tools, cursor = [], None
        for _ in range(MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools += page.tools
            cursor = page.next_cursor
            if not cursor:
                break
        if tuple(tools) != self.tools:
            self.tools = tuple(tools)
            if self.on_tools is not None:
                self.on_tools()

    async def _notice(self, message: object) -> None:
        """What the server says between answers: a changed tool list is listed again."""
        if isinstance(message, ToolListChangedNotification):
            self._wake.set()

    async def _saw(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:
            self._status = response.status_code

    # -- saying what happened ------------------------------------------------------------

    def _came_up(self, client: Client) -> None:
        self._client = client
        name, count = self.server.name, len(self.tools)
        if self._said_down and self._down_since is not None:
            away = time.monotonic() - self._down_since
            log.warning("MCP server %s is back after %.0f s (%d tools)", name, away, count)
        else:
            again = "reconnected" if self._down_since is not None else "connected"
            log.info("MCP server %s: %s, %d tools", name, again, count)
        self._down_since, self._said_down = None, False
        self._announce()

    def _went_down(self, error: BaseException, *, was_up: bool) -> None:
        """Note why; say it once per outage (a session that worked is first opened again:
        a server that restarted is no outage)."""
        if not self._broken:
            self.why = self._explain(error)
        if self._down_since is None:
            self._down_since = time.monotonic()
        if was_up or self._said_down:
            log.debug("MCP server %s cannot be used now: %s", self.server.name, self.why)
            return
        self._said_down = True
        log.warning(
            "MCP server %s (%s) cannot be used: %s. Its tools answer with an error until it is "
            "back; the bot tries again", self.server.name, self.server.where, self.why,
        )

    def _break(self, error: BaseException) -> None:
        """A call found the session broken: the holding task opens a new one."""
        if not self._broken:
            self._broken, self.why = True, self._explain(error)
            self._wake.set()

    def _announce(self) -> None:
        """Wake whoever waits for the next change (a call, :meth:`ready`)."""
        self._tried = True
        self._changed.set()
        self._changed = asyncio.Event()

    async def _client_now(self) -> Client:
        """The session; while there is none, one attempt to connect is waited for, briefly."""
        if self._client is None or self._broken:
            changed = self._changed
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                async with deadline(min(CALL_PATIENCE, self.server.timeout)):
                    await changed.wait()
        if self._client is None or self._broken:
            raise CallFailed(f"the MCP server {self.server.name} cannot be reached ({self.why})",
                             down=True)
        return self._client

    def _explain(self, error: BaseException) -> str:
        """Why the server cannot be used, in a few words an operator can act on."""
        while isinstance(error, BaseExceptionGroup) and error.exceptions:
            error = error.exceptions[0]
        server = self.server
        if self._status in (401, 403):
            return (f"it refused the bot (HTTP {self._status}); check the headers in "
                    "MCP_SERVERS and the variables they read")
        if self._status is not None:
            return f"it answered HTTP {self._status} at {server.url}"
        if isinstance(error, TimeoutError):
            return f"no answer within {server.timeout:g} s"
        if isinstance(error, httpx2.ConnectError):
            return f"nothing answers at {server.url}"
        if isinstance(error, OSError) and server.url is None:
            return f"could not start {server.command!r}: {error.strerror or error}"
        if isinstance(error, MCPError) and error.code == CONNECTION_CLOSED:
            return "its process exited" if server.url is None else "the connection closed"
        return first_line(error, kind=True)

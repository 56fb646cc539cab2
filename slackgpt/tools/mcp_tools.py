"""The operator's MCP servers as tools for the answerer.

:class:`McpTools` keeps one :class:`~slackgpt.tools.mcp_link.ServerLink` per server (see
``MCP_SERVERS``) and turns the tools they list into :class:`McpTool` objects, which are
:class:`~slackgpt.tools.base.Tool`: the name the model sees (unique across servers), the title
a person sees, whether it writes (then it runs only after the asker's approval, which the
tool loop asks of an :class:`~slackgpt.tools.base.Approver`). :meth:`McpTools.tools_for`
gives the tools offered for a question (by its channel; the shape of a tool source:
``tools_for(asker, text)``); :meth:`McpTools.tool` finds one by the name the model called.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from slackgpt.config.mcp_servers import McpServer
from slackgpt.tools.base import Asker, ToolResult

if TYPE_CHECKING:
    from slackgpt.tools.mcp_link import ServerLink

log = logging.getLogger(__name__)

START_PATIENCE = 10.0  # seconds start-up waits for the servers (each keeps trying after)


def _sdk() -> tuple[ModuleType, ModuleType]:
    """The modules that speak MCP, imported at first use: the SDK takes half a second or more
    to import, which a bot without MCP servers need not pay at every start."""
    from slackgpt.tools import mcp_link, mcp_shapes

    return mcp_link, mcp_shapes


@dataclass(frozen=True, eq=False)
class McpTool:
    """One tool of one MCP server, as the answerer sees a tool."""

    name: str
    title: str
    description: str
    parameters: dict = field(repr=False)
    writes: bool
    server: str
    remote: str  # the server's own name for the tool
    link: ServerLink = field(repr=False)

    async def run(self, arguments: dict, asker: Asker) -> ToolResult:
        """Call the tool on its server (the server learns nothing of ``asker``)."""
        mcp_link, mcp_shapes = _sdk()
        try:
            result = await self.link.call(self.remote, arguments)
        except mcp_link.CallFailed as failure:
            level = logging.DEBUG if failure.down else logging.INFO  # an outage: said once
            log.log(level, "MCP tool %s of %s gave no result: %s", self.remote, self.server,
                    failure)
            return ToolResult(f"{self.title} could not run: {failure}.", error=True)
        return mcp_shapes.to_result(result)


class McpTools:
    """Every configured MCP server, connected, and its tools that the operator allows."""

    def __init__(self, servers: Sequence[McpServer], *, refresh: float | None = None):
        self.links: list[ServerLink] = []
        if servers:
            link = _sdk()[0].ServerLink
            every = {} if refresh is None else {"refresh": refresh}
            self.links = [link(s, on_tools=self._rebuild, **every) for s in servers]
        self._tools: dict[str, McpTool] = {}
        self._told: set[tuple[str, str]] = set()  # (server, tool) left out, said once

    def connect(self) -> None:
        """Start connecting to every server (each in a task of its own); returns at once."""
        for link in self.links:
            link.start()

    async def ready(self, patience: float = START_PATIENCE) -> None:
        """Wait up to ``patience`` seconds for the servers' first answers (tools listed, or
        why not); one log line of what is up. A server not up keeps being tried."""
        self.connect()
        await asyncio.gather(*(link.ready(patience) for link in self.links))
        if self.links:
            up = sum(link.up for link in self.links)
            log.info("MCP: %d of %d servers up, %d tools offered", up, len(self.links),
                     len(self._tools))

    def tools_for(self, asker: Asker, text: str = "") -> list[McpTool]:
        """The tools offered for ``asker``'s question, by the channel it is asked in (a
        server's last known tools, also while it is away: a call then says it cannot be
        reached). ``text`` (the question) is not needed: every allowed tool is offered."""
        return [t for t in self._tools.values() if t.link.server.offered_in(asker.channel)]

    def tool(self, name: str) -> McpTool | None:
        """The tool the model calls ``name``, or None."""
        return self._tools.get(name)

    async def close(self) -> None:
        """End every session."""
        await asyncio.gather(*(link.close() for link in self.links))

    def _rebuild(self) -> None:
        """The tools again, after a server listed different ones."""
        mcp_shapes = _sdk()[1]
        offered = [
            (link, spec)
            for link in self.links
            for spec in link.tools
            if link.server.offers(spec.name) and self._usable(link, spec, mcp_shapes)
        ]
        names = mcp_shapes.model_names((link.server.name, spec.name) for link, spec in offered)
        tools = {}
        for link, spec in offered:
            server = link.server.name
            tool = McpTool(
                name=names[(server, spec.name)],
                title=mcp_shapes.title_of(spec, server),
                description=mcp_shapes.description_of(spec, server),
                parameters=mcp_shapes.parameters_of(spec),
                writes=mcp_shapes.writes(spec),
                server=server,
                remote=spec.name,
                link=link,
            )
            tools[tool.name] = tool
        self._tools = tools


    def _usable(self, link: ServerLink, spec: Any, mcp_shapes: ModuleType) -> bool:
        """False (said once) for a tool whose input schema the model's server would refuse,
        with every other tool of the request."""
        problem = mcp_shapes.schema_problem(mcp_shapes.parameters_of(spec))
        if problem is None:
            return True
        key = (link.server.name, spec.name)
        if key not in self._told:
            self._told.add(key)
            log.warning("MCP server %s: tool %r left out, its input schema is not valid JSON "
                        "Schema: %s", link.server.name, spec.name[:64], problem)
        return False


async def check_servers(servers: Sequence[McpServer]) -> list[tuple[McpServer, str, bool]]:
    """Connect to each server once and list its tools (``--check``): (server, what was found
    or why it cannot be used, whether it worked)."""
    links = [_sdk()[0].ServerLink(server) for server in servers]
    problems = await asyncio.gather(*(link.probe() for link in links))
    return [
        (link.server, problem or _found(link), problem is None)
        for link, problem in zip(links, problems, strict=True)
    ]


def _found(link: ServerLink) -> str:
    offered = [t for t in link.tools if link.server.offers(t.name)]
    writing = sum(_sdk()[1].writes(t) for t in offered)
    where = "everywhere" if link.server.channels is None else (
        f"in {len(link.server.channels)} channel(s)"
    )
    return (f"{len(link.tools)} tools listed, {len(offered)} offered {where} "
            f"({writing} need the asker's approval)")

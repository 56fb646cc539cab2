"""What several test modules share: how to run ``app.py``, the events a person sends, the AI
pane's steps, the HTTP-mode client, small files. Test modules import this (and the fixtures of
``conftest.py``), never each other."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from fakes import bot_env
from fakes.mcp_server import McpHttpServer
from fakes.openai import FakeOpenAI
from fakes.slack import FakeSlack
from slackgpt.config.mcp_servers import McpServer
from slackgpt.config.settings import load_settings
from slackgpt.tools.base import Asker, ToolResult

ROOT = Path(__file__).resolve().parent.parent
"""The repository's root: ``app.py``, ``slackgpt/``, the docs."""

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
"""A real 1x1 PNG image."""


# -- waiting for what happens ----------------------------------------------------------------


async def until(
    condition: Callable[[], object | Awaitable[object]], timeout: float = 5.0, what: str = ""
) -> None:
    """Poll ``condition`` (plain or async) every 10 ms until it is true; AssertionError after
    ``timeout`` seconds. For what the fakes' own ``wait_for`` hooks do not see."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        await asyncio.sleep(0.01)  # the polling period


@dataclass
class Watched:
    """The calls of one method of a running bot's parts: how many began, and the result of
    each that ended (its exception, if it raised)."""

    started: int = 0
    results: list[object] = field(default_factory=list)

    @property
    def done(self) -> int:
        return len(self.results)


def watch(parts: Iterable[object], method: str) -> Watched:
    """Wrap the async ``method`` of each of ``parts`` (e.g. every copy's ``answerer``, whose
    ``answer`` each question goes through) so that a test can wait for the calls to be over:
    once a question's call has returned, nothing more of it can appear in Slack."""
    watched = Watched()
    for part in parts:
        real = getattr(part, method)

        async def counted(*args: object, _real=real, **kwargs: object) -> object:
            watched.started += 1
            try:
                result = await _real(*args, **kwargs)
            except Exception as error:
                watched.results.append(error)
                raise
            watched.results.append(result)
            return result

        setattr(part, method, counted)
    return watched


async def until_handled(watched: Watched, count: int, timeout: float = 5.0) -> None:
    """Wait until ``count`` calls of a ``watch``-ed method are over (each event a bot took as
    a question: answered, refused, left alone or skipped as a duplicate), and no more began:
    what the bots did about those events is all there is to see."""
    await until(lambda: watched.done >= count, timeout, f"{count} calls over")
    assert watched.done == watched.started == count


# -- the bot's settings and process ------------------------------------------------------------


def env_for(slack: FakeSlack, llm: FakeOpenAI, **extra: str) -> dict[str, str]:
    """The environment that points the bot at the fakes, with the tests' short timeouts."""
    quick = {"OPENAI_TIMEOUT": "5", "OPENAI_MAX_RETRIES": "0", "STREAM_INTERVAL": "0.2"}
    return bot_env(slack, llm, **{**quick, **extra})


async def run_app(
    env: dict[str, str], cwd: Path, *args: str, python_flags: Sequence[str] = ()
) -> asyncio.subprocess.Process:
    """Start ``python [python_flags] app.py *args`` with exactly ``env`` (plus PATH); returns
    the process."""
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
            "XDG_STATE_HOME": str(cwd)}  # the bot's usage file in the test's folder
    return await asyncio.create_subprocess_exec(
        sys.executable, *python_flags, str(ROOT / "app.py"), *args,
        cwd=cwd, env={**base, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def finished(process: asyncio.subprocess.Process, timeout: float = 20.0) -> tuple[int, str]:
    """Wait for the process to end: its exit status and what it wrote to stderr."""
    _, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, err.decode()


# -- what people send ------------------------------------------------------------------------


async def thread_reply(slack, root, text, user="U1", channel_type="channel"):
    """A person's reply in a thread, delivered as Slack's `message` event."""
    msg = slack.add_message(root["channel"], text, user=user, thread_ts=root["ts"])
    await slack.send_event(
        {"type": "message", "user": user, "text": text, "ts": msg["ts"],
         "thread_ts": root["ts"], "channel": root["channel"], "channel_type": channel_type,
         "event_ts": msg["ts"], "team": slack.team_id}
    )
    return msg


def mention_event(slack, message) -> dict:
    """The ``app_mention`` event of ``message`` (a message of ``slack.add_message``)."""
    return {"type": "app_mention", "user": "U1", "text": message["text"], "ts": message["ts"],
            "channel": message["channel"], "event_ts": message["ts"], "team": slack.team_id}


# -- the AI pane -------------------------------------------------------------------------------

GREETING = "Hi! Ask me anything about this channel."


def system_prompt(request: dict) -> str:
    """The system message of a request the model received."""
    return str(request["messages"][0]["content"])


async def open_pane(slack, *, context_channel: str | None = "C1", user: str = "U1"):
    """A person opens the pane beside ``context_channel``; wait until the bot has set it up."""
    thread = await slack.start_assistant_thread(user, context_channel=context_channel)
    started = slack.envelopes[-1]["envelope_id"]
    await slack.acked(started)
    await slack.wait_for(lambda: (thread.channel, thread.thread_ts) in slack.suggested_prompts)
    return thread


async def ask(slack, thread, text: str, count: int = 1) -> list[dict]:
    """A question in the pane thread; the bot's finished replies there (greeting excluded)."""
    await slack.assistant_message(thread, text)

    def answers() -> list[dict]:
        return [r for r in slack.bot_replies(thread.channel, thread.thread_ts)
                if r["text"] != GREETING]

    await slack.wait_for(
        lambda: len(answers()) >= count and not any(r["streaming"] for r in answers())
        and all(slack.feedback_buttons(thread.channel, r["ts"]) for r in answers()[-1:]),
        timeout=8,
    )
    return answers()


# -- HTTP mode ---------------------------------------------------------------------------------

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
"""The signing secret the HTTP-mode tests give the bot."""


@dataclass
class HttpBot:
    """The bot's Bolt app served over HTTP, and how to POST to it as Slack would."""

    url: str
    session: aiohttp.ClientSession

    async def post(
        self, payload: dict, *, secret: str = SECRET, age: float = 0.0
    ) -> aiohttp.ClientResponse:
        body = json.dumps(payload)
        timestamp = str(int(time.time() - age))
        signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature or "",
        }
        async with self.session.post(self.url + "/slack/events", data=body, headers=headers) as r:
            await r.read()
            return r


def mention_payload(slack: FakeSlack, message: dict) -> dict:
    """The Events API body Slack POSTs for an ``app_mention`` of ``message``."""
    event = {
        "type": "app_mention",
        "user": message["user"],
        "text": message["text"],
        "ts": message["ts"],
        "channel": message["channel"],
        "event_ts": message["ts"],
        "team": slack.team_id,
        "client_msg_id": str(uuid.uuid4()),
    }
    return {
        "token": "legacy-verification-token",
        "team_id": slack.team_id,
        "api_app_id": slack.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": slack.team_id, "user_id": slack.bot_user_id, "is_bot": True}
        ],
    }


# -- MCP servers and approvals -----------------------------------------------------------------

MCP_TOKEN = "mcp-t0ken-for-tests-1234"
"""The bearer token the HTTP MCP server of the tests wants (from TICKETS_TOKEN)."""
STDIO_SERVER = ROOT / "fakes" / "mcp_server.py"
TOOLS_CHANNEL = "C0TICKETS1"
"""The one channel where :func:`tickets_toml`'s stdio server is offered."""


def mcp_servers(
    slack: FakeSlack, llm: FakeOpenAI, tmp_path: Path, toml: str, **env: str
) -> tuple[McpServer, ...]:
    """The servers of an MCP_SERVERS file holding ``toml``, read as the bot reads it, with
    ``env`` (and TICKETS_TOKEN = MCP_TOKEN) in the environment."""
    path = tmp_path / "mcp.toml"
    path.write_text(toml)
    environment = env_for(slack, llm, MCP_SERVERS=str(path), TICKETS_TOKEN=MCP_TOKEN, **env)
    return load_settings(environment).mcp_servers


def tickets_toml(server: McpHttpServer, channels: str = '"*"', extra: str = "") -> str:
    """An MCP_SERVERS file with the HTTP server ``tickets`` and the stdio server ``local``."""
    return (
        f'[servers.tickets]\nurl = "{server.url}"\n'
        'headers = { Authorization = "Bearer ${TICKETS_TOKEN}" }\n'
        f"channels = {channels}\ntimeout = 5\n{extra}\n"
        f'[servers.local]\ncommand = "{sys.executable}"\nargs = ["{STDIO_SERVER}"]\n'
        f'channels = ["{TOOLS_CHANNEL}"]\ntimeout = 10\n'
    )


async def run_tool(runtime, name: str, arguments: dict, asker: Asker) -> ToolResult:
    """One tool call as the tool loop makes it (a test's stand-in until the loop is merged):
    a tool that writes runs only after the asker approved it."""
    tool = runtime.mcp.tool(name)
    assert tool is not None, f"no tool {name}"
    if tool.writes and not await runtime.approvals.approve(tool, arguments, asker):
        return ToolResult("The person who asked did not approve this.", error=True)
    return await tool.run(arguments, asker)


async def approval_request(slack: FakeSlack, channel: str, thread_ts: str) -> dict:
    """Wait for the bot's request for approval in a thread (a message with buttons)."""

    def asking() -> list[dict]:
        return [m for m in slack.bot_replies(channel, thread_ts)
                if any(b.get("type") == "actions" for b in m.get("blocks") or [])]

    await slack.wait_for(lambda: bool(asking()), 5, "a request for approval")
    return asking()[-1]


def outcome_of(slack: FakeSlack, channel: str, request: dict) -> str | None:
    """The line that replaced the buttons of a ``request`` for approval (None while it
    waits)."""
    [now] = [m for m in slack.bot_replies(channel, request["thread_ts"])
             if m["ts"] == request["ts"]]
    blocks = now.get("blocks") or []
    lines = [b["elements"][0]["text"] for b in blocks if b.get("type") == "context"]
    return lines[0] if lines else None


# -- talking to the fake Slack directly (tests of the fakes) ---------------------------------


def web(slack: FakeSlack, **options: object) -> AsyncWebClient:
    """slack_sdk's Web API client with the bot token, pointed at the fake Slack."""
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, **options)  # type: ignore[arg-type]


class Listener:
    """A Socket Mode client that acks every envelope and keeps the events."""

    def __init__(self, slack: FakeSlack) -> None:
        self.client = SocketModeClient(app_token=slack.app_token, web_client=web(slack))
        self.events: list[dict] = []
        self.client.socket_mode_request_listeners.append(self._on_request)  # type: ignore[arg-type]

    async def _on_request(self, client: SocketModeClient, req: SocketModeRequest) -> None:
        self.events.append(req.payload["event"])
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

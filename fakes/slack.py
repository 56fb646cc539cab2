"""FakeSlack: Slack's Web API (``/api/<method>``) and Socket Mode (``/link/``) in-process.

Point ``AsyncWebClient(base_url=slack.api_url)`` at it; ``apps.connections.open`` hands
out ``ws://`` URLs to the same aiohttp server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import secrets
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import WSMsgType, web

from fakes.slack_errors import SlackError
from fakes.slack_files import FileHosting
from fakes.slack_limits import RateLimiter
from fakes.slack_pane import PaneMixin, context_actions_error

Json = dict[str, Any]

TEXT_LIMIT = 40_000  # chat.postMessage truncates longer text; chat.update refuses it
MARKDOWN_LIMIT = 12_000  # markdown blocks per message; markdown_text per stream call
SECTION_LIMIT = 3_000
MAX_BLOCKS = 50
MAX_RETRIES = 3  # Slack redelivers an unacked event at most three times
JSON_FIELDS = ("blocks", "attachments", "chunks", "loading_messages", "metadata")
CHUNK_TYPES = ("markdown_text", "task_update", "plan_update", "blocks")


@dataclass
class Call:
    """One Web API call as received (``response`` and ``status``: what the fake answered)."""

    method: str
    params: Json
    token: str
    at: float
    response: Json = field(default_factory=dict)
    status: int = 200


class Status(NamedTuple):
    """One ``assistant.threads.setStatus`` call."""

    channel: str
    thread_ts: str
    status: str
    loading_messages: list[str] | None
    at: float


@dataclass
class _Fault:
    error: str
    times: int | None
    status: int
    retry_after: int | None


@dataclass
class _Msg:
    channel: str
    ts: str
    text: str
    user: str | None
    thread_ts: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    blocks: list[Json] | None = None
    files: list[Json] | None = None
    subtype: str | None = None
    markdown: str | None = None  # accumulated by chat.*Stream; None if never streamed
    streaming: bool = False
    stopped_by_user: bool = False
    at: float = field(default_factory=time.monotonic)

    def visible(self) -> str:
        """The text a person sees."""
        if self.markdown is not None:
            return self.markdown
        parts = [b.get("text", "") for b in self.blocks or [] if b.get("type") == "markdown"]
        return "\n".join(parts) if parts else self.text

    def api(self, team: str) -> Json:
        """The message as the Web API shows it."""
        text = self.text if self.markdown is None else self.markdown
        out = {"type": "message", "ts": self.ts, "text": text, "team": team}
        keys = ("user", "thread_ts", "bot_id", "app_id", "blocks", "files", "subtype")
        return out | {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


def _markdown_of(params: Json) -> str:
    """``markdown_text`` plus the text of any ``markdown_text`` chunks."""
    chunks = params.get("chunks") or []
    if not isinstance(chunks, list) or any(
        not isinstance(c, dict) or c.get("type") not in CHUNK_TYPES for c in chunks
    ):
        raise SlackError("invalid_chunks")
    texts = [c.get("text", "") for c in chunks if c["type"] == "markdown_text"]
    return str(params.get("markdown_text") or "") + "".join(texts)


def _check_blocks(blocks: Any) -> None:
    """Slack's block limits: 50 blocks, 12,000 markdown characters, 3,000 per section."""
    if blocks is None:
        return
    if not isinstance(blocks, list) or not all(isinstance(b, dict) and "type" in b for b in blocks):
        raise SlackError("invalid_blocks_format")
    sections = [(b.get("text") or {}).get("text", "") for b in blocks if b["type"] == "section"]
    if len(blocks) > MAX_BLOCKS or any(len(s) > SECTION_LIMIT for s in sections):
        raise SlackError("invalid_blocks")
    if sum(len(b.get("text", "")) for b in blocks if b["type"] == "markdown") > MARKDOWN_LIMIT:
        raise SlackError("msg_blocks_too_long")
    if error := context_actions_error(blocks):  # feedback buttons: fakes/slack_pane.py
        raise SlackError(error)


class FakeSlack(PaneMixin, FileHosting):
    """A workspace with one bot, speaking Slack's wire protocols.

    ``latency``: seconds Slack takes to answer a call or deliver an envelope. ``page_size``:
    most messages per ``conversations.replies`` page. ``ack_timeout``: redeliver an unacked
    event after this many seconds, as Slack does (None: never). ``rate_limits``: Slack's rate
    tiers (``True``: at Slack's pace; a :class:`RateLimiter` for a shorter window or other
    limits; ``False``: unlimited, the default); over a limit a call gets HTTP 429 with
    ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``. ``connect_cost``: seconds a
    new Web API connection waits before its first request (TCP + TLS handshakes; 0 on
    loopback). ``backlog``: the listen queue (aiohttp's 128 drops connections in a burst of
    hundreds). ``on_envelope_sent(envelope, at)``: called as each envelope is written to a
    socket (``wire_times`` keeps those times too).
    """

    bot_token = "xoxb-fake-bot"
    app_token = "xapp-fake-app"
    bot_user_id = "UBOT"
    bot_id = "BBOT"
    team_id = "T1"
    app_id = "A1"
    scopes = (
        "app_mentions:read,chat:write,channels:history,groups:history,im:history,"
        "mpim:history,reactions:write,files:read,assistant:write"
    )
    stream_max_chars = 12_000  # cumulative cap on one streamed message (msg_too_long)
    stream_ttl: float | None = None  # seconds after which Slack ends an open stream

    def __init__(
        self,
        *,
        latency: float = 0.0,
        page_size: int = 1000,
        ack_timeout: float | None = None,
        rate_limits: bool | RateLimiter = False,
        connect_cost: float = 0.0,
        backlog: int = 128,
        on_envelope_sent: Callable[[Json, float], None] | None = None,
    ) -> None:
        self.latency, self.page_size, self.ack_timeout = latency, page_size, ack_timeout
        self.connect_cost, self.backlog = connect_cost, backlog
        self.on_envelope_sent = on_envelope_sent
        self.wire_times: dict[str, float] = {}  # envelope_id → when first written to a socket
        self._api_peers: set[Any] = set()  # client (host, port) of every Web API connection
        self.rate_limits: RateLimiter | None = (
            RateLimiter() if rate_limits is True else rate_limits or None
        )
        self.port = 0
        self.calls: list[Call] = []
        self.acks: dict[str, float] = {}
        self.envelopes: list[Json] = []  # every envelope sent, redeliveries included
        self.statuses: list[Status] = []
        self.reactions: dict[tuple[str, str], set[str]] = {}
        self.connections_opened = 0
        self._messages: dict[tuple[str, str], _Msg] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._tickets: set[str] = set()
        self._sockets: dict[web.WebSocketResponse, asyncio.BaseTransport] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_us = self._next_socket = 0
        self._runner: web.AppRunner | None = None
        self._init_files(backlog)

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._web_api)
        app.router.add_get("/link/", self._socket)
        app.router.add_get("/files-pri/{team_file}/{name}", self._file)
        self._add_pane_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, backlog=self.backlog).start()
        self.port = self._runner.addresses[0][1]
        await self.foreign.start()

    async def stop(self) -> None:
        """Cancel redeliveries, cut sockets and stop listening."""
        for task in list(self._tasks):
            task.cancel()
        await self.drop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.foreign.stop()

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        """The base URL for ``AsyncWebClient(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def sockets_open(self) -> int:
        """How many Socket Mode connections are live."""
        return len(self._sockets)

    @property
    def api_connections(self) -> int:
        """How many distinct connections have carried Web API calls so far."""
        return len(self._api_peers)

    # -- test helpers ----------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        """The calls made to one Web API method, in order."""
        return [c for c in self.calls if c.method == method]

    def throttled(self, method: str | None = None) -> int:
        """How many calls to ``method`` (None: to any method) were answered HTTP 429."""
        return sum(1 for c in self.calls if c.status == 429 and method in (None, c.method))

    def fail(
        self,
        method: str,
        error: str = "internal_error",
        *,
        times: int | None = 1,
        status: int = 200,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``times`` calls (None: all) of ``method`` fail with ``error``."""
        if status == 429:
            error, retry_after = "ratelimited", 1 if retry_after is None else retry_after
        self._faults.setdefault(method, []).append(_Fault(error, times, status, retry_after))

    def heal(self, method: str | None = None) -> None:
        """Forget pending failures of ``method`` (or of all methods)."""
        if method is None:
            self._faults.clear()
        self._faults.pop(method or "", None)

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str | None = "U1",
        thread_ts: str | None = None,
        bot_id: str | None = None,
        files: list[Json] | None = None,
        subtype: str | None = None,
    ) -> Json:
        """Store a message as if someone posted it; return it (with ``channel``)."""
        msg = _Msg(channel, self._new_ts(), text, user, thread_ts, bot_id, files=files)
        msg.subtype = subtype
        self._messages[(channel, msg.ts)] = msg
        return {**msg.api(self.team_id), "channel": channel}

    async def mention(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U1",
        thread_ts: str | None = None,
        files: list[Json] | None = None,
    ) -> Json:
        """Post a message and deliver its ``app_mention`` event."""
        msg = self.add_message(channel, text, user=user, thread_ts=thread_ts, files=files)
        await self.send_event(self._user_event("app_mention", msg))
        return msg

    async def dm(
        self, text: str, *, user: str = "U1", channel: str = "D1", thread_ts: str | None = None
    ) -> Json:
        """Post a direct message and deliver its ``message`` event (``channel_type: im``)."""
        msg = self.add_message(channel, text, user=user, thread_ts=thread_ts)
        await self.send_event({**self._user_event("message", msg), "channel_type": "im"})
        return msg

    def thread(self, channel: str, thread_ts: str) -> list[Json]:
        """What a person sees: root then replies, ``text`` visible, ``streaming`` flag."""
        return [self._seen(m) for m in self._thread(channel, thread_ts)]

    def _seen(self, m: _Msg) -> Json:
        return {"user": m.user, "bot_id": m.bot_id, **m.api(self.team_id)} | {
            "channel": m.channel,
            "text": m.visible(),
            "streaming": m.streaming,
        }

    def channel_messages(self, channel: str) -> list[Json]:
        """Every message of a channel, replies included, oldest first, as ``thread`` shows them."""
        found = [m for (ch, _), m in self._messages.items() if ch == channel]
        return [self._seen(m) for m in sorted(found, key=lambda m: m.ts)]

    def bot_replies(self, channel: str, thread_ts: str) -> list[Json]:
        """This bot's messages in a thread."""
        return [m for m in self.thread(channel, thread_ts) if m["bot_id"] == self.bot_id]

    def current_status(self, channel: str, thread_ts: str) -> str:
        """The thread's status line now: the last one set, unless a bot reply followed."""
        sets = [s for s in self.statuses if (s.channel, s.thread_ts) == (channel, thread_ts)]
        mine = [m for m in self._thread(channel, thread_ts) if m.bot_id == self.bot_id]
        if not sets or any(m.at > sets[-1].at for m in mine):
            return ""
        return sets[-1].status

    def stop_by_user(self, channel: str, ts: str) -> None:
        """Press the stop button of a streaming message."""
        msg = self._messages[(channel, ts)]
        msg.streaming, msg.stopped_by_user = False, True

    def bot_text(self, channel: str, thread_ts: str) -> str:
        """All the bot's visible text in a thread, message after message."""
        return "\n".join(m["text"] for m in self.bot_replies(channel, thread_ts))

    async def answered(
        self, channel: str, thread_ts: str, count: int = 1, timeout: float = 8.0
    ) -> list[Json]:
        """Wait until the bot has ``count`` finished replies in a thread; return its replies."""

        def done() -> bool:
            replies = self.bot_replies(channel, thread_ts)
            return len(replies) >= count and not any(m["streaming"] for m in replies)

        await self.wait_for(done, timeout, f"{count} finished bot replies in {thread_ts}")
        return self.bot_replies(channel, thread_ts)

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 5.0, message: str = ""
    ) -> None:
        """Poll ``predicate`` until true; AssertionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                recent = [f"{c.method}:{c.response.get('error', 'ok')}" for c in self.calls[-8:]]
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {message or predicate}; "
                    f"{self.sockets_open} sockets open; last calls {recent}"
                )
            await asyncio.sleep(0.01)

    # -- Socket Mode -----------------------------------------------------------------

    async def send_event(
        self,
        event: Json,
        *,
        event_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Deliver an Events API envelope on an open socket; return its envelope_id."""
        auth = {"enterprise_id": None, "team_id": self.team_id, "user_id": self.bot_user_id}
        payload = {
            "token": "fake-verification-token",
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()),
            "authorizations": [auth | {"is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
        }
        envelope_id = await self._deliver(payload, retry_attempt, retry_reason)
        if self.ack_timeout is not None:
            self._spawn(self._redeliver(payload, retry_attempt, envelope_id))
        return envelope_id

    async def disconnect(self, reason: str = "warning", *, close_after: float = 1.0) -> None:
        """Ask every open socket to reconnect; close those still open ``close_after`` later."""
        doomed = list(self._sockets)
        for ws in doomed:
            await self._send(ws, {"type": "disconnect", "reason": reason, "debug_info": {}})

        async def close_later() -> None:
            await asyncio.sleep(close_after)
            for ws in doomed:
                await ws.close()

        self._spawn(close_later())

    async def drop(self) -> None:
        """Abort every socket without a close frame."""
        for transport in list(self._sockets.values()):
            transport.abort()

    async def _deliver(self, payload: Json, attempt: int, reason: str) -> str:
        extra = {"retry_attempt": attempt, "retry_reason": reason}
        return await self.send_envelope("events_api", payload, **extra)

    async def send_envelope(self, kind: str, payload: Json, **extra: Any) -> str:
        """Send one Socket Mode envelope of type ``kind`` on an open socket; return its id."""
        await self.wait_for(lambda: bool(self._sockets), message="a Socket Mode connection")
        envelope = {
            "envelope_id": str(uuid.uuid4()),
            "payload": payload,
            "type": kind,
            "accepts_response_payload": False,
            **extra,
        }
        self.envelopes.append(envelope)
        sockets = list(self._sockets)
        self._next_socket += 1  # Slack spreads events over the app's connections
        await self._send(sockets[self._next_socket % len(sockets)], envelope)
        return envelope["envelope_id"]

    async def _redeliver(self, payload: Json, attempt: int, envelope_id: str) -> None:
        sent = [envelope_id]
        while attempt < MAX_RETRIES:
            await asyncio.sleep(self.ack_timeout or 0.0)
            if any(e in self.acks for e in sent):
                return
            attempt += 1
            sent.append(await self._deliver(payload, attempt, "timeout"))

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets or request.transport is None:
            return web.Response(status=401, text="invalid or used ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True, timeout=1.0)  # autoping: pong every ping
        await ws.prepare(request)
        hello = {
            "type": "hello",
            "num_connections": len(self._sockets) + 1,
            "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        await self._send(ws, hello)
        self._sockets[ws] = request.transport
        try:
            async for msg in ws:
                ack = json.loads(msg.data) if msg.type == WSMsgType.TEXT else {}
                if eid := ack.get("envelope_id"):
                    self.acks.setdefault(eid, time.monotonic())
                    self.ack_payloads.setdefault(eid, ack.get("payload"))
        finally:
            del self._sockets[ws]
        return ws

    async def _send(self, ws: web.WebSocketResponse, data: Json) -> None:
        if self.latency:
            await asyncio.sleep(self.latency)
        with contextlib.suppress(ConnectionError):
            if not ws.closed:
                await ws.send_json(data)
                if envelope_id := data.get("envelope_id"):
                    self._envelope_sent(envelope_id, data)

    def _envelope_sent(self, envelope_id: str, envelope: Json) -> None:
        at = self.wire_times.setdefault(envelope_id, time.monotonic())
        if self.on_envelope_sent is not None:
            self.on_envelope_sent(envelope, at)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _user_event(self, kind: str, msg: Json) -> Json:
        event = {"type": kind, "user": msg["user"], "text": msg["text"], "ts": msg["ts"]}
        event |= {"channel": msg["channel"], "event_ts": msg["ts"], "team": self.team_id}
        event["client_msg_id"] = str(uuid.uuid4())
        return event | {k: msg[k] for k in ("thread_ts", "files") if k in msg}

    # -- Web API ---------------------------------------------------------------------

    async def _web_api(self, request: web.Request) -> web.Response:
        await self._new_connection(request)
        method, params, bad_json = request.match_info["method"], dict(request.query), False
        if request.body_exists and request.content_type == "application/json":
            try:
                params.update(await request.json())
            except ValueError:
                bad_json = True
        elif request.body_exists:
            params.update((await request.post()).items())
        for key in JSON_FIELDS:
            if isinstance(params.get(key), str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        token = str(params.pop("token", "") or bearer)
        call = Call(method, params, token, time.monotonic())
        self.calls.append(call)
        if self.latency:
            await asyncio.sleep(self.latency)
        status, headers = 200, {"x-oauth-scopes": self.scopes} if token == self.bot_token else {}
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        try:
            if fault := self._refusal(call, handler is None, bad_json):
                status = fault.status
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                raise SlackError(fault.error)
            assert handler is not None
            call.response = {"ok": True, **handler(params)}
        except SlackError as e:
            call.response = {"ok": False, "error": str(e)}
        call.status = status
        return web.json_response(call.response, status=status, headers=headers)

    def _refusal(self, call: Call, unknown: bool, bad_json: bool) -> _Fault | None:
        """An injected fault or a rate limit for the call; raises SlackError if it is invalid."""
        if fault := self._take_fault(call.method):
            return fault
        if unknown or bad_json:
            raise SlackError("unknown_method" if unknown else "invalid_json")
        self._authorize(call.method, call.token)
        limits = self.rate_limits
        if limits is not None and (wait := limits.admit(call.method, call.params)):
            return _Fault("ratelimited", 1, 429, max(1, math.ceil(wait)))  # whole seconds
        return None

    async def _new_connection(self, request: web.Request) -> None:
        """Note the client's connection; a new one first pays ``connect_cost``."""
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer not in self._api_peers:
            self._api_peers.add(peer)
            if self.connect_cost:
                await asyncio.sleep(self.connect_cost)  # before the request reaches Slack

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        if queue[0].times is not None:
            queue[0].times -= 1
            if queue[0].times <= 0:
                return queue.pop(0)
        return queue[0]

    def _authorize(self, method: str, token: str) -> None:
        if not token:
            raise SlackError("not_authed")
        if token not in (self.bot_token, self.app_token):
            raise SlackError("invalid_auth")
        if token != (self.app_token if method == "apps.connections.open" else self.bot_token):
            raise SlackError("not_allowed_token_type")

    def _new_ts(self) -> str:
        self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def _thread(self, channel: str, thread_ts: str) -> list[_Msg]:
        found = [m for (ch, ts), m in self._messages.items() if ch == channel]
        return sorted((m for m in found if thread_ts in (m.ts, m.thread_ts)), key=lambda m: m.ts)

    def _find(self, params: Json, ts_key: str = "ts", missing: str = "message_not_found") -> _Msg:
        msg = self._messages.get((params.get("channel") or "", str(params.get(ts_key) or "")))
        if msg is None:
            raise SlackError(missing)
        return msg

    def _post(self, channel: str, text: str, thread_ts: str | None, **kw: Any) -> _Msg:
        msg = _Msg(channel, self._new_ts(), text, self.bot_user_id, thread_ts or None, **kw)
        msg.bot_id, msg.app_id = self.bot_id, self.app_id
        self._messages[(channel, msg.ts)] = msg
        return msg

    def _api_auth_test(self, params: Json) -> Json:
        return {
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "slackgpt",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _api_apps_connections_open(self, params: Json) -> Json:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        self.connections_opened += 1
        return {"url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}"}

    def _api_conversations_replies(self, params: Json) -> Json:
        self._member_of(params.get("channel"))  # a declared channel the bot is not in
        root = self._find(params, missing="thread_not_found")
        is_reply = root.thread_ts not in (None, root.ts)  # a reply's ts lists only that reply
        thread = [root] if is_reply else self._thread(root.channel, root.ts)
        messages = [m.api(self.team_id) for m in thread]
        if len(thread) > 1:
            users = sorted({m.user for m in thread[1:] if m.user})
            messages[0] |= {"thread_ts": root.ts, "reply_count": len(thread) - 1}
            messages[0] |= {"latest_reply": thread[-1].ts, "reply_users": users}
            for m in messages[1:]:
                m["parent_user_id"] = root.user
        start = 0
        if params.get("cursor"):
            try:
                after = base64.b64decode(params["cursor"]).decode().removeprefix("next_ts:")
                start = [m["ts"] for m in messages].index(after)
            except ValueError as e:
                raise SlackError("invalid_cursor") from e
        size = max(1, min(int(params.get("limit") or 1000), 1000, self.page_size))
        page, rest = messages[start : start + size], messages[start + size :]
        cursor = base64.b64encode(f"next_ts:{rest[0]['ts']}".encode()).decode() if rest else ""
        return {
            "messages": page,
            "has_more": bool(rest),
            "response_metadata": {"next_cursor": cursor},
        }

    def _api_chat_postMessage(self, params: Json) -> Json:
        channel, blocks = params.get("channel"), params.get("blocks")
        text = str(params.get("text") or "")
        if not channel:
            raise SlackError("channel_not_found")
        if not text and not blocks and not params.get("attachments"):
            raise SlackError("no_text")
        _check_blocks(blocks)
        msg = self._post(channel, text[:TEXT_LIMIT], params.get("thread_ts"), blocks=blocks)
        return {"channel": channel, "ts": msg.ts, "message": msg.api(self.team_id)}

    def _api_chat_update(self, params: Json) -> Json:
        msg, text, blocks = self._find(params), params.get("text"), params.get("blocks")
        if msg.bot_id != self.bot_id:
            raise SlackError("cant_update_message")
        if msg.streaming:
            raise SlackError("streaming_state_conflict")
        if not text and blocks is None:
            raise SlackError("no_text")
        if text is not None and len(text) > TEXT_LIMIT:
            raise SlackError("msg_too_long")
        _check_blocks(blocks)
        msg.text = msg.text if text is None else text
        msg.blocks = msg.blocks if blocks is None else blocks or None  # omitted blocks stay
        msg.markdown = None
        return {"channel": msg.channel, "ts": msg.ts, "message": msg.api(self.team_id)}

    def _api_chat_startStream(self, params: Json) -> Json:
        channel, thread_ts = params.get("channel"), params.get("thread_ts")
        if not channel or not thread_ts:
            raise SlackError("channel_not_found" if not channel else "invalid_arguments")
        for key in ("recipient_user_id", "recipient_team_id"):
            if channel[0] in "CG" and not params.get(key):  # required in channels, not in DMs
                raise SlackError(f"missing_{key}")
        text = self._grow(params, "")
        msg = self._post(channel, "", thread_ts, markdown=text, streaming=True)
        return {"channel": channel, "ts": msg.ts}

    def _api_chat_appendStream(self, params: Json) -> Json:
        msg = self._open_stream(params)
        if not params.get("markdown_text") and not params.get("chunks"):
            raise SlackError("no_text")
        msg.markdown = self._grow(params, msg.markdown or "")
        return {"channel": msg.channel, "ts": msg.ts}

    def _api_chat_stopStream(self, params: Json) -> Json:
        msg = self._open_stream(params)
        _check_blocks(params.get("blocks"))  # before any change: a refused call changes nothing
        msg.markdown = self._grow(params, msg.markdown or "")
        msg.blocks, msg.streaming = params.get("blocks") or msg.blocks, False
        return {"channel": msg.channel, "ts": msg.ts, "message": msg.api(self.team_id)}

    def _open_stream(self, params: Json) -> _Msg:
        msg = self._find(params)
        if msg.bot_id != self.bot_id:
            raise SlackError("message_not_owned_by_app")
        if self.stream_ttl is not None and time.monotonic() - msg.at > self.stream_ttl:
            msg.streaming = False
        if msg.stopped_by_user or not msg.streaming:
            raise SlackError(
                "stopped_by_user" if msg.stopped_by_user else "message_not_in_streaming_state"
            )
        return msg

    def _grow(self, params: Json, before: str) -> str:
        added = _markdown_of(params)
        if len(added) > MARKDOWN_LIMIT or len(before) + len(added) > self.stream_max_chars:
            raise SlackError("msg_too_long")
        return before + added

    def _api_assistant_threads_setStatus(self, params: Json) -> Json:
        channel, thread_ts = params.get("channel_id"), params.get("thread_ts")
        status, loading = params.get("status"), params.get("loading_messages")
        if not channel or not thread_ts:
            raise SlackError("channel_not_found" if not channel else "invalid_thread_ts")
        if status is None or (loading and len(loading) > 10):
            raise SlackError("invalid_arguments")
        self.statuses.append(Status(channel, thread_ts, status, loading, time.monotonic()))
        return {}

    def _api_reactions_add(self, params: Json, add: bool = True) -> Json:
        if not params.get("name"):
            raise SlackError("invalid_name")
        msg = self._find(params, ts_key="timestamp")
        names = self.reactions.setdefault((msg.channel, msg.ts), set())
        if (params["name"] in names) == add:
            raise SlackError("already_reacted" if add else "no_reaction")
        (names.add if add else names.discard)(params["name"])
        return {}

    def _api_reactions_remove(self, params: Json) -> Json:
        return self._api_reactions_add(params, add=False)

    def _api_users_info(self, params: Json) -> Json:
        user = str(params.get("user") or "")
        if user[:1] not in ("U", "W"):
            raise SlackError("user_not_found")
        name = "slackgpt" if user == self.bot_user_id else f"user-{user.lower()}"
        profile = {"display_name": name, "real_name": f"User {user}", "team": self.team_id}
        user_obj = {"id": user, "team_id": self.team_id, "name": name, "deleted": False}
        user_obj |= {"real_name": profile["real_name"], "is_bot": user == self.bot_user_id}
        return {"user": user_obj | {"tz": "Europe/London", "profile": profile}}

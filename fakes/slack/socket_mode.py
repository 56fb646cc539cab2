"""Socket Mode on ``/link/``: hello, envelopes, acks, redelivery of unacked events, disconnects.

Slack sends each envelope on one of the app's open sockets (in turn), redelivers an events_api
envelope not acked within ``ack_timeout`` seconds up to three times (same ``event_id``,
``retry_reason: "timeout"``) and never redelivers an interaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import WSMsgType, web

from fakes.slack.records import Json
from fakes.slack.state import Workspace
from fakes.slack.wait import wait_until

MAX_RETRIES = 3  # Slack redelivers an unacked event at most three times
ACK_DEADLINE = 3.0  # seconds Slack waits for an interaction's ack before showing an error


class SocketMode:
    """The app's Socket Mode connections and what went over them.

    ``latency``: seconds before each frame is written. ``on_envelope_sent(envelope, at)``:
    called as each envelope is written (``wire_times`` keeps those times too). ``diagnose``:
    what a timed-out wait reports.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        latency: float = 0.0,
        ack_timeout: float | None = None,
        on_envelope_sent: Callable[[Json, float], None] | None = None,
        diagnose: Callable[[], str] = lambda: "",
    ) -> None:
        self.ws, self.latency, self.ack_timeout = ws, latency, ack_timeout
        self.on_envelope_sent, self.diagnose = on_envelope_sent, diagnose
        self.acks: dict[str, float] = {}  # envelope_id → when the app acked it
        self.ack_payloads: dict[str, Json | None] = {}  # envelope_id → the ack's payload
        self.envelopes: list[Json] = []  # every envelope sent, redeliveries included
        self.wire_times: dict[str, float] = {}  # envelope_id → when first written to a socket
        self.sent_at: dict[str, float] = {}  # interaction envelope_id → when it was sent
        self.sockets: dict[web.WebSocketResponse, asyncio.BaseTransport] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_socket = 0

    async def close(self) -> None:
        """Cancel pending redeliveries and cut every socket."""
        for task in list(self._tasks):
            task.cancel()
        await self.drop()

    # -- sending ---------------------------------------------------------------------------

    async def send_event(
        self, event: Json, *, event_id: str | None, retry_attempt: int, retry_reason: str
    ) -> str:
        """Deliver an Events API envelope on an open socket; return its envelope_id."""
        ws = self.ws
        auth = {"enterprise_id": None, "team_id": ws.team_id, "user_id": ws.bot_user_id}
        payload = {
            "token": "fake-verification-token",
            "team_id": ws.team_id,
            "api_app_id": ws.app_id,
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

    async def send_envelope(self, kind: str, payload: Json, **extra: Any) -> str:
        """Send one envelope of type ``kind`` on an open socket; return its id."""
        await self.wait_for_socket()
        envelope = {
            "envelope_id": str(uuid.uuid4()),
            "payload": payload,
            "type": kind,
            "accepts_response_payload": False,
            **extra,
        }
        self.envelopes.append(envelope)
        sockets = list(self.sockets)
        self._next_socket += 1  # Slack spreads events over the app's connections
        await self._send(sockets[self._next_socket % len(sockets)], envelope)
        return envelope["envelope_id"]

    async def interact(self, payload: Json) -> str:
        """Send an ``interactive`` envelope (never redelivered; accepts no response payload)."""
        await self.wait_for_socket()
        sent = time.monotonic()
        envelope_id = await self.send_envelope("interactive", payload)
        self.sent_at[envelope_id] = sent
        return envelope_id

    async def wait_for_socket(self) -> None:
        """Wait (5 s at most) until the app has a socket open."""
        await wait_until(lambda: bool(self.sockets), 5.0, "a Socket Mode connection", self.diagnose)

    async def acked(self, envelope_id: str, within: float = ACK_DEADLINE) -> Json | None:
        """Wait for the app's ack of an envelope; return the payload it carried.

        AssertionError unless the ack came within ``within`` seconds of the envelope being
        sent (for an interaction; for an event, of this call).
        """
        sent = self.sent_at.get(envelope_id, time.monotonic())
        remaining = max(0.0, sent + within - time.monotonic())
        what = f"an ack of {envelope_id} within {within}s"
        await wait_until(lambda: envelope_id in self.acks, remaining, what, self.diagnose)
        if (delay := self.acks[envelope_id] - sent) > within:
            raise AssertionError(f"{envelope_id} was acked after {delay:.2f}s, over {within}s")
        return self.ack_payloads.get(envelope_id)

    # -- cutting ---------------------------------------------------------------------------

    async def disconnect(self, reason: str = "warning", *, close_after: float = 1.0) -> None:
        """Ask every open socket to reconnect; close those still open ``close_after`` later."""
        doomed = list(self.sockets)
        for ws in doomed:
            await self._send(ws, {"type": "disconnect", "reason": reason, "debug_info": {}})

        async def close_later() -> None:
            await asyncio.sleep(close_after)
            for ws in doomed:
                await ws.close()

        self._spawn(close_later())

    async def drop(self) -> None:
        """Abort every socket without a close frame."""
        for transport in list(self.sockets.values()):
            transport.abort()

    # -- the endpoint ----------------------------------------------------------------------

    async def link(self, request: web.Request) -> web.StreamResponse:
        """``GET /link/?ticket=…``: a WebSocket for a ticket from apps.connections.open."""
        ticket = request.query.get("ticket", "")
        if ticket not in self.ws.tickets or request.transport is None:
            return web.Response(status=401, text="invalid or used ticket")
        self.ws.tickets.discard(ticket)
        sock = web.WebSocketResponse(autoping=True, timeout=1.0)  # autoping: pong every ping
        await sock.prepare(request)
        hello = {
            "type": "hello",
            "num_connections": len(self.sockets) + 1,
            "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.ws.app_id},
        }
        await self._send(sock, hello)
        self.sockets[sock] = request.transport
        try:
            async for msg in sock:
                ack = json.loads(msg.data) if msg.type == WSMsgType.TEXT else {}
                if eid := ack.get("envelope_id"):
                    self.acks.setdefault(eid, time.monotonic())
                    self.ack_payloads.setdefault(eid, ack.get("payload"))
        finally:
            del self.sockets[sock]
        return sock

    async def _deliver(self, payload: Json, attempt: int, reason: str) -> str:
        extra = {"retry_attempt": attempt, "retry_reason": reason}
        return await self.send_envelope("events_api", payload, **extra)

    async def _redeliver(self, payload: Json, attempt: int, envelope_id: str) -> None:
        sent = [envelope_id]
        while attempt < MAX_RETRIES:
            await asyncio.sleep(self.ack_timeout or 0.0)
            if any(e in self.acks for e in sent):
                return
            attempt += 1
            sent.append(await self._deliver(payload, attempt, "timeout"))

    async def _send(self, sock: web.WebSocketResponse, data: Json) -> None:
        if self.latency:
            await asyncio.sleep(self.latency)
        with contextlib.suppress(ConnectionError):
            if not sock.closed:
                await sock.send_json(data)
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

"""The Web API door, ``/api/<method>``: reads a call, records it, refuses it as Slack would
(injected faults, unknown methods, tokens, scopes, rate tiers, arguments: per Slack's method
reference), else runs the method's handler.

A real Slack method the fake does not implement is answered ``fake_not_implemented`` and
noted in ``unimplemented``; :meth:`FakeSlack.stop` then fails, so no test passes by a call
that went nowhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fakes.slack import (
    agents,
    assistant,
    auth_apps,
    chat,
    conversations,
    reactions,
    search,
    users,
    views,
)
from fakes.slack.arguments import check_arguments
from fakes.slack.errors import SlackError
from fakes.slack.limits import RateLimiter
from fakes.slack.records import Call, Json
from fakes.slack.reference import MethodSpec, Reference, ReferenceMissing
from fakes.slack.registry import Registry
from fakes.slack.scopes import check_scope
from fakes.slack.state import Workspace

JSON_FIELDS = ("blocks", "attachments", "chunks", "loading_messages", "metadata")


def handlers() -> Registry:
    """Every Web API method the fake implements."""
    families = (auth_apps, chat, conversations, reactions, users, assistant, agents, search,
                views)
    return Registry.merged(*(family.API for family in families))


@dataclass
class Fault:
    """A refusal to answer instead of the method: injected by a test, or a rate limit."""

    error: str
    times: int | None
    status: int
    retry_after: int | None


class WebApi:
    """Slack's Web API for one workspace.

    ``latency``: seconds before each answer (``method_latency``: more for some methods, e.g.
    a search that takes its time). ``rate_limits``: a :class:`RateLimiter` (None:
    unlimited). ``connect_cost``: seconds a new connection waits before its first request.
    """

    def __init__(
        self,
        ws: Workspace,
        methods: Registry,
        ref: Reference,
        *,
        latency: float = 0.0,
        rate_limits: RateLimiter | None = None,
        connect_cost: float = 0.0,
    ) -> None:
        if strays := sorted(set(methods) - set(ref.methods)):
            raise ReferenceMissing(f"no method page in {ref.root} for {', '.join(strays)}")
        self.ws, self.methods, self.ref = ws, methods, ref
        self.unimplemented: list[str] = []  # real Slack methods called that the fake lacks
        self.latency, self.rate_limits, self.connect_cost = latency, rate_limits, connect_cost
        self.method_latency: dict[str, float] = {}
        self.calls: list[Call] = []
        self.peers: set[Any] = set()  # client (host, port) of every connection so far
        self._faults: dict[str, list[Fault]] = {}

    # -- test hooks ------------------------------------------------------------------------

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
        self._faults.setdefault(method, []).append(Fault(error, times, status, retry_after))

    def heal(self, method: str | None = None) -> None:
        """Forget pending failures of ``method`` (or of all methods)."""
        if method is None:
            self._faults.clear()
        self._faults.pop(method or "", None)

    # -- the endpoint ----------------------------------------------------------------------

    async def serve(self, request: web.Request) -> web.Response:
        """``/api/{method}``: JSON, form or query arguments; the token as bearer or argument."""
        await self._new_connection(request)
        method, params, bad_json = await _read(request)
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        token = str(params.pop("token", "") or bearer)
        call = Call(method, params, token, time.monotonic())
        self.calls.append(call)
        if delay := self.latency + self.method_latency.get(method, 0.0):
            await asyncio.sleep(delay)
        mine = token == self.ws.bot_token
        status, headers = 200, {"x-oauth-scopes": self.ws.scopes} if mine else {}
        try:
            if fault := self._refusal(call, bad_json):
                status = fault.status
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                raise SlackError(fault.error)
            check_arguments(self.ref.methods[method], params)
            call.response = {"ok": True, **self.methods[method](self.ws, params)}
        except SlackError as e:
            call.response = {"ok": False, "error": str(e), **e.extra}
        call.status = status
        return web.json_response(call.response, status=status, headers=headers)

    def _refusal(self, call: Call, bad_json: bool) -> Fault | None:
        """An injected fault or a rate limit for the call; raises SlackError if it is invalid."""
        if fault := self._take_fault(call.method):
            return fault
        page = self._page(call.method)
        if bad_json:
            raise SlackError("invalid_json")
        self._authorize(call.method, call.token)
        check_scope(page, self.ws, call.params)
        limits = self.rate_limits
        if limits is not None and (wait := limits.admit(call.method, call.params)):
            return Fault("ratelimited", 1, 429, max(1, math.ceil(wait)))  # whole seconds
        return None

    def _page(self, method: str) -> MethodSpec:
        """The method's page, if Slack has the method and the fake implements it."""
        if method not in self.ref.names:
            raise SlackError("unknown_method")
        if method not in self.methods:
            self.unimplemented.append(method)
            raise SlackError("fake_not_implemented", detail=f"{method}: not in fakes/slack/")
        return self.ref.methods[method]

    async def _new_connection(self, request: web.Request) -> None:
        """Note the client's connection; a new one first pays ``connect_cost``."""
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer not in self.peers:
            self.peers.add(peer)
            if self.connect_cost:
                await asyncio.sleep(self.connect_cost)  # before the request reaches Slack

    def _take_fault(self, method: str) -> Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        if queue[0].times is not None:
            queue[0].times -= 1
            if queue[0].times <= 0:
                return queue.pop(0)
        return queue[0]

    def _authorize(self, method: str, token: str) -> None:
        ws = self.ws
        if not token:
            raise SlackError("not_authed")
        if token not in (ws.bot_token, ws.app_token):
            raise SlackError("invalid_auth")
        if token != (ws.app_token if method == "apps.connections.open" else ws.bot_token):
            raise SlackError("not_allowed_token_type")


async def _read(request: web.Request) -> tuple[str, Json, bool]:
    """The method, its arguments (JSON fields decoded) and whether a JSON body was broken."""
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
    return method, params, bad_json

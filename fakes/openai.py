"""FakeOpenAI: an in-process OpenAI-compatible Chat Completions server for tests.

Serves ``POST /v1/chat/completions`` (JSON or SSE streaming) and ``GET /v1/models``
on 127.0.0.1. Point ``AsyncOpenAI(base_url=fake.base_url, api_key=fake.api_key)`` at it
and script answers, delays and failures with ``Reply``. The server itself can enforce a
context window (``context_limit``) and refuse optional fields (``rejects``) the way some
servers and proxies do; ``on_request``/``on_stream_end``/``streams`` observe the traffic.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any, get_args

from aiohttp import web

from fakes.openai_answers import SseAnswer, StreamRecord, completion_body
from fakes.openai_reply import Reply
from fakes.openai_tools import Call, NoTools, no_tools_error, tools_problem
from fakes.openai_wire import (
    ContextStyle,
    Json,
    RejectStyle,
    context_error,
    estimate_tokens,
    openai_error,
    prompt_tokens,
    rejection_error,
)

__all__ = [
    "Call",
    "FakeOpenAI",
    "Json",
    "Reply",
    "StreamRecord",
    "estimate_tokens",
    "prompt_tokens",
]

MAX_REQUEST_BYTES = 50 * 1024 * 1024  # OpenAI's cap on a request with images (aiohttp's: 1 MB)

_ERROR_MESSAGES = {
    "insufficient_quota": "You exceeded your current quota, please check your plan and "
    "billing details.",
    "rate_limit_exceeded": "Rate limit reached for requests. Please try again in 1s.",
    "context_length_exceeded": "This model's maximum context length is 128000 tokens. "
    "However, your messages resulted in 130000 tokens. Please reduce the length of the "
    "messages.",
}
# request storage: when the request arrived (aiohttp < 3.12 has no RequestKey: a plain str)
_ARRIVED: Any = (
    web.RequestKey("fake_openai_arrived_at", float)
    if hasattr(web, "RequestKey")
    else "fake_openai_arrived_at"
)


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


def _echo(body: Json) -> Reply:
    users = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
    return Reply(f"You said: {_content_text(users[-1].get('content')) if users else ''}")


def _error(
    status: int,
    message: str,
    type_: str,
    code: str | None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = openai_error(message, type_, code, param)
    return web.json_response(body, status=status, headers=headers)


class FakeOpenAI:
    """A scriptable OpenAI Chat Completions endpoint.

    ``context_limit``: answer 400 when the prompt (``prompt_tokens``) is over N tokens, worded
    as ``context_style`` says: ``openai`` (messages alone) or ``vllm`` (messages plus the
    requested completion). ``rejects``: top-level request fields answered with 400, worded as
    ``rejects_style`` says (``azure``, ``openai`` or ``vllm``). ``no_tools``: a request with
    ``tools`` answered with the 400 of a server that takes none (``ollama``, ``vllm``,
    ``litellm``); malformed tools and unanswered tool calls get OpenAI's 400 in any case.

    ``on_request(body)`` is called as each chat completion request arrives, before any check
    (``{"_invalid": True}`` for a body that is no JSON object); ``on_stream_end(record)`` as
    each stream ends (records are also kept in ``streams``). Exceptions in hooks propagate to
    aiohttp, which logs them (and answers 500 if nothing was sent yet). ``backlog``: the listen
    backlog (None: aiohttp's, 128). All are attributes, changeable while the fake runs, except
    ``backlog``.
    """

    api_key = "sk-fake"

    def __init__(
        self,
        *,
        default: Callable[[Json], Reply] | None = None,
        context_limit: int | None = None,
        context_style: ContextStyle = "openai",
        rejects: Iterable[str] = (),
        rejects_style: RejectStyle = "azure",
        no_tools: NoTools | None = None,
        on_request: Callable[[Json], None] | None = None,
        on_stream_end: Callable[[StreamRecord], None] | None = None,
        backlog: int | None = None,
    ) -> None:
        if context_style not in get_args(ContextStyle):
            raise ValueError(f"unknown context_style {context_style!r}")
        if rejects_style not in get_args(RejectStyle):
            raise ValueError(f"unknown rejects_style {rejects_style!r}")
        self.models = {"gpt-test", "gpt-test-mini", "gpt-4o-mini", "gpt-5-mini"}
        self.default = default or _echo
        self.context_limit = context_limit
        self.context_style: ContextStyle = context_style
        self.rejects: set[str] = set(rejects)
        self.rejects_style: RejectStyle = rejects_style
        self.no_tools: NoTools | None = no_tools
        self.on_request = on_request
        self.on_stream_end = on_stream_end
        self.backlog = backlog
        self.requests: list[Json] = []  # chat completion bodies, in order
        self.request_headers: list[dict[str, str]] = []  # headers of each request
        self.streams: list[StreamRecord] = []  # streamed answers, in the order they ended
        self._script: list[Reply] = []
        self._closing = asyncio.Event()  # set by stop(): ends stalled responses
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        # handler_cancellation: a client that goes away ends its stream at once (recorded
        # "aborted" then), not at the next chunk written
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True
        )
        await self._runner.setup()
        # no backlog keyword unless asked: callers may have wrapped web.TCPSite with their own
        options = {} if self.backlog is None else {"backlog": self.backlog}
        await web.TCPSite(self._runner, "127.0.0.1", 0, **options).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening (stalled responses are cut)."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What ``AsyncOpenAI(base_url=...)`` takes."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order; then the default answers."""
        self._script.extend(replies)

    async def wait_for_requests(self, n: int, timeout: float = 5.0) -> None:
        """Wait until ``n`` chat completion requests arrived."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"got {len(self.requests)} requests, wanted {n}")
            await asyncio.sleep(0.01)

    # -- handlers ---------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return _error(
            401,
            "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )

    async def _models(self, request: web.Request) -> web.Response:
        denied = self._authorized(request)
        if denied is not None:
            return denied
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "system"}
            for m in sorted(self.models)
        ]
        return web.json_response({"object": "list", "data": data})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        request[_ARRIVED] = time.monotonic()
        try:
            body = await request.json()
        except ValueError:
            body = None
        recorded = body if isinstance(body, dict) else {"_invalid": True}
        self.requests.append(recorded)
        self.request_headers.append(dict(request.headers))
        if self.on_request is not None:
            self.on_request(recorded)
        refused = self._authorized(request) or self._refusal(body)
        if refused is not None:
            return refused
        reply = self._script.pop(0) if self._script else self.default(body)
        if reply.status != 200:
            return self._scripted_error(reply, body)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await self._stream(request, body, reply, include_usage)
        return await self._complete(request, body, reply)

    def _refusal(self, body: Any) -> web.Response | None:
        """What the server says before any model runs, if it refuses the request."""
        if not isinstance(body, dict):
            return _error(
                400,
                "We could not parse the JSON body of your request.",
                "invalid_request_error",
                None,
            )
        rejected = [name for name in body if name in self.rejects]
        if rejected:
            error = rejection_error(self.rejects_style, body, rejected)
            return web.json_response(error, status=400)
        if self.no_tools and "tools" in body:
            return web.json_response(no_tools_error(self.no_tools, body), status=400)
        invalid = self._validate(body)
        if invalid is not None or self.context_limit is None:
            return invalid
        too_long = context_error(self.context_style, self.context_limit, body)
        return None if too_long is None else web.json_response(too_long, status=400)

    def _validate(self, body: Json) -> web.Response | None:
        if not body.get("model"):
            return _error(400, "you must provide a model parameter", "invalid_request_error", None)
        if body["model"] not in self.models:
            return _error(
                404,
                f"The model `{body['model']}` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(
                400,
                "Invalid 'messages': expected a non-empty array.",
                "invalid_request_error",
                "invalid_value",
                "messages",
            )
        if body.get("stream_options") is not None and not body.get("stream"):
            return _error(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "invalid_request_error",
                None,
                "stream_options",
            )
        problem = tools_problem(body)
        return None if problem is None else web.json_response(problem, status=400)

    def _scripted_error(self, reply: Reply, body: Json) -> web.Response:
        exact = reply.error_json(body)
        if exact is not None:
            return web.json_response(exact, status=reply.status, headers=reply.headers)
        code, type_ = reply.error_code, reply.error_type
        if type_ is None:  # what OpenAI sends: insufficient_quota has its own type
            type_ = "requests" if reply.status == 429 else "invalid_request_error"
            type_ = "server_error" if reply.status >= 500 else type_
            type_ = code if code == "insufficient_quota" else type_
        message = reply.error_message or _ERROR_MESSAGES.get(
            code or "", "The server had an error while processing your request."
        )
        return _error(reply.status, message, type_, code, headers=reply.headers)

    async def _complete(self, request: web.Request, body: Json, reply: Reply) -> web.Response:
        if reply.stall_after is not None:
            await self._closing.wait()  # never answers: the client's timeout decides
        if reply.cut_after is not None or reply.stall_after is not None:
            if request.transport is not None:
                request.transport.close()
            return web.Response()
        await asyncio.sleep(reply.duration())
        completion = completion_body(body, reply)
        if reply.corrupt_after is None:
            return web.json_response(completion, headers=self._headers(reply))
        text = json.dumps(completion)
        return web.Response(
            text=text[: len(text) // 2],
            content_type="application/json",
            headers=self._headers(reply),
        )

    async def _stream(
        self, request: web.Request, body: Json, reply: Reply, include_usage: bool
    ) -> web.StreamResponse:
        """Answer with SSE as scripted; record the stream and call ``on_stream_end``."""
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                **self._headers(reply),
            }
        )
        record = StreamRecord(body=body, arrived_at=request.get(_ARRIVED, time.monotonic()))
        answer = SseAnswer(request, response, body, reply, include_usage, self._closing)
        try:
            await response.prepare(request)
            record.outcome = await answer.run()
        except ConnectionResetError:
            pass  # the client went away: outcome "aborted" (so when the handler is cancelled)
        finally:
            record.ended_at = time.monotonic()
            record.content_chunks = answer.sent
            self.streams.append(record)
            if self.on_stream_end is not None:
                self.on_stream_end(record)
        return response

    @staticmethod
    def _headers(reply: Reply) -> dict[str, str]:
        return {"x-request-id": "req_" + secrets.token_hex(16), **(reply.headers or {})}

"""HTTP mode: the same Bolt app over the Events API (Slack POSTs events to a public URL).

A request gets to Bolt only once it has shown itself to be Slack's: the signing headers are
checked before a byte of the body is read, the body is read under a size cap and a deadline,
and Slack's signature is checked over its raw bytes before anything decodes it. Whatever
fails gets a quiet 400/401/408/413 (counted, and summed up in one log line a minute), never
a 500 or a traceback. Clients that send their headers too slowly are dropped by the server.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import StreamReader, web
from aiohttp.http_exceptions import HttpProcessingError
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from slackgpt.deadline import deadline
from slackgpt.slack.http_guard import (
    MAX_DEPTH,
    Refusals,
    headers_plausible,
    nested_deeper_than,
    signed_by_slack,
)

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"  # the Request URL is https://your-host/slack/events
HEALTH_PATH = "/healthz"
MAX_BODY = 1024**2


@dataclass(frozen=True)
class HttpLimits:
    """How long a client may take and how much it may send."""

    header_seconds: float = 5.0  # connect (or last answer) to the end of the headers; also
    # how long an idle keep-alive connection stays open
    body_seconds: float = 10.0  # end of the headers to the end of the body
    linger_seconds: float = 2.0  # reading and dropping what is left of a body not read
    max_body: int = MAX_BODY


REFUSALS = web.AppKey("refusals", Refusals)
_ERRORS = {400: "invalid body", 401: "invalid request", 408: "too slow", 413: "body too large"}


def build_http_app(
    bolt_app: AsyncApp, signing_secret: str, limits: HttpLimits | None = None
) -> web.Application:
    """An aiohttp app: ``POST /slack/events`` for Slack, ``GET /healthz`` for load balancers.

    Refuses to build without a signing secret: anyone could then forge events.
    """
    if not signing_secret:
        raise ValueError("HTTP mode needs signing_secret (SLACK_SIGNING_SECRET)")
    limits = limits or HttpLimits()
    refusals = Refusals(log)

    async def events(request: web.Request) -> web.StreamResponse:
        return await _answer(request, bolt_app, signing_secret, limits, refusals)

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=limits.max_body)
    app[REFUSALS] = refusals
    app.router.add_post(EVENTS_PATH, events)
    app.router.add_get(HEALTH_PATH, health)
    return app


async def _answer(
    request: web.Request, bolt_app: AsyncApp, secret: str, limits: HttpLimits, refusals: Refusals
) -> web.StreamResponse:
    """Bolt's answer to a request Slack signed; a refusal for anything else."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not headers_plausible(timestamp, signature, time.time()):
        return _refuse(refusals, 401)
    body = await _read_body(request, limits)
    if isinstance(body, int):
        return _refuse(refusals, body)
    if not signed_by_slack(secret, timestamp, signature, body):
        return _refuse(refusals, 401)
    bolt_request = _bolt_request(request, body)
    if isinstance(bolt_request, str):
        log.warning("a signed request whose body is %s; refused with 400", bolt_request)
        return web.json_response({"error": _ERRORS[400]}, status=400)
    return await to_aiohttp_response(await bolt_app.async_dispatch(bolt_request))


def _refuse(refusals: Refusals, status: int) -> web.Response:
    """A quiet refusal, counted; the connection is closed unless the body was read whole."""
    refusals.note(status)
    response = web.json_response({"error": _ERRORS[status]}, status=status)
    if status != 401:
        response.force_close()
    return response


async def _read_body(request: web.Request, limits: HttpLimits) -> bytes | int:
    """The body's bytes, or the status refusing it: 413 over the cap (at once when the
    ``Content-Length`` says so), 408 past the deadline, 400 when it breaks off."""
    declared = request.content_length
    if declared is not None and declared > limits.max_body:
        return 413
    try:
        async with deadline(limits.body_seconds):
            return await _read_capped(request.content, limits.max_body)
    except TimeoutError:
        return 408
    except (web.RequestPayloadError, ConnectionError):
        return 400


async def _read_capped(content: StreamReader, cap: int) -> bytes | int:
    """Everything ``content`` holds, or 413 as soon as it is more than ``cap`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.readany():
        size += len(chunk)
        if size > cap:
            return 413
        chunks.append(chunk)
    return b"".join(chunks)


def _bolt_request(request: web.Request, body: bytes) -> AsyncBoltRequest | str:
    """Bolt's request for a signed ``body``, or what is wrong with the body. Slack sends
    UTF-8 whatever the declared charset says; Bolt parses the body as it is built."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    try:
        bolt_request = AsyncBoltRequest(
            body=text, query=request.query_string, headers=request.headers  # type: ignore[arg-type]
        )
    except RecursionError:
        return "nested too deeply to parse"
    except Exception as error:  # any failure to parse a body Slack would never send
        return f"not the JSON or form Slack sends ({type(error).__name__})"
    if nested_deeper_than(bolt_request.body, MAX_DEPTH):
        return f"nested more than {MAX_DEPTH} levels deep"
    return bolt_request


class _ServerLog(logging.LoggerAdapter):
    """aiohttp's server log, where a client's malformed HTTP (answered 400 by aiohttp) is
    counted with the other refusals instead of being written out with a traceback."""

    def __init__(self, refusals: Refusals) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self._refusals = refusals

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if isinstance(error, HttpProcessingError):
            self._refusals.note(error.code or 400)
            return
        super().log(level, msg, *args, **kwargs)


@dataclass
class HttpServer:
    """A running HTTP server; ``port`` is the one actually bound (useful with port 0)."""

    runner: web.AppRunner
    port: int
    refusals: Refusals

    async def close(self) -> None:
        """Stop accepting requests, close the listening socket, sum up the last refusals."""
        await self.runner.cleanup()
        self.refusals.flush()


async def serve_http(
    bolt_app: AsyncApp,
    host: str,
    port: int,
    *,
    signing_secret: str | None,
    limits: HttpLimits | None = None,
) -> HttpServer:
    """Start serving ``bolt_app`` on ``host:port``; returns once it listens."""
    limits = limits or HttpLimits()
    app = build_http_app(bolt_app, signing_secret or "", limits)
    refusals = app[REFUSALS]
    runner = web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=5.0,
        keepalive_timeout=limits.header_seconds,  # aiohttp drops a connection whose headers
        # are not all in by then (counted from the connect, or from the last answer)
        lingering_time=limits.linger_seconds,
        auto_decompress=False,  # Slack never compresses; its signature covers the raw bytes
        logger=_ServerLog(refusals),
    )
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info("listening for Slack events on http://%s:%d%s", host, bound, EVENTS_PATH)
    return HttpServer(runner, bound, refusals)

"""HTTP mode: the same Bolt app over the Events API (Slack POSTs events to a public URL).

Each request's signature is checked here, before anything reads its body, so a forged or
malformed request gets a quiet 401 or 400; Bolt then handles what Slack really sent
(and answers the ``url_verification`` challenge).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"  # the Request URL is https://your-host/slack/events
HEALTH_PATH = "/healthz"
MAX_BODY = 1024**2
_MAX_TIMESTAMP_DIGITS = 12


def build_http_app(bolt_app: AsyncApp, signing_secret: str) -> web.Application:
    """An aiohttp app: ``POST /slack/events`` for Slack, ``GET /healthz`` for load balancers.

    Refuses to build without a signing secret: anyone could then forge events.
    """
    if not signing_secret:
        raise ValueError("HTTP mode needs signing_secret (SLACK_SIGNING_SECRET)")
    verifier = SignatureVerifier(signing_secret)

    async def events(request: web.Request) -> web.Response:
        body = await request.text()
        refused = _refusal(verifier, request, body)
        if refused is not None:
            return refused
        bolt_response = await bolt_app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(EVENTS_PATH, events)
    app.router.add_get(HEALTH_PATH, health)
    return app


def _refusal(verifier: SignatureVerifier, request: web.Request, body: str) -> web.Response | None:
    """401 for a request Slack did not sign (or signed too long ago), 400 for a bad body."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    well_formed = timestamp.isascii() and timestamp.isdigit()
    if not well_formed or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        return web.json_response({"error": "invalid request"}, status=401)
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return web.json_response({"error": "invalid request"}, status=401)
    if not _parses(body, request.content_type):
        log.warning("a signed request with a body that is not JSON or a form; refused")
        return web.json_response({"error": "invalid body"}, status=400)
    return None


def _parses(body: str, content_type: str) -> bool:
    """True when ``body`` is what its content type says (JSON, or a form with a payload)."""
    if content_type == "application/x-www-form-urlencoded":
        payload = parse_qs(body).get("payload")
        body = payload[0] if payload else "{}"
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False


@dataclass
class HttpServer:
    """A running HTTP server; ``port`` is the one actually bound (useful with port 0)."""

    runner: web.AppRunner
    port: int

    async def close(self) -> None:
        """Stop accepting requests and close the listening socket."""
        await self.runner.cleanup()


async def serve_http(
    bolt_app: AsyncApp, host: str, port: int, *, signing_secret: str | None
) -> HttpServer:
    """Start serving ``bolt_app`` on ``host:port``; returns once it listens."""
    app = build_http_app(bolt_app, signing_secret or "")
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info("listening for Slack events on http://%s:%d%s", host, bound, EVENTS_PATH)
    return HttpServer(runner, bound)

"""HTTP mode: the same Bolt app over the Events API (Slack POSTs events to a public URL).

Bolt itself checks each request's signature (when the app was given ``signing_secret``) and
answers the ``url_verification`` challenge; this module only puts it on an aiohttp server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"  # the Request URL is https://your-host/slack/events
HEALTH_PATH = "/healthz"


def build_http_app(bolt_app: AsyncApp) -> web.Application:
    """An aiohttp app: ``POST /slack/events`` for Slack, ``GET /healthz`` for load balancers.

    Refuses a Bolt app without a signing secret: anyone could then forge events.
    """
    if not getattr(bolt_app, "_signing_secret", ""):
        raise ValueError("HTTP mode needs the Bolt app built with signing_secret=…")

    async def events(request: web.Request) -> web.Response:
        if not request.headers.get("X-Slack-Request-Timestamp", "0").isdigit():
            return web.json_response({"error": "invalid request"}, status=401)  # Bolt would 500
        bolt_response = await bolt_app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=1024**2)
    app.router.add_post(EVENTS_PATH, events)
    app.router.add_get(HEALTH_PATH, health)
    return app


@dataclass
class HttpServer:
    """A running HTTP server; ``port`` is the one actually bound (useful with port 0)."""

    runner: web.AppRunner
    host: str
    port: int

    async def close(self) -> None:
        """Stop accepting requests and close the listening socket."""
        await self.runner.cleanup()


async def serve_http(bolt_app: AsyncApp, host: str, port: int) -> HttpServer:
    """Start serving ``bolt_app`` on ``host:port``; returns once it listens."""
    runner = web.AppRunner(build_http_app(bolt_app), access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info("listening for Slack events on http://%s:%d%s", host, bound, EVENTS_PATH)
    return HttpServer(runner, host, bound)

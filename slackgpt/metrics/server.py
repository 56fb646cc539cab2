"""The metrics port (``METRICS_PORT``): ``/metrics`` for Prometheus, ``/healthz`` and
``/readyz`` for probes, in Socket Mode as in HTTP mode.

It is served by a thread of its own, not by the event loop, so that it can tell a stalled
loop from a live one: ``/healthz`` is 200 while the loop runs a callback within
:data:`ALIVE_WITHIN` seconds; ``/readyz`` is 200 while the bot's own readiness check (connected
to Slack) says so, run on the loop within :data:`READY_WITHIN` seconds. A scrape reads the
counters from this thread and costs the loop nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

log = logging.getLogger(__name__)

METRICS_PATH, HEALTH_PATH, READY_PATH = "/metrics", "/healthz", "/readyz"
ALIVE_WITHIN = 5.0  # seconds the loop may take to run a callback and still be alive
READY_WITHIN = 1.0  # seconds the readiness check may take on the loop and still be ready
POLL = 0.1  # seconds between the serving thread's looks at a request to stop

Readiness = Callable[[], Awaitable[str | None]]
"""The bot's readiness check, run on its loop: None when ready, else why not."""


def probe(loop: asyncio.AbstractEventLoop, check: Readiness | None, within: float) -> str | None:
    """From another thread: None when ``check`` (None: nothing, the loop only) runs on
    ``loop`` and passes within ``within`` seconds; else why not."""

    async def run() -> str | None:
        return None if check is None else await check()

    try:
        future = asyncio.run_coroutine_threadsafe(run(), loop)
    except RuntimeError:  # the loop is closed
        return "the event loop has stopped"
    try:
        return future.result(within)
    except FutureTimeout:
        future.cancel()
        return f"the event loop did not answer within {within:g} s"
    except Exception as error:  # the check itself failed: not ready, and say why
        return f"the readiness check failed ({type(error).__name__})"


class MetricsServer:
    """The metrics port of one bot, served from a thread; ``port`` is the bound one."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        registry: CollectorRegistry | None,
        ready: Readiness,
        loop: asyncio.AbstractEventLoop,
    ):
        handler = _handler(registry, ready, loop)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL,), name="slackgpt-metrics", daemon=True
        )
        self._thread.start()

    async def close(self) -> None:
        """Stop serving and release the port (waits for the serving thread, off the loop)."""
        await asyncio.to_thread(self._server.shutdown)
        self._server.server_close()


async def serve_metrics(
    host: str, port: int, *, registry: CollectorRegistry | None, ready: Readiness
) -> MetricsServer:
    """Start the metrics port on ``host:port`` (0: any free port); returns once it listens.
    Raises OSError when the port cannot be bound."""
    server = MetricsServer(
        host, port, registry=registry, ready=ready, loop=asyncio.get_running_loop()
    )
    log.info("metrics, /healthz and /readyz on http://%s:%d", host, server.port)
    return server


def _handler(
    registry: CollectorRegistry | None, ready: Readiness, loop: asyncio.AbstractEventLoop
) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to this bot's registry, readiness and loop."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == HEALTH_PATH:
                self._status(probe(loop, None, ALIVE_WITHIN), "ok")
            elif path == READY_PATH:
                self._status(probe(loop, ready, READY_WITHIN), "ready")
            elif path == METRICS_PATH and registry is not None:
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._send(200, encoder(registry), content_type)
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")

        def _status(self, problem: str | None, good: str) -> None:
            text = good if problem is None else problem
            self._send(200 if problem is None else 503, text.encode(), "text/plain; charset=utf-8")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None  # probes every few seconds would flood the log

    return Handler

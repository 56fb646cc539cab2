"""The metrics port: /metrics, and probes that tell a live loop from a stalled one."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from slackgpt.metrics.prometheus import PrometheusMetrics
from slackgpt.metrics.server import serve_metrics


def get(port: int, path: str) -> tuple[int, str]:
    """A blocking GET (run off the loop, as a probe from outside the process would be)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
async def served():
    metrics = PrometheusMetrics()
    why: list[str | None] = [None]

    async def not_ready() -> str | None:
        return why[0]

    server = await serve_metrics("127.0.0.1", 0, registry=metrics.registry, ready=not_ready)
    yield server, metrics, why
    await server.close()


async def test_metrics_health_and_readiness(served):
    server, metrics, why = served
    metrics.answer("ok", 1.0, 2.0)
    status, text = await asyncio.to_thread(get, server.port, "/metrics")
    assert status == 200 and 'slackgpt_answers_total{outcome="ok"} 1.0' in text
    assert await asyncio.to_thread(get, server.port, "/healthz") == (200, "ok")
    assert await asyncio.to_thread(get, server.port, "/readyz") == (200, "ready")
    why[0] = "not connected to Slack"
    assert await asyncio.to_thread(get, server.port, "/readyz") == (503, "not connected to Slack")
    assert (await asyncio.to_thread(get, server.port, "/nope"))[0] == 404


async def test_a_stalled_loop_is_not_ready(served):
    server, _, _ = served
    with ThreadPoolExecutor(1) as prober:  # a probe from outside the loop
        probe = prober.submit(get, server.port, "/readyz")
        time.sleep(1.5)  # the scenario: the loop stalls past READY_WITHIN (1 s) meanwhile
        status, text = await asyncio.wrap_future(probe)
    assert status == 503 and "did not answer within 1 s" in text
    assert await asyncio.to_thread(get, server.port, "/healthz") == (200, "ok")


async def always_ready() -> str | None:
    return None


async def test_the_port_is_released_on_close():
    server = await serve_metrics("127.0.0.1", 0, registry=None, ready=always_ready)
    port = server.port
    assert await asyncio.to_thread(get, port, "/metrics") == (404, "not found\n")  # no registry
    await server.close()
    again = await serve_metrics("127.0.0.1", port, registry=None, ready=always_ready)
    await again.close()
    assert again.port == port

"""The metrics port of the real bot, in Socket Mode: /metrics parses and matches what the
fakes saw; /readyz follows the socket to Slack; /healthz the process."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fakes.openai import Reply, estimate_tokens, prompt_tokens
from slackgpt.config.operations import Limits
from tests.helpers import until, until_handled, watch

pytestmark = pytest.mark.timeout(40)


async def scrape(port: int, path: str = "/metrics") -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(
        f"http://127.0.0.1:{port}{path}"
    ) as response:
        return response.status, await response.text()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """The exposition parsed by prometheus_client's own parser: (name, labels) -> value."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def by_label(found: dict, name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: v for (n, labels), v in found.items() if n == name}


@pytest.fixture
async def bot(start_bot, settings):
    return await start_bot(operations=replace(settings.operations, metrics_port=0))


async def test_metrics_count_what_the_fakes_saw(bot, slack, llm):
    llm.script(Reply(text="One."), Reply(text="Two."))
    slack.fail("assistant.threads.setStatus", status=429, retry_after=0)  # one 429, retried
    watched = watch([bot.answerer], "answer")
    for text in ("first", "second"):
        await slack.mention("C1", f"<@{slack.bot_user_id}> {text}")
    await until_handled(watched, 2, timeout=10)
    status, text = await scrape(bot.metrics_server.port)
    assert status == 200
    found = samples(text)
    assert by_label(found, "slackgpt_answers_total", "outcome") == {"ok": 2}
    assert found[("slackgpt_first_words_seconds_count", frozenset())] == 2
    seen = Counter(call.method for call in slack.calls)
    assert by_label(found, "slackgpt_slack_calls_total", "method") == seen
    assert slack.throttled() == slack.throttled("assistant.threads.setStatus") == 1
    limited = by_label(found, "slackgpt_slack_rate_limited_total", "method")
    assert limited == {"assistant.threads.setStatus": 1}
    tokens = by_label(found, "slackgpt_model_tokens_total", "kind")
    assert tokens["prompt"] == sum(prompt_tokens(body) for body in llm.requests)
    assert tokens["completion"] == estimate_tokens("One.") + estimate_tokens("Two.")


async def test_readyz_follows_the_socket_to_slack(bot, slack):
    port = bot.metrics_server.port
    assert await scrape(port, "/readyz") == (200, "ready")
    slack.fail("apps.connections.open", "internal_error", times=None)  # no way back for now
    await slack.drop()

    async def not_ready() -> bool:
        return (await scrape(port, "/readyz"))[0] == 503

    await until(not_ready, timeout=10, what="/readyz to fail")
    assert await scrape(port, "/healthz") == (200, "ok")  # the process is alive all along
    slack.heal()

    async def ready() -> bool:
        return await scrape(port, "/readyz") == (200, "ready")

    await until(ready, timeout=20, what="/readyz to recover")
    assert slack.sockets_open == 1


async def test_the_stores_health_is_exported(start_bot, settings, redis_url, tmp_path):
    operations = replace(settings.operations, metrics_port=0, limits=Limits(10**6),
                         usage_file=tmp_path / "unused.sqlite3")
    bot = await start_bot(redis_url=redis_url, operations=operations)
    found = samples((await scrape(bot.metrics_server.port))[1])
    assert by_label(found, "slackgpt_store_up", "store") == {"redis": 1, "usage_redis": 1}
    assert not (tmp_path / "unused.sqlite3").exists()  # with REDIS_URL the counts are there

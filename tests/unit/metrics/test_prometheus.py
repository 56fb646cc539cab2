"""The bot's metrics: a registry per bot, the names it exports, the no-op default."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from slackgpt.metrics.base import NoMetrics
from slackgpt.metrics.prometheus import NAMES, PrometheusMetrics, metrics_for


def exported(metrics: PrometheusMetrics) -> dict[tuple[str, tuple], float]:
    """Every sample of the text format, parsed back: (name, labels) -> value."""
    from prometheus_client import generate_latest

    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def touch_everything(metrics: PrometheusMetrics) -> None:
    metrics.answer("error:ModelTimeout", None, 12.0)
    metrics.answer("ok", 0.8, 3.0)
    metrics.model_usage("m", 100, 20, 0.01, estimated=False)
    metrics.model_usage("m", 5, 1, None, estimated=True)
    metrics.slack_call("chat.update", 200)
    metrics.slack_call("chat.update", 429)
    metrics.budget_wait("chat.update", 1.5)
    metrics.tool_call("search", "ok")
    metrics.budget_event("refused", "person_day")
    metrics.watch_store("redis", lambda: True)
    metrics.watch_store("sqlite", lambda: 1 / 0)  # a failing health check reads as down


def test_every_series_is_named_and_counted():
    metrics = PrometheusMetrics()
    touch_everything(metrics)
    samples = exported(metrics)
    names = {name for name, _ in samples}
    assert names - {n for n in names if n.endswith("_created")} == NAMES
    assert samples[("slackgpt_answers_total", (("outcome", "error"),))] == 1
    assert samples[("slackgpt_first_words_seconds_count", ())] == 1  # none shown: not observed
    assert samples[("slackgpt_done_seconds_count", ())] == 2
    labels = (("kind", "prompt"), ("model", "m"), ("profile", "default"))
    assert samples[("slackgpt_model_tokens_total", labels)] == 105
    assert samples[("slackgpt_slack_calls_total", (("method", "chat.update"),))] == 2
    assert samples[("slackgpt_slack_rate_limited_total", (("method", "chat.update"),))] == 1
    assert samples[("slackgpt_store_up", (("store", "redis"),))] == 1
    assert samples[("slackgpt_store_up", (("store", "sqlite"),))] == 0


def test_each_bot_has_its_own_registry():
    one, two = PrometheusMetrics(), PrometheusMetrics()
    one.answer("ok", 1.0, 2.0)
    assert two.registry.get_sample_value("slackgpt_answers_total", {"outcome": "ok"}) is None
    assert isinstance(metrics_for(None), NoMetrics)
    assert isinstance(metrics_for(9090), PrometheusMetrics)


def test_no_metrics_take_every_call():
    metrics = NoMetrics()
    metrics.answer("ok", None, 1.0)
    metrics.model_usage("m", 1, 1, None, estimated=False)
    metrics.watch_store("redis", lambda: True)
    assert metrics.tool_call("search", "ok") is None

"""The bot's metrics in Prometheus form, in a registry of its own (one per bot: nothing is
registered at import, so tests and copies in one process never share counters).

Every name is in :data:`NAMES`; docs/operations.md lists them and deploy/grafana-dashboard.json
draws them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from slackgpt.metrics.base import DEFAULT_PROFILE, Metrics, NoMetrics

FIRST_WORDS_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0, 120.0)
DONE_BUCKETS = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0, 600.0)

ANSWERS = "slackgpt_answers"
FIRST_WORDS = "slackgpt_first_words_seconds"
DONE = "slackgpt_done_seconds"
MODEL_TOKENS = "slackgpt_model_tokens"
MODEL_COST = "slackgpt_model_cost"
MODEL_REQUESTS = "slackgpt_model_requests"
SLACK_CALLS = "slackgpt_slack_calls"
SLACK_RATE_LIMITED = "slackgpt_slack_rate_limited"
BUDGET_WAITS = "slackgpt_slack_budget_waits"
BUDGET_WAIT_SECONDS = "slackgpt_slack_budget_wait_seconds"
TOOL_CALLS = "slackgpt_tool_calls"
SPEND_BUDGET = "slackgpt_spend_budget_events"
STORE_UP = "slackgpt_store_up"

NAMES = frozenset({
    f"{ANSWERS}_total", *(f"{h}_{s}" for h in (FIRST_WORDS, DONE)
                          for s in ("bucket", "sum", "count")),
    f"{MODEL_TOKENS}_total", f"{MODEL_COST}_total", f"{MODEL_REQUESTS}_total",
    f"{SLACK_CALLS}_total", f"{SLACK_RATE_LIMITED}_total", f"{BUDGET_WAITS}_total",
    f"{BUDGET_WAIT_SECONDS}_total", f"{TOOL_CALLS}_total", f"{SPEND_BUDGET}_total", STORE_UP,
})
"""Every series name the bot exports (Counters end in ``_total``)."""


class _Stores(Collector):
    """``slackgpt_store_up{store}``: 1 while a store answers, read at each scrape."""

    def __init__(self) -> None:
        self.watched: dict[str, Callable[[], bool]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            STORE_UP, "1 while the store answers (redis: the copies' memory; usage_sqlite, "
            "usage_redis: the spend budgets' counts)",
            labels=["store"],
        )
        for store, up in sorted(self.watched.items()):
            family.add_metric([store], 1.0 if _safely(up) else 0.0)
        yield family


def _safely(up: Callable[[], bool]) -> bool:
    try:
        return bool(up())
    except Exception:  # a scrape must never fail because of one store
        return False


class PrometheusMetrics:
    """:class:`~slackgpt.metrics.base.Metrics` kept in ``registry`` (a new one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry = registry or CollectorRegistry(auto_describe=True)
        self._answers = Counter(ANSWERS, "Answers by how they ended", ["outcome"],
                                registry=registry)
        self._first = Histogram(FIRST_WORDS, "Seconds from the question to the answer's first "
                                "words", buckets=FIRST_WORDS_BUCKETS, registry=registry)
        self._done = Histogram(DONE, "Seconds from the question to the answer's end",
                               buckets=DONE_BUCKETS, registry=registry)
        model = ["model", "profile"]
        self._tokens = Counter(MODEL_TOKENS, "Model tokens (kind: prompt, completion)",
                               [*model, "kind"], registry=registry)
        self._cost = Counter(MODEL_COST, "Model cost from MODEL_PRICES, in its currency",
                             model, registry=registry)
        self._requests = Counter(MODEL_REQUESTS, "Model requests (usage: reported by the "
                                 "server, or estimated)", [*model, "usage"], registry=registry)
        self._calls = Counter(SLACK_CALLS, "Slack Web API HTTP calls", ["method"],
                              registry=registry)
        self._limited = Counter(SLACK_RATE_LIMITED, "Slack Web API calls answered 429",
                                ["method"], registry=registry)
        self._waits = Counter(BUDGET_WAITS, "Slack calls that waited for their rate budget",
                              ["method"], registry=registry)
        self._waited = Counter(BUDGET_WAIT_SECONDS, "Seconds Slack calls waited for their "
                               "rate budget", ["method"], registry=registry)
        self._tools = Counter(TOOL_CALLS, "Tool calls by the model", ["tool", "outcome"],
                              registry=registry)
        self._spend = Counter(SPEND_BUDGET, "Spend budget refusals and 80 % notices",
                              ["event", "limit"], registry=registry)
        self._stores = _Stores()
        registry.register(self._stores)
        self._children: dict[tuple, Any] = {}  # (metric, *labels) -> its child, found once

    def _child(self, metric: Counter, *labels: str) -> Any:
        """``metric.labels(*labels)``, kept: the answer path asks for the same few often."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def answer(self, outcome: str, first_words: float | None, done: float) -> None:
        self._child(self._answers, outcome.split(":", 1)[0]).inc()
        if first_words is not None:
            self._first.observe(first_words)
        self._done.observe(done)

    def model_usage(
        self,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float | None,
        *,
        estimated: bool,
        profile: str = DEFAULT_PROFILE,
    ) -> None:
        self._child(self._tokens, model, profile, "prompt").inc(prompt_tokens)
        self._child(self._tokens, model, profile, "completion").inc(completion_tokens)
        if cost is not None:
            self._child(self._cost, model, profile).inc(cost)
        usage = "estimated" if estimated else "reported"
        self._child(self._requests, model, profile, usage).inc()

    def slack_call(self, method: str, status: int) -> None:
        self._child(self._calls, method).inc()
        if status == 429:
            self._child(self._limited, method).inc()

    def budget_wait(self, method: str, seconds: float) -> None:
        self._waits.labels(method).inc()
        self._waited.labels(method).inc(max(0.0, seconds))

    def tool_call(self, name: str, outcome: str) -> None:
        self._tools.labels(name, outcome).inc()

    def budget_event(self, event: str, limit: str) -> None:
        self._spend.labels(event, limit).inc()

    def watch_store(self, store: str, up: Callable[[], bool]) -> None:
        self._stores.watched[store] = up


def metrics_for(port: int | None) -> Metrics:
    """Prometheus metrics in a registry of their own when ``port`` (METRICS_PORT) is set,
    else :class:`~slackgpt.metrics.base.NoMetrics`."""
    return PrometheusMetrics() if port is not None else NoMetrics()

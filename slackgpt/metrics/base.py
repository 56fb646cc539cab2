"""What the bot tells its metrics, as one small interface the rooms are handed (never import a
registry): answers, the model's tokens and cost, Slack calls, budget waits, tool calls,
spend budgets, the stores' health.

:class:`NoMetrics` is the default: every call does nothing (``METRICS_PORT`` unset). The
Prometheus one is :class:`~slackgpt.metrics.prometheus.PrometheusMetrics`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

DEFAULT_PROFILE = "default"  # the profile label of a conversation no profile names


class Metrics(Protocol):
    """Counters and timings of one bot; every method is cheap and never raises."""

    def answer(self, outcome: str, first_words: float | None, done: float) -> None:
        """An answer ended: ``outcome`` (ok, empty, stopped, duplicate, cancelled, error,
        slack_error), seconds to its first words (None: none shown) and to its end."""
        ...

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
        """One model request's tokens (``estimated`` when the server reported none) and its
        cost from the price table (None: the model has no price)."""
        ...

    def slack_call(self, method: str, status: int) -> None:
        """One HTTP exchange with Slack's Web API (``status`` 0: no answer; 429: limited)."""
        ...

    def budget_wait(self, method: str, seconds: float) -> None:
        """A Slack call waited ``seconds`` for its method's rate budget."""
        ...

    def tool_call(self, name: str, outcome: str) -> None:
        """The model called tool ``name``; ``outcome``: ok, failed, refused, timeout…"""
        ...

    def budget_event(self, event: str, limit: str) -> None:
        """A spend budget ``limit`` (person_day, workspace_tokens, workspace_cost) made a
        person be ``refused`` or ``notified`` (80 %)."""
        ...

    def watch_store(self, store: str, up: Callable[[], bool]) -> None:
        """Report ``up()`` as the health of ``store`` (redis, usage_sqlite, usage_redis) at
        each scrape."""
        ...


class NoMetrics:
    """:class:`Metrics` that keeps nothing: what the bot uses without ``METRICS_PORT``."""

    def answer(self, outcome: str, first_words: float | None, done: float) -> None:
        return None

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
        return None

    def slack_call(self, method: str, status: int) -> None:
        return None

    def budget_wait(self, method: str, seconds: float) -> None:
        return None

    def tool_call(self, name: str, outcome: str) -> None:
        return None

    def budget_event(self, event: str, limit: str) -> None:
        return None

    def watch_store(self, store: str, up: Callable[[], bool]) -> None:
        return None


NO_METRICS: Metrics = NoMetrics()


"""The settings of the people who run the bot: budgets, prices, the usage file, metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from slackgpt.config.operations import Limits, Price, default_usage_file
from slackgpt.config.settings import ConfigError, load_settings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "OPENAI_API_KEY": "k"}


def problems(**env: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, **env})
    return caught.value.problems


def test_unset_means_no_budget_no_metrics():
    ops = load_settings(BASE).operations
    assert ops.limits == Limits() and not ops.limits.any
    assert ops.metrics_port is None and dict(ops.prices) == {}
    assert ops.usage_file == default_usage_file()


def test_budgets_prices_file_and_port_are_read(tmp_path):
    ops = load_settings({
        **BASE, "USER_TOKENS_PER_DAY": "200000", "WORKSPACE_TOKENS_PER_MONTH": "5000000",
        "WORKSPACE_COST_PER_MONTH": "120.5", "OPENAI_MODEL": "m",
        "MODEL_PRICES": '{"m": {"input": 0.25, "output": 2}, "n": {"input": 0, "output": 0}}',
        "USAGE_FILE": str(tmp_path / "u.sqlite3"), "METRICS_PORT": "9090",
    }).operations
    assert ops.limits == Limits(200_000, 5_000_000, 120.5) and ops.limits.any
    assert ops.prices["m"] == Price(0.25, 2.0) and ops.prices["n"] == Price(0.0, 0.0)
    assert ops.usage_file == tmp_path / "u.sqlite3" and ops.metrics_port == 9090


def test_the_default_usage_file_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_usage_file() == tmp_path / "slackgpt" / "usage.sqlite3"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_usage_file() == Path.home() / ".local/state/slackgpt/usage.sqlite3"


def test_mistakes_say_what_to_do():
    said = problems(USER_TOKENS_PER_DAY="lots", METRICS_PORT="0",
                    MODEL_PRICES='{"m": {"input": "cheap", "output": 1}}')
    assert any("USER_TOKENS_PER_DAY must be a whole number" in p for p in said)
    assert any("METRICS_PORT must be a whole number from 1 to 65535" in p for p in said)
    assert any("MODEL_PRICES: each model needs input and output prices" in p for p in said)
    assert "not valid JSON" in problems(MODEL_PRICES="{")[0]


def test_a_cost_budget_needs_the_models_price():
    [said] = problems(WORKSPACE_COST_PER_MONTH="100", OPENAI_MODEL="big")
    assert "WORKSPACE_COST_PER_MONTH needs the price of big" in said
    assert '{"big": {"input"' in said

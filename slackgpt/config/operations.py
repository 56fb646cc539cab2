"""What the people who run the bot set for it: spend budgets, model prices, where the usage
counts are kept, the metrics port. Read here, with a fix for every mistake."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from slackgpt.config.reader import Reader

PRICES_EXAMPLE = '{"gpt-5-mini": {"input": 0.25, "output": 2.0}}'


@dataclass(frozen=True)
class Price:
    """What a model costs, per million prompt (``input``) and completion (``output``) tokens,
    in the currency the budget is set in (the examples use US dollars)."""

    input: float
    output: float


Prices = Mapping[str, Price]
"""The price table: model name -> :class:`Price`. A plain mapping, so that whatever sets the
prices (a setting today, a profiles file later) fills the same thing."""


@dataclass(frozen=True)
class Limits:
    """Spend budgets; None means no limit."""

    person_tokens_per_day: int | None = None
    workspace_tokens_per_month: int | None = None
    workspace_cost_per_month: float | None = None

    @property
    def any(self) -> bool:
        """True when at least one budget is set (usage is then counted)."""
        return any(v is not None for v in (
            self.person_tokens_per_day, self.workspace_tokens_per_month,
            self.workspace_cost_per_month,
        ))


def default_usage_file() -> Path:
    """``$XDG_STATE_HOME/slackgpt/usage.sqlite3``, else ``~/.local/state/slackgpt/…`` (else
    the working directory's ``slackgpt-usage.sqlite3``, for a user without a home)."""
    state_home = os.environ.get("XDG_STATE_HOME", "").strip()
    try:
        base = Path(state_home) if state_home else Path.home() / ".local" / "state"
    except RuntimeError:  # no HOME and no home directory in the user database
        return Path("slackgpt-usage.sqlite3").absolute()
    return base / "slackgpt" / "usage.sqlite3"


@dataclass(frozen=True)
class Operations:
    """Budgets, prices, the usage file (without REDIS_URL) and the metrics port."""

    limits: Limits = field(default_factory=Limits)
    prices: Prices = field(default_factory=lambda: MappingProxyType({}))
    usage_file: Path = field(default_factory=default_usage_file)
    metrics_port: int | None = None


def read_operations(get: Reader, model: str) -> dict[str, Any]:
    """The ``operations`` part of the settings (``model``: the one answers use)."""
    limits = Limits(
        person_tokens_per_day=get.number("USER_TOKENS_PER_DAY", int, 1, 10**12),
        workspace_tokens_per_month=get.number("WORKSPACE_TOKENS_PER_MONTH", int, 1, 10**13),
        workspace_cost_per_month=get.number("WORKSPACE_COST_PER_MONTH", float, 0.01, 10**9),
    )
    prices = _prices(get, "MODEL_PRICES")
    priced_elsewhere = bool(get.text("PROFILES_FILE"))  # checked with the file's prices
    if limits.workspace_cost_per_month is not None and model not in prices and not priced_elsewhere:
        get.problems.append(
            f"WORKSPACE_COST_PER_MONTH needs the price of {model} (OPENAI_MODEL): set "
            f"MODEL_PRICES, e.g. {PRICES_EXAMPLE.replace('gpt-5-mini', model)} (per million "
            "tokens), or leave WORKSPACE_COST_PER_MONTH unset."
        )
    usage_file = get.text("USAGE_FILE")
    operations = Operations(
        limits=limits,
        prices=prices,
        usage_file=Path(usage_file).expanduser() if usage_file else default_usage_file(),
        metrics_port=get.number("METRICS_PORT", int, 1, 65535),
    )
    return {"operations": operations}


def _prices(get: Reader, name: str) -> Prices:
    """``{"model": {"input": 0.25, "output": 2.0}}`` per million tokens; unset: none."""
    raw = get.text(name)
    empty: Prices = MappingProxyType({})
    if not raw:
        return empty
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        get.problems.append(f"{name} must be a JSON object like {PRICES_EXAMPLE}, but it is not "
                            f"valid JSON ({error.msg} at column {error.colno}).")
        return empty
    if not isinstance(value, dict):
        get.problems.append(f"{name} must be a JSON object like {PRICES_EXAMPLE}.")
        return empty
    prices, bad = {}, []
    for model, price in value.items():
        parsed = _price(price)
        if parsed is None:
            bad.append(model)
        else:
            prices[model] = parsed
    if bad:
        get.problems.append(
            f"{name}: each model needs input and output prices per million tokens, numbers of "
            f"0 or more, like {PRICES_EXAMPLE}; check {', '.join(repr(m) for m in bad[:3])}."
        )
        return empty
    return MappingProxyType(prices)


def _price(value: object) -> Price | None:
    if not isinstance(value, dict) or set(value) != {"input", "output"}:
        return None
    numbers = [value["input"], value["output"]]
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) and n >= 0
               for n in numbers):
        return None
    return Price(float(numbers[0]), float(numbers[1]))

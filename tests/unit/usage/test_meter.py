"""One answer's model use, measured against the fake OpenAI: the server's usage, an estimate
when it sends none, nothing for a request it refused; and the spending around it."""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from types import MappingProxyType

import pytest

from fakes.openai import Reply, estimate_tokens, prompt_tokens
from slackgpt.config.operations import Limits, Price
from slackgpt.metrics.prometheus import PrometheusMetrics
from slackgpt.model.client import ModelClient, build_openai_client
from slackgpt.state.local import LocalState
from slackgpt.usage.budget import Spent, periods
from slackgpt.usage.meter import Meter
from slackgpt.usage.spending import Spending
from slackgpt.usage.store import SqliteUsage, UsageUnavailable

PRICES = MappingProxyType({"gpt-test": Price(input=1.0, output=10.0)})
ASK = [{"role": "user", "content": "How are you?"}]


@pytest.fixture
async def model(settings):
    client = ModelClient(build_openai_client(settings), settings)
    yield client
    await client.close()


async def drain(meter: Meter) -> str:
    words = []
    with contextlib.suppress(Exception):  # a cut stream still counts what it sent
        async for piece in meter.stream(ASK):
            if isinstance(piece, str):
                words.append(piece)
    return "".join(words)


def sample(metrics: PrometheusMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_the_servers_usage_is_counted_and_priced(llm, model):
    llm.script(Reply(text="Fine, thanks."))
    metrics = PrometheusMetrics()
    meter = Meter(model, PRICES, metrics)
    assert await drain(meter) == "Fine, thanks."
    prompt = prompt_tokens(llm.requests[0])
    written = estimate_tokens("Fine, thanks.")  # the fake's usage counts so
    assert meter.spent == Spent(prompt, written, (prompt + 10 * written) / 1e6, False)
    assert meter.model_name == "gpt-test"  # the rest is the client's
    labels = {"model": "gpt-test", "profile": "default"}
    assert sample(metrics, "slackgpt_model_tokens_total", **labels, kind="prompt") == prompt
    assert sample(metrics, "slackgpt_model_requests_total", **labels, usage="reported") == 1
    assert sample(metrics, "slackgpt_model_cost_total", **labels) == pytest.approx(
        meter.spent.cost)


async def test_without_usage_the_words_are_estimated(llm, model):
    llm.script(Reply(text="one two three four", eof_after=2))  # no usage, no finish
    metrics = PrometheusMetrics()
    meter = Meter(model, MappingProxyType({}), metrics)
    shown = await drain(meter)
    assert shown == "one two"
    assert meter.spent.estimated and meter.spent.completion_tokens == estimate_tokens(shown)
    assert meter.spent.prompt_tokens >= estimate_tokens("How are you?")
    assert sample(metrics, "slackgpt_model_requests_total", model="gpt-test",
                  profile="default", usage="estimated") == 1
    assert sample(metrics, "slackgpt_model_cost_total", model="gpt-test",
                  profile="default") == 0  # no price: no cost series grows


async def test_a_refused_request_costs_nothing(llm, model):
    llm.script(Reply(status=400, error_type="invalid_request_error", error_message="no"))
    meter = Meter(model, PRICES, PrometheusMetrics())
    assert await drain(meter) == ""
    assert meter.spent == Spent()


async def test_spending_refuses_over_budget_and_tells_once_at_80(llm, model, tmp_path):
    store = SqliteUsage(tmp_path / "usage.sqlite3")
    metrics = PrometheusMetrics()
    spending = Spending(Limits(person_tokens_per_day=1000), store, LocalState(None),
                        metrics=metrics)
    await spending.open()
    try:
        today = periods(time.time())
        await store.add("U1", "C1", Spent(799, 0), today)  # one token short of 80 %
        assert await spending.refusal("U1") is None
        llm.script(Reply(text="ok"), Reply(text="ok"))
        notices = []
        for _ in range(2):
            meter = spending.meter(model)
            await drain(meter)  # type: ignore[arg-type]
            notices.append(await spending.settle("U1", "C1", meter))
        assert "of your daily budget of 1,000 tokens" in (notices[0] or "")
        assert notices[1] is None  # told once
        await store.add("U1", "C1", Spent(1000, 0), today)
        refusal = await spending.refusal("U1")
    finally:
        await spending.close()
    assert refusal and "You've used your daily budget" in refusal
    assert sample(metrics, "slackgpt_spend_budget_events_total", event="refused",
                  limit="person_day") == 1


async def test_without_budgets_usage_is_counted_and_nothing_is_read_before(
    model, settings, tmp_path
):
    spending = Spending.for_settings(settings, LocalState(None), PrometheusMetrics(),
                                     measuring=False)
    await spending.open()
    assert spending.store is not None and isinstance(spending.meter(model), Meter)
    assert await spending.refusal("U1") is None
    await spending.close()
    nowhere = tmp_path / "file" / "usage.sqlite3"
    (tmp_path / "file").write_text("a file where the folder should be")
    lost = replace(settings, operations=replace(settings.operations, usage_file=nowhere))
    spending = Spending.for_settings(lost, LocalState(None), PrometheusMetrics(), False)
    await spending.open()  # no budget: a warning, and usage uncounted
    assert spending.store is None and spending.meter(model) is model
    limited = replace(lost, operations=replace(lost.operations, limits=Limits(1)))
    with pytest.raises(UsageUnavailable):  # a budget cannot hold without its counts
        await Spending.for_settings(limited, LocalState(None), PrometheusMetrics(),
                                    False).open()


async def test_options_reach_the_model_client():
    class Client:
        model_name = "m"

        async def stream(self, messages, completion, tools=None):
            completion.finish_reason = "stop"
            yield f"tools={tools}"

    meter = Meter(Client(), MappingProxyType({}), PrometheusMetrics())  # type: ignore[arg-type]
    pieces = [p async for p in meter.stream(ASK, tools=["search"])]
    assert pieces == ["tools=['search']"] and meter.spent.estimated


async def test_a_profiles_answer_is_priced_by_its_file_and_labelled_with_its_name(llm, model):
    llm.script(Reply(text="Fine."))
    metrics = PrometheusMetrics()
    spending = Spending(prices=MappingProxyType({"gpt-test": Price(100.0, 100.0)}),
                        metrics=metrics, measuring=True)
    meter = spending.meter(model, "support", PRICES)  # the file's price wins over the setting's
    assert await drain(meter) == "Fine."
    prompt, written = meter.spent.prompt_tokens, meter.spent.completion_tokens
    assert meter.spent.cost == pytest.approx((prompt + 10 * written) / 1e6)
    labels = {"model": "gpt-test", "profile": "support"}
    assert sample(metrics, "slackgpt_model_tokens_total", **labels, kind="prompt") == prompt
    assert sample(metrics, "slackgpt_model_cost_total", **labels) == pytest.approx(
        meter.spent.cost)

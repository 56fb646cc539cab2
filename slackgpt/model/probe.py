"""Whether a model answers: the streaming request an answer sends, with a tiny question,
read to its first words; a failure as one line and its fix (``--check`` shows it)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, replace
from typing import Literal

import openai

from slackgpt.config.settings import Settings
from slackgpt.model.client import ModelClient
from slackgpt.model.failures import Failure, explain


@dataclass(frozen=True)
class Probe:
    """What trying the model found: ``ok``, ``warn`` (it works, with a caveat) or ``fail``,
    a one-line detail, and the fix unless it passed."""

    status: Literal["ok", "warn", "fail"]
    detail: str
    fix: str = ""


async def probe_model(settings: Settings, client: openai.AsyncOpenAI) -> Probe:
    """The streaming request an answer sends, with a tiny question; read to the first words."""
    model_name = settings.openai_model
    quick = client.with_options(max_retries=0, timeout=min(settings.openai_timeout, 30.0))
    patience = min(settings.first_token_timeout, 30.0)
    model = ModelClient(quick, replace(settings, first_token_timeout=patience))
    where = model.where
    started = time.monotonic()
    try:
        await _first_words(model)
    except Exception as error:
        return await _model_failure(model_name, where, quick, error)
    detail = f"{model_name} at {where} answered in {time.monotonic() - started:.1f}s"
    if model.dropped:
        fields = ", ".join(model.dropped)
        fix = "Leave MAX_COMPLETION_TOKENS unset." if "max_completion_tokens" in fields else ""
        return Probe(
            "warn",
            f"{detail}, but the server refuses {fields}; the bot sends requests without it",
            fix or "Nothing to do: answers work without it.",
        )
    return Probe("ok", detail)


async def _first_words(model: ModelClient) -> None:
    """Stream a tiny answer until its first words (or its end)."""
    question = [{"role": "user", "content": "Reply with the word OK."}]
    async with contextlib.aclosing(model.stream(question)) as pieces:
        async for piece in pieces:
            if isinstance(piece, str):
                return


async def _model_failure(
    model: str, where: str, client: openai.AsyncOpenAI, error: BaseException
) -> Probe:
    failure: Failure = explain(error, model)
    if failure.kind == "unknown_model":
        return await _unknown_model(model, where, client)
    transient = failure.transient and failure.kind == "rate_limit"
    return Probe("warn" if transient else "fail", failure.summary_at(where), failure.fix)


async def _unknown_model(model: str, where: str, client: openai.AsyncOpenAI) -> Probe:
    """A 404: the model name is unknown, or the base URL is not an OpenAI-style API."""
    try:
        available = sorted([m.id async for m in client.models.list()])
    except (openai.APIError, TypeError, ValueError):
        available = []
    if not available:
        return Probe(
            "fail",
            f"{where} answered 404 for model {model}",
            "Check OPENAI_MODEL (on Azure: the deployment name) and OPENAI_BASE_URL (it "
            "usually ends in /v1).",
        )
    shown = ", ".join(available[:10]) + (", …" if len(available) > 10 else "")
    return Probe(
        "fail",
        f"model {model} is not served at {where} (404)",
        f"Set OPENAI_MODEL to one of: {shown}.",
    )

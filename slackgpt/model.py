"""The model client: stream a chat completion, and explain its failures in plain words."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import openai

from .config import Settings

log = logging.getLogger(__name__)

Message = dict[str, object]


@dataclass
class Usage:
    """What one answer cost, when the server reports it."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Completion:
    """Outcome of a finished stream, filled in while it runs."""

    usage: Usage | None = None
    finish_reason: str | None = None


class ModelTimeout(Exception):
    """The model sent nothing for too long: before its first words, or between two pieces."""

    def __init__(self, seconds: float, *, started: bool):
        self.seconds = seconds
        self.started = started
        where = "between two pieces of" if started else "before the first words of"
        super().__init__(f"no data for {seconds:g}s {where} the answer")


def build_openai_client(settings: Settings) -> openai.AsyncOpenAI:
    """The OpenAI (or compatible) client for these settings."""
    return openai.AsyncOpenAI(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        # The stream's own deadlines (see ModelClient.stream) are the tighter ones.
        timeout=max(settings.openai_timeout, settings.first_token_timeout),
        max_retries=settings.openai_max_retries,
    )


class ModelClient:
    """Streams answers from a Chat Completions endpoint with the configured parameters."""

    def __init__(self, client: openai.AsyncOpenAI, settings: Settings):
        self.client = client
        self.model = settings.openai_model
        self.first_token_timeout = settings.first_token_timeout
        self.idle_timeout = settings.openai_timeout
        self.params: dict[str, object] = {}
        if settings.max_completion_tokens is not None:
            self.params["max_completion_tokens"] = settings.max_completion_tokens
        if settings.temperature is not None:
            self.params["temperature"] = settings.temperature

    async def stream(
        self, messages: list[Message], completion: Completion | None = None
    ) -> AsyncIterator[str]:
        """Yield the answer's text as the model writes it; ``completion`` gets usage and finish.

        Raises :class:`ModelTimeout` when the first words take longer than the first-token
        timeout (retries included), or the stream then goes quiet for the idle timeout.
        """
        completion = completion if completion is not None else Completion()
        deadline = time.monotonic() + self.first_token_timeout
        started = False

        def remaining() -> float:
            return self.idle_timeout if started else max(0.0, deadline - time.monotonic())

        try:
            stream = await asyncio.wait_for(
                self.client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    stream=True,
                    stream_options={"include_usage": True},
                    **self.params,  # type: ignore[arg-type]
                ),
                remaining(),
            )
        except asyncio.TimeoutError:
            raise ModelTimeout(self.first_token_timeout, started=False) from None
        chunks = aiter(stream)
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(anext(chunks), remaining())
                except StopAsyncIteration:
                    return
                except asyncio.TimeoutError:
                    seconds = self.idle_timeout if started else self.first_token_timeout
                    raise ModelTimeout(seconds, started=started) from None
                if chunk.usage is not None:
                    completion.usage = Usage(
                        chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0
                    )
                for choice in chunk.choices:
                    if choice.finish_reason:
                        completion.finish_reason = choice.finish_reason
                    if choice.delta and choice.delta.content:
                        started = True
                        yield choice.delta.content
        finally:
            await stream.close()


def explain_failure(error: BaseException, model: str) -> str:
    """One or two plain sentences for the thread: what went wrong and what helps."""
    if isinstance(error, ModelTimeout):
        if error.started:
            return f"The model stopped sending for {error.seconds:g} seconds, so I stopped waiting."
        return (
            f"The model didn't start answering within {error.seconds:g} seconds, so I stopped "
            "waiting. Please try again."
        )
    if isinstance(error, openai.APITimeoutError):
        return "The model took too long to answer, so I stopped waiting. Please try again."
    if isinstance(error, openai.APIConnectionError):
        return (
            "I couldn't reach the model service. Please try again in a minute; if it keeps "
            "happening, an admin should check OPENAI_BASE_URL and the network."
        )
    if isinstance(error, openai.AuthenticationError):
        return (
            "The model service rejected my API key. An admin needs to check OPENAI_API_KEY."
        )
    if isinstance(error, openai.PermissionDeniedError):
        return (
            f"My API key isn't allowed to use the model `{model}`. An admin needs to check "
            "the key's permissions or OPENAI_MODEL."
        )
    if isinstance(error, openai.NotFoundError):
        return (
            f"The model `{model}` wasn't found on the model service. An admin needs to check "
            "OPENAI_MODEL (and OPENAI_BASE_URL)."
        )
    if isinstance(error, openai.RateLimitError):
        if _code(error) == "insufficient_quota":
            return (
                "The model account has run out of quota. An admin needs to check billing "
                "for the API key."
            )
        return "The model service is busy (rate limit reached). Please try again in a minute."
    if isinstance(error, openai.BadRequestError):
        if _code(error) == "context_length_exceeded" or "context" in str(error).lower():
            return (
                "This conversation is too long for the model. Please start a new thread, "
                "or ask again with less text."
            )
        return "The model service refused this request. Details are in the bot's log."
    if isinstance(error, openai.APIStatusError) and error.status_code >= 500:
        return "The model service had an internal error. Please try again in a moment."
    if isinstance(error, openai.APIError):
        return "The model service returned an error. Details are in the bot's log."
    return "Something went wrong while answering. Details are in the bot's log."


def _code(error: openai.APIError) -> str | None:
    code = getattr(error, "code", None)
    if code:
        return str(code)
    body = error.body if isinstance(error.body, dict) else {}
    inner = body.get("error", body) if isinstance(body, dict) else {}
    return inner.get("code") if isinstance(inner, dict) else None

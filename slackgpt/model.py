"""The model client: stream a chat completion with the configured parameters."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import openai

from .config import Settings
from .failures import ModelTimeout

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
        self.model_name = settings.openai_model
        self.first_token_timeout = settings.first_token_timeout
        self.idle_timeout = settings.openai_timeout
        self.params: dict[str, object] = {}
        if settings.max_completion_tokens is not None:
            self.params["max_completion_tokens"] = settings.max_completion_tokens
        if settings.temperature is not None:
            self.params["temperature"] = settings.temperature

    async def close(self) -> None:
        """Release the client's connections."""
        await self.client.close()

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
                    model=self.model_name,
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

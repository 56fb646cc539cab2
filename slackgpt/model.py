"""The model client: stream a chat completion with the configured parameters.

Thinking (reasoning deltas) counts as progress; a stream that ends without saying it is
finished, or breaks off, raises :class:`~slackgpt.failures.StreamCut`; an optional field the
server refuses is dropped for that server, once, and logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import openai

from .config import Settings
from .failures import ModelTimeout, StreamCut, rejected_field

log = logging.getLogger(__name__)

Message = dict[str, object]
THINKING_FIRST = 5.0  # seconds of thought before the first Thinking report
THINKING_EVERY = 10.0  # seconds between two Thinking reports of one long thought
_REASONING_FIELDS = ("reasoning_content", "reasoning")  # vLLM/DeepSeek, OpenRouter/Ollama


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


@dataclass(frozen=True)
class Thinking:
    """The model is reasoning; ``seconds`` since the request was sent."""

    seconds: float


class _Clock:
    """The stream's deadlines: the first sign of life, then the gap between two pieces."""

    def __init__(self, first: float, idle: float):
        self.first, self.idle = first, idle
        self.sent = time.monotonic()
        self.alive = False  # anything (thought or word) has arrived
        self.next_report = self.sent + THINKING_FIRST

    def remaining(self) -> float:
        if self.alive:
            return self.idle
        return max(0.0, self.sent + self.first - time.monotonic())

    def timeout(self) -> ModelTimeout:
        return ModelTimeout(self.idle if self.alive else self.first, started=self.alive)

    def thought(self) -> Thinking | None:
        """A Thinking report: after THINKING_FIRST seconds, then every THINKING_EVERY."""
        self.alive = True
        now = time.monotonic()
        if now < self.next_report:
            return None
        self.next_report = now + THINKING_EVERY
        return Thinking(now - self.sent)


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
        self.params: dict[str, object] = {"stream_options": {"include_usage": True}}
        if settings.max_completion_tokens is not None:
            self.params["max_completion_tokens"] = settings.max_completion_tokens
        if settings.temperature is not None:
            self.params["temperature"] = settings.temperature
        self.dropped: list[str] = []  # optional fields this server refused

    async def close(self) -> None:
        """Release the client's connections."""
        await self.client.close()

    def request(self, messages: list[Message]) -> dict[str, object]:
        """The streaming request an answer sends (and ``--check`` too)."""
        return {"model": self.model_name, "messages": messages, "stream": True, **self.params}

    async def stream(
        self, messages: list[Message], completion: Completion | None = None
    ) -> AsyncIterator[str | Thinking]:
        """Yield the answer's text as the model writes it, and Thinking while it reasons.

        ``completion`` gets usage and the finish reason. Raises ModelTimeout when nothing
        arrives within the first-token timeout (retries included), or the stream then goes
        quiet for the idle timeout; StreamCut when it ends or breaks off unfinished.
        """
        completion = completion if completion is not None else Completion()
        clock = _Clock(self.first_token_timeout, self.idle_timeout)
        stream = await self._open(messages, clock)
        try:
            async for chunk in _chunks(stream, clock):
                for item in _read(chunk, completion, clock):
                    yield item
        finally:
            await stream.close()
        if completion.finish_reason is None and completion.usage is None:
            raise StreamCut()

    async def _open(self, messages: list[Message], clock: _Clock):
        """Send the request; a refused optional field is dropped and the request sent again."""
        while True:
            request = self.request(messages)
            try:
                return await asyncio.wait_for(
                    self.client.chat.completions.create(**request),  # type: ignore[call-overload]
                    clock.remaining(),
                )
            except asyncio.TimeoutError:
                raise clock.timeout() from None
            except openai.APIStatusError as error:
                field = rejected_field(error, set(self.params))
                if field is None:
                    raise
                self.params.pop(field)
                self.dropped.append(field)
                log.warning("%s refused %s; sending requests without it", self.model_name, field)


async def _chunks(stream, clock: _Clock) -> AsyncIterator[object]:
    """The stream's chunks within the clock's deadlines; a broken connection is a StreamCut."""
    chunks = aiter(stream)
    while True:
        try:
            yield await asyncio.wait_for(anext(chunks), clock.remaining())
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise clock.timeout() from None
        except (httpx2.TransportError, openai.APIConnectionError) as error:
            raise StreamCut(error) from error


def _read(chunk, completion: Completion, clock: _Clock) -> list[str | Thinking]:
    """What one chunk carries: words, a thought, usage, the finish reason."""
    if chunk.usage is not None:
        completion.usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
    items: list[str | Thinking] = []
    for choice in chunk.choices:
        if choice.finish_reason:
            completion.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta is None:
            continue
        if any(getattr(delta, name, None) for name in _REASONING_FIELDS):
            thought = clock.thought()
            if thought is not None:
                items.append(thought)
        if delta.content:
            clock.alive = True
            items.append(delta.content)
    return items

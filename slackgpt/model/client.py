"""The model client: stream a chat completion with the configured parameters.

Thinking (reasoning deltas) counts as progress; a stream that ends without saying it is
finished, or breaks off, raises :class:`~slackgpt.model.failures.StreamCut`; an optional field the
server refuses is dropped for that server, once, and logged. Tools are offered when asked for;
the calls the model makes are gathered in :class:`Completion`; a server that takes no tools
is asked again without them, and never offered them again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import httpx2
import openai

from slackgpt.config.settings import Settings
from slackgpt.deadline import deadline
from slackgpt.logs import public_url
from slackgpt.model.failures import OPTIONAL_FIELDS, ModelTimeout, StreamCut, rejected_field
from slackgpt.model.tool_calls import CallParts, refuses_tools

log = logging.getLogger(__name__)
DEFAULT_BASE_URL = "https://api.openai.com/v1"

Message = dict[str, object]
THINKING_FIRST = 5.0  # seconds of thought before the first Thinking report
THINKING_EVERY = 10.0  # seconds between two Thinking reports of one long thought
_REASONING_FIELDS = ("reasoning_content", "reasoning")  # vLLM/DeepSeek, OpenRouter/Ollama
# What the SDK's aiohttp transport lets through unmapped: a malformed response, a bad header.
_BROKEN = (aiohttp.ClientError, aiohttp.http_exceptions.HttpProcessingError)


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
    tool_calls: CallParts = field(default_factory=CallParts)  # the calls the model made


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
    """The OpenAI (or compatible) client for these settings, on the SDK's aiohttp transport
    (``openai[aiohttp]``): reading a streamed answer costs about a third of the CPU it does
    over httpx's own."""
    return openai.AsyncOpenAI(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        http_client=openai.DefaultAioHttpClient(),
        # The stream's own deadlines (see ModelClient.stream) govern; this is aiohttp's read
        # timer too, which _events reads as the same ModelTimeout should it fire first.
        timeout=max(settings.openai_timeout, settings.first_token_timeout),
        max_retries=settings.openai_max_retries,
    )


class ModelClient:
    """Streams answers from a Chat Completions endpoint with the configured parameters."""

    def __init__(self, client: openai.AsyncOpenAI, settings: Settings):
        self.client = client
        self.model_name = settings.openai_model
        self.where = public_url(settings.openai_base_url or DEFAULT_BASE_URL)  # for messages
        self.first_token_timeout = settings.first_token_timeout
        self.idle_timeout = settings.openai_timeout
        self.params: dict[str, object] = {"stream_options": {"include_usage": True}}
        if settings.max_completion_tokens is not None:
            self.params["max_completion_tokens"] = settings.max_completion_tokens
        if settings.temperature is not None:
            self.params["temperature"] = settings.temperature
        self.dropped: list[str] = []  # optional fields this server refused
        self.takes_tools = True  # False once the server refused a request for its tools
        self.named: dict[str, str] = {}  # a profile's: setting -> where its value comes from

    async def close(self) -> None:
        """Release the client's connections."""
        await self.client.close()

    def request(
        self, messages: list[Message], tools: list[dict] | None = None
    ) -> dict[str, object]:
        """The streaming request an answer sends (and ``--check`` too), with ``tools`` when
        given and this server takes them."""
        body = {"model": self.model_name, "messages": messages, "stream": True, **self.params}
        return {**body, "tools": tools} if tools and self.takes_tools else body

    async def stream(
        self,
        messages: list[Message],
        completion: Completion | None = None,
        tools: list[dict] | None = None,
    ) -> AsyncIterator[str | Thinking]:
        """Yield the answer's text as the model writes it, and Thinking while it reasons.

        ``completion`` gets usage, the finish reason and the calls the model made of
        ``tools`` (the Chat Completions field, offered when given). Raises ModelTimeout when
        nothing
        arrives within the first-token timeout (retries included), or the stream then goes
        quiet for the idle timeout; StreamCut when it ends or breaks off unfinished. The SDK
        sends the request (retries, errors); the stream's events are read here, as plain JSON,
        which costs a third of the CPU of an SDK object per chunk.
        """
        completion = completion if completion is not None else Completion()
        clock = _Clock(self.first_token_timeout, self.idle_timeout)
        async with contextlib.AsyncExitStack() as stack:
            response = await self._open(messages, tools, clock, stack)
            async for event in _events(response, clock):
                for item in _read(event, completion, clock):
                    yield item
        if completion.finish_reason is None and completion.usage is None:
            raise StreamCut()

    async def _open(
        self,
        messages: list[Message],
        tools: list[dict] | None,
        clock: _Clock,
        stack: contextlib.AsyncExitStack,
    ) -> httpx2.Response:
        """Send the request; a refused optional field, or tools, are dropped and the request
        sent again.

        The SDK's documented raw route (``client.post`` with ``cast_to=httpx2.Response``)
        keeps its retries, headers and errors but skips validating the typed parameters,
        which cost more CPU than the rest of the request.
        """
        last: openai.APIStatusError | None = None
        for _ in range(len(OPTIONAL_FIELDS) + 2):  # each resend drops something
            body = self.request(messages, tools)
            try:
                async with deadline(clock.remaining()):
                    response = await self.client.post(
                        "/chat/completions", cast_to=httpx2.Response, body=body, stream=True
                    )
            except TimeoutError:
                raise clock.timeout() from None
            except _BROKEN as error:
                raise openai.APIConnectionError(request=self._request_line()) from error
            except openai.APIStatusError as error:
                if not self._drop_refused(error, set(body)):
                    raise
                last = error
                continue
            except UnicodeEncodeError:  # a lone surrogate (a crafted "\ud800" in some text)
                messages = _scrubbed(messages)
                continue
            stack.push_async_callback(response.aclose)
            return response
        assert last is not None
        raise last  # refused again with nothing left to drop

    def _drop_refused(self, error: openai.APIStatusError, sent: set[str]) -> bool:
        """Stop sending what the server refused (tools, or an optional field); False when the
        refusal was of something else."""
        if "tools" in sent and refuses_tools(error):
            self._no_tools(error)
            return True
        refused = rejected_field(error, sent)
        if refused is None:
            return False
        if self.params.pop(refused, None) is not None:  # else another answer dropped it
            self.dropped.append(refused)
            log.warning("%s refused %s; sending requests without it", self.model_name, refused)
        return True

    def _no_tools(self, error: openai.APIStatusError) -> None:
        """The server takes no tools: said once, and never offered them again."""
        if self.takes_tools:
            self.takes_tools = False
            log.warning(
                "%s at %s does not take tools (%s); answering without them from now on",
                self.model_name, self.where, str(error).split("\n")[0][:200],
            )

    def _request_line(self) -> httpx2.Request:
        return httpx2.Request("POST", f"{self.client.base_url}chat/completions")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _scrubbed(value):
    """``value`` with every lone surrogate (which UTF-8 cannot carry) made U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    return value


async def _events(response: httpx2.Response, clock: _Clock) -> AsyncIterator[dict]:
    """The stream's Server-Sent Events as JSON objects, within the clock's deadlines.

    ``data: [DONE]`` ends it; an ``{"error": …}`` event raises APIError; a broken connection
    is a StreamCut; a line of broken JSON raises json.JSONDecodeError (a garbled stream).
    """
    lines = aiter(response.aiter_lines())
    data: list[str] = []
    while True:
        try:
            async with deadline(clock.remaining()):
                line = await anext(lines)
        except StopAsyncIteration:
            return
        except (TimeoutError, httpx2.ReadTimeout):  # ours, or the socket's read timer
            raise clock.timeout() from None
        except (httpx2.TransportError, openai.APIConnectionError, *_BROKEN) as error:
            raise StreamCut(error) from error
        if line:
            if line.startswith("data:"):
                data.append(line[6:] if line.startswith("data: ") else line[5:])
            continue  # comments (":…") and other fields carry nothing for chat completions
        payload, data = "\n".join(data), []
        if not payload:
            continue
        if payload.startswith("[DONE]"):
            return
        event = json.loads(payload)
        if isinstance(event, dict) and event.get("error"):
            raise _stream_error(event["error"], response)
        if isinstance(event, dict):
            yield event


def _stream_error(error: object, response) -> openai.APIError:
    """The APIError for an error event sent in the middle of a stream."""
    message = error.get("message") if isinstance(error, dict) else None
    text = message if isinstance(message, str) and message else "An error occurred during streaming"
    return openai.APIError(text, response.request, body=error)


def _read(event: dict, completion: Completion, clock: _Clock) -> list[str | Thinking]:
    """What one event carries: words, a thought, usage, the finish reason."""
    usage = event.get("usage")
    if isinstance(usage, dict):
        completion.usage = Usage(
            int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        )
    items: list[str | Thinking] = []
    for choice in event.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        if choice.get("finish_reason"):
            completion.finish_reason = str(choice["finish_reason"])
        delta = choice.get("delta") or {}
        if any(delta.get(name) for name in _REASONING_FIELDS):
            thought = clock.thought()
            if thought is not None:
                items.append(thought)
        if delta.get("tool_calls"):
            clock.alive = True
            completion.tool_calls.add(delta["tool_calls"])
        content = delta.get("content")
        if isinstance(content, str) and content:
            clock.alive = True
            items.append(content)
    return items

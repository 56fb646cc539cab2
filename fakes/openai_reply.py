"""Reply: one scripted answer (or failure) of FakeOpenAI, with presets for proxies' errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal

from fakes.openai_tools import Call, call_fragments
from fakes.openai_wire import Json, litellm_invalid_model_error, litellm_quota_error

ReasoningField = Literal["reasoning_content", "reasoning"]


def _pieces(text: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+", text)


@dataclass
class Reply:
    """One scripted answer (or failure) to a chat completion request.

    The ``*_after`` options count content chunks (reasoning chunks don't count) and apply to
    streaming answers; non-streaming ones are noted where they differ.
    """

    text: str = "Hello!"
    chunks: list[str] | None = None
    """Explicit content deltas; by default ``text`` in word-ish pieces."""
    first_token_delay: float = 0.0
    """Seconds before the first chunk (the assistant role) is sent."""
    token_delay: float = 0.0
    """Seconds between content chunks."""
    status: int = 200
    """A non-200 status answers with an error body instead of a completion."""
    error_type: str | None = None
    error_code: str | None = None
    error_message: str = ""
    headers: dict[str, str] | None = None
    cut_after: int | None = None
    """Abort the connection after N content chunks (non-streaming: before any answer)."""
    stall_after: int | None = None
    """Send nothing more after N content chunks, until the fake stops."""
    error_after: int | None = None
    """Send a ``data: {"error": ...}`` event after N content chunks."""
    finish_reason: str = "stop"
    _: KW_ONLY  # the options below are keyword-only; the ones above keep their positions
    error_body: Json | Callable[[Json], Json] | None = None
    """The exact error JSON (or a function of the request body giving it); overrides
    ``error_type``/``error_code``/``error_message``. Used with ``status``."""
    eof_after: int | None = None
    """End the response cleanly (proper chunked end) after N content chunks, with no
    ``finish_reason`` chunk, no usage and no ``data: [DONE]``. Streaming only."""
    corrupt_after: int | None = None
    """After N good content chunks, send a ``data:`` line of truncated JSON (the next chunk cut
    in half), then go on as scripted. Non-streaming: the JSON body itself is cut in half."""
    reasoning: str = ""
    """Thinking streamed before any content, in word-ish pieces (or ``reasoning_chunks``);
    non-streaming answers carry it whole in the message, under ``reasoning_field``."""
    reasoning_chunks: list[str] | None = None
    reasoning_field: ReasoningField = "reasoning_content"
    """``reasoning_content`` (DeepSeek, LiteLLM, vLLM until vllm#27752 in late 2025: deltas
    ``{"content": null, "reasoning_content": ...}``) or ``reasoning`` (Ollama, OpenRouter,
    vLLM since: ``{"content": "", "reasoning": ...}``)."""
    reasoning_delay: float = 0.0
    """Seconds between reasoning chunks, and from the last one to the first content: N pieces
    think for N x ``reasoning_delay`` seconds."""
    tool_calls: list[Call] | None = None
    """Tool calls made after the text (finish reason ``tool_calls``), streamed in fragments
    (see :func:`fakes.openai_tools.call_fragments`)."""
    tool_call_pieces: int = 3
    """Parts each call's arguments are streamed in."""
    interleaved: bool = True
    """Several calls' fragments alternate (else one call after the other)."""
    same_index: bool = False
    """Every call at index 0, told apart by id (Ollama-compatible servers)."""

    def finish(self) -> str:
        """The finish reason sent: ``tool_calls`` for a reply that calls tools, unless set."""
        if self.tool_calls and self.finish_reason == "stop":
            return "tool_calls"
        return self.finish_reason

    def fragments(self) -> list[list[Json]]:
        """The ``delta.tool_calls`` of each tool-call chunk streamed for this reply."""
        return call_fragments(
            self.tool_calls or [],
            pieces=self.tool_call_pieces,
            interleave=self.interleaved,
            same_index=self.same_index,
        )

    def deltas(self) -> list[str]:
        """The content pieces streamed for this reply."""
        if self.chunks is not None:
            return list(self.chunks)
        return _pieces(self.text)

    def reasoning_deltas(self) -> list[str]:
        """The reasoning pieces streamed before the content."""
        if self.reasoning_chunks is not None:
            return list(self.reasoning_chunks)
        return _pieces(self.reasoning)

    def duration(self) -> float:
        """How long the whole answer takes to write, as scripted."""
        thinking = self.reasoning_delay * len(self.reasoning_deltas())
        writing = self.token_delay * max(0, len(self.deltas()) + len(self.fragments()) - 1)
        return self.first_token_delay + thinking + writing

    def error_json(self, body: Json) -> Json | None:
        """The scripted ``error_body`` for this request, if any."""
        if callable(self.error_body):
            return self.error_body(body)
        return self.error_body

    @classmethod
    def litellm_quota_exceeded(cls, **changes: Any) -> Reply:
        """429 from a LiteLLM proxy whose OpenAI key ran out of quota: OpenAI's wording behind
        ``litellm.RateLimitError:``, ``type: throttling_error``, ``code: "429"`` (a string),
        no ``insufficient_quota`` anywhere."""
        return cls(status=429, error_body=litellm_quota_error, **changes)

    @classmethod
    def litellm_invalid_model(cls, **changes: Any) -> Reply:
        """400 from a LiteLLM proxy with no route for the requested model: "Invalid model name
        passed in model=<model>", ``type``/``param`` the string "None", ``code: "400"``."""
        return cls(status=400, error_body=litellm_invalid_model_error, **changes)

"""What OpenAI-compatible servers put on the wire: token estimates and error bodies.

Every error body reproduces a real server's wording; where it was seen is noted next to it.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

Json = dict[str, Any]

ContextStyle = Literal["openai", "vllm"]
RejectStyle = Literal["azure", "openai", "vllm"]

MESSAGE_OVERHEAD = 4  # tokens of role and separators around each message
IMAGE_TOKENS = 765  # OpenAI's price of a 1024x1024 image at "high"/"auto" detail (85 + 4 x 170)
IMAGE_TOKENS_LOW = 85  # ... and of any image at "low" detail


def estimate_tokens(text: str) -> int:
    """Roughly 4 characters a token, like OpenAI's rule of thumb."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _part_tokens(part: Any) -> int:
    if not isinstance(part, dict):
        return estimate_tokens(str(part))
    if part.get("type") == "text":
        return estimate_tokens(str(part.get("text") or ""))
    if part.get("type") == "image_url":
        image = part.get("image_url")
        low = isinstance(image, dict) and image.get("detail") == "low"
        return IMAGE_TOKENS_LOW if low else IMAGE_TOKENS
    return estimate_tokens(json.dumps(part))  # audio, files...: what they carry


def content_tokens(content: Any) -> int:
    """Estimated tokens of a message's ``content``: a string or a list of parts (images too)."""
    if isinstance(content, list):
        return sum(_part_tokens(p) for p in content)
    return estimate_tokens(str(content or ""))


def prompt_tokens(body: Json) -> int:
    """The request's prompt tokens as the fake counts them (usage and ``context_limit``)."""
    messages = body.get("messages") or []
    return sum(
        MESSAGE_OVERHEAD
        + content_tokens(m.get("content"))
        + (estimate_tokens(json.dumps(m["tool_calls"])) if m.get("tool_calls") else 0)
        for m in messages
        if isinstance(m, dict)
    )


def usage(body: Json, text: str, reasoning: str = "") -> Json:
    """The ``usage`` object of an answer; reasoning counts as completion tokens, like o1/R1."""
    prompt = prompt_tokens(body)
    thought = estimate_tokens(reasoning)
    completion = estimate_tokens(text) + thought
    result: Json = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if reasoning:
        result["completion_tokens_details"] = {"reasoning_tokens": thought}
    return result


def openai_error(
    message: str, type_: str | None, code: str | None, param: str | None = None
) -> Json:
    """OpenAI's error envelope."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def vllm_error(message: str) -> Json:
    """vLLM's 400 ``ErrorResponse`` as older releases sent it: a top-level object, ``code`` an
    int (newer releases nest it under ``error``)."""
    return {
        "object": "error",
        "message": message,
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }


def requested_completion(body: Json) -> int | None:
    """The completion budget the request asks for, if any."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def context_error(style: ContextStyle, limit: int, body: Json) -> Json | None:
    """The 400 body for a request over ``limit`` tokens, or None when it fits.

    ``openai``: api.openai.com today, counting the messages alone. ``vllm``: older vLLM (still
    in vllm#20409, mid-2025; OpenAI said the same in 2023), counting the messages plus
    ``max_completion_tokens``/``max_tokens``; wording from vLLM's
    entrypoints/openai/serving_engine.py (``_validate_prompt_and_tokenize``).
    """
    prompt = prompt_tokens(body)
    head = f"This model's maximum context length is {limit} tokens. However, "
    if style == "openai":
        if prompt <= limit:
            return None
        message = (
            f"{head}your messages resulted in {prompt} tokens. "
            "Please reduce the length of the messages."
        )
        return openai_error(message, "invalid_request_error", "context_length_exceeded", "messages")
    if style != "vllm":
        raise ValueError(f"unknown context_style {style!r}")
    completion = requested_completion(body)
    if completion is None:  # vLLM fills the rest of the window: only a full window fails
        if prompt < limit:
            return None
        # the comma before "Please" is vLLM's own
        return vllm_error(
            f"{head}you requested {prompt} tokens in the messages, "
            "Please reduce the length of the messages."
        )
    if prompt + completion <= limit:
        return None
    return vllm_error(
        f"{head}you requested {prompt + completion} tokens ({prompt} in the messages, "
        f"{completion} in the completion). Please reduce the length of the messages or completion."
    )


def rejection_error(style: RejectStyle, body: Json, fields: list[str]) -> Json:
    """The 400 body of a server that does not know the request's top-level ``fields``.

    ``azure``: Azure OpenAI's older API versions ("Unrecognized request argument supplied:
    stream_options", langchain-ai/langchain#23552; the plural, names sorted, in Azure errors
    quoted by users, e.g. "tool_choice, tools"). ``openai``: OpenAI's own unknown-parameter
    error (agno-agi/agno#1066). ``vllm``: vLLM 0.4-0.5, whose pydantic models forbade extra
    fields (modelscope/ms-agent#489).
    """
    names = sorted(fields)
    if style == "azure":
        plural = "s" if len(names) > 1 else ""
        message = f"Unrecognized request argument{plural} supplied: {', '.join(names)}"
        return openai_error(message, "invalid_request_error", None)
    if style == "openai":
        name = names[0]
        return openai_error(
            f"Unknown parameter: '{name}'.", "invalid_request_error", "unknown_parameter", name
        )
    if style != "vllm":
        raise ValueError(f"unknown rejects_style {style!r}")
    problems = [
        {
            "type": "extra_forbidden",
            "loc": ("body", name),
            "msg": "Extra inputs are not permitted",
            "input": body[name],
        }
        for name in names
    ]
    return vllm_error(str(problems))


# LiteLLM proxy (1.4x+) in front of OpenAI. Its ProxyException sends code as a string; a
# litellm.RateLimitError has type "throttling_error" (litellm/exceptions.py); the router adds
# the model group to every message. Quota text: BerriAI/litellm#13467.
LITELLM_QUOTA_MESSAGE = (
    "litellm.RateLimitError: RateLimitError: OpenAIException - You exceeded your current quota, "
    "please check your plan and billing details. For more information on this error, read the "
    "docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)


def litellm_quota_error(body: Json) -> Json:
    """LiteLLM's 429 for an exhausted OpenAI quota: no ``insufficient_quota`` code left."""
    group = f"Received Model Group={body.get('model')}\nAvailable Model Group Fallbacks=None"
    message = f"{LITELLM_QUOTA_MESSAGE}. {group}"
    return {"error": {"message": message, "type": "throttling_error", "param": None, "code": "429"}}


def litellm_invalid_model_error(body: Json) -> Json:
    """LiteLLM's 400 for a model it has no route for (BerriAI/litellm#9663, #12061)."""
    message = (
        f"/chat/completions: Invalid model name passed in model={body.get('model')}. "
        "Call `/v1/models` to view available models for your key."
    )
    return {"error": {"message": message, "type": "None", "param": "None", "code": "400"}}

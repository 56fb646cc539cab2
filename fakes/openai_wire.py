"""What OpenAI-compatible servers put on the wire: token estimates and error bodies."""

from __future__ import annotations

import math
from typing import Any

Json = dict[str, Any]

MESSAGE_OVERHEAD = 4  # tokens of role and separators around each message


def estimate_tokens(text: str) -> int:
    """Roughly 4 characters a token, like OpenAI's rule of thumb."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


def _prompt_tokens(body: Json) -> int:
    messages = body.get("messages") or []
    return sum(
        MESSAGE_OVERHEAD + estimate_tokens(_content_text(m.get("content")))
        for m in messages
        if isinstance(m, dict)
    )


def usage(body: Json, text: str, reasoning: str = "") -> Json:
    """The ``usage`` object of an answer; reasoning counts as completion tokens, like o1/R1."""
    prompt = _prompt_tokens(body)
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

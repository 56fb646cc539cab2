"""Values settings are made of: who may ask where, suggested prompts. Pure: parsed and checked
here, used everywhere (config imports nothing else of ours)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

MAX_PROMPTS = 4  # Slack shows up to four suggested prompts
_PROMPTS_EXAMPLE = '[{"title": "Summarize", "message": "Summarize this channel."}]'


@dataclass(frozen=True)
class AccessRules:
    """Who may ask where, how often, and extra instructions per channel. None means no limit."""

    allowed_channels: frozenset[str] | None = None
    allowed_users: frozenset[str] | None = None
    requests_per_hour: int | None = None
    channel_prompts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class SuggestedPrompt:
    """One suggested prompt: the button's ``title`` and the ``message`` it sends."""

    title: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "message": self.message}


DEFAULT_PROMPTS = (
    SuggestedPrompt("Summarize this channel", "Summarize the recent messages in this channel."),
    SuggestedPrompt(
        "What did I miss?",
        "What was decided or asked in this channel lately, and what is still open?",
    ),
    SuggestedPrompt("What can you do?", "What can you help me with here?"),
)



def parse_prompts(
    raw: str, name: str = "SUGGESTED_PROMPTS"
) -> tuple[tuple[SuggestedPrompt, ...], str | None]:
    """The setting ``name``: (the prompts, None), or (the defaults, what is wrong and the fix).

    Unset means the defaults; ``[]`` means none. Each item is ``{"title", "message"}`` or a
    string used as both.
    """
    if not raw.strip():
        return DEFAULT_PROMPTS, None
    head = f"{name} must be a JSON list of up to {MAX_PROMPTS} prompts like "
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        where = f"{error.msg} at line {error.lineno}, column {error.colno}"
        return DEFAULT_PROMPTS, f"{head}{_PROMPTS_EXAMPLE}, but it is not valid JSON ({where})."
    if not isinstance(value, list) or len(value) > MAX_PROMPTS:
        return DEFAULT_PROMPTS, f"{head}{_PROMPTS_EXAMPLE} (or [] for none)."
    prompts = [_prompt(item) for item in value]
    bad = [str(i + 1) for i, prompt in enumerate(prompts) if prompt is None]
    if bad:
        return DEFAULT_PROMPTS, (
            f"{name} item {', '.join(bad)} must be a non-empty string or an object "
            f'with a non-empty "title" and "message", like {_PROMPTS_EXAMPLE}.'
        )
    return tuple(p for p in prompts if p is not None), None


def _prompt(item: object) -> SuggestedPrompt | None:
    if isinstance(item, str) and item.strip():
        return SuggestedPrompt(item.strip(), item.strip())
    if not isinstance(item, dict) or set(item) - {"title", "message"}:
        return None
    title, message = item.get("title"), item.get("message")
    if not (isinstance(title, str) and title.strip() and isinstance(message, str)):
        return None
    return SuggestedPrompt(title.strip(), message.strip()) if message.strip() else None

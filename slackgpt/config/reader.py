"""Typed reading of environment variables, every problem collected with how to fix it."""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from urllib.parse import urlparse

from slackgpt.config.values import AccessRules, SuggestedPrompt, parse_prompts

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{8,}$")
_CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")  # channel prompts may name a DM too
_USER_ID = re.compile(r"^[UW][A-Z0-9]{8,}$")


class Reader:
    """Reads typed values from the environment, collecting every problem at once."""

    def __init__(self, env: Mapping[str, str], problems: list[str]):
        self.env = env
        self.problems = problems

    def text(self, name: str) -> str:
        return self.env.get(name, "").strip()

    def token(self, name: str, prefix: str, where: str) -> str:
        value = self.text(name)
        if not value:
            self.problems.append(f"{name} is not set. It is {where}.")
        elif is_placeholder(value):
            self.problems.append(
                f"{name} is still the placeholder {value!r} from .env.example: paste the real "
                f"token. It is {where}."
            )
        elif not value.startswith(prefix) or any(c.isspace() for c in value):
            hint = ""
            if value.startswith(("xoxb-", "xapp-")):
                hint = f" (it looks like the other token: {value[:5]}…)"
            self.problems.append(
                f"{name} must start with {prefix!r}{hint}. It is {where}."
            )
        return value

    def url(self, name: str) -> str | None:
        value = self.text(name)
        if not value:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            self.problems.append(
                f"{name} must be an http(s) URL like https://host/path, not {value!r}."
            )
        return value

    def store_url(self, name: str) -> str | None:
        """A Redis or Valkey URL (``redis://``, ``rediss://``, ``unix://``), or None."""
        value = self.text(name)
        if not value:
            return None
        if urlparse(value).scheme not in ("redis", "rediss", "unix", "valkey", "valkeys"):
            self.problems.append(
                f"{name} must be a Redis URL like redis://redis:6379/0 (or rediss:// for TLS), "
                f"not {value!r}. Leave it unset to keep the bot's memory in its own process."
            )
            return None
        return value

    def number(self, name: str, kind: type, low: float, high: float):
        raw = self.text(name)
        if not raw:
            return None
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not low <= value <= high:
            word = "a whole number" if kind is int else "a number"
            self.problems.append(f"{name} must be {word} from {low:g} to {high:g}, not {raw!r}.")
            return None
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name).lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{name} must be true or false, not {raw!r}.")
        return default

    def line(self, name: str, limit: int) -> str:
        """One line of text, at most ``limit`` characters (unset: empty)."""
        value = self.text(name)
        if "\n" in value or len(value) > limit:
            lines = len(value.splitlines())
            self.problems.append(
                f"{name} must be one line of at most {limit} characters (it has {len(value)} "
                f"characters on {lines} line{'s' if lines > 1 else ''})."
            )
            return ""
        return value

    def prompts(self, name: str) -> tuple[SuggestedPrompt, ...]:
        """A JSON list of suggested prompts (unset: the defaults; ``[]``: none)."""
        prompts, problem = parse_prompts(self.text(name), name)
        if problem:
            self.problems.append(problem)
        return prompts

    def access(self) -> AccessRules:
        """The allow-lists, per-person limit and per-channel prompts; unset means no rule."""
        env, problems = self.env, self.problems
        return AccessRules(
            allowed_channels=_ids(
                env, "ALLOWED_CHANNELS", _CHANNEL_ID, "channel", "C0123ABCD", problems
            ),
            allowed_users=_ids(env, "ALLOWED_USERS", _USER_ID, "user", "U0123ABCD", problems),
            requests_per_hour=_per_hour(env, problems),
            channel_prompts=_channel_prompts(env, problems),
        )

    def people(self, name: str) -> frozenset[str]:
        """Comma-separated user IDs (e.g. ``ADMIN_USERS``), checked as the allow-lists are;
        unset: nobody."""
        return _ids(self.env, name, _USER_ID, "user", "U0123ABCD", self.problems) or frozenset()

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        raw = self.text(name).upper()
        if not raw:
            return default
        if raw not in options:
            self.problems.append(f"{name} must be one of {', '.join(options)}, not {raw!r}.")
            return default
        return raw


def _ids(
    env: Mapping[str, str],
    name: str,
    shape: re.Pattern[str],
    what: str,
    example: str,
    problems: list[str],
) -> frozenset[str] | None:
    values = [v.strip() for v in env.get(name, "").split(",") if v.strip()]
    if not values:
        return None
    bad = [v for v in values if not shape.match(v)]
    if bad:
        where = (
            "the channel's name → About → Channel ID"
            if what == "channel"
            else "the person's profile → ⋮ → Copy member ID"
        )
        problems.append(
            f"{name} must be comma-separated Slack {what} IDs like {example} (from {where}), "
            f"not {', '.join(repr(v) for v in bad[:3])}{' …' if len(bad) > 3 else ''}."
        )
        return None
    return frozenset(values)


def _per_hour(env: Mapping[str, str], problems: list[str]) -> int | None:
    raw = env.get("USER_REQUESTS_PER_HOUR", "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        problems.append(
            f"USER_REQUESTS_PER_HOUR must be a whole number of at least 1 (questions per person "
            f"per hour), not {raw!r}. Leave it unset for no limit."
        )
        return None
    return value


def _channel_prompts(env: Mapping[str, str], problems: list[str]) -> Mapping[str, str]:
    raw = env.get("CHANNEL_PROMPTS", "").strip()
    empty: Mapping[str, str] = MappingProxyType({})
    if not raw:
        return empty
    example = '{"C0123ABCD": "Answer as the support team\'s assistant."}'
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        problems.append(
            f"CHANNEL_PROMPTS must be a JSON object like {example}, but it is not valid JSON "
            f"({error.msg} at line {error.lineno}, column {error.colno})."
        )
        return empty
    if not isinstance(value, dict):
        problems.append(
            f"CHANNEL_PROMPTS must be a JSON object like {example}, not a JSON {_json_kind(value)}."
        )
        return empty
    bad_keys = [k for k in value if not _CONVERSATION_ID.match(k)]
    bad_values = [k for k, v in value.items() if not isinstance(v, str) or not v.strip()]
    if bad_keys:
        problems.append(
            f"CHANNEL_PROMPTS keys must be Slack channel IDs like C0123ABCD, not "
            f"{', '.join(repr(k) for k in bad_keys[:3])}."
        )
    if bad_values:
        problems.append(
            f"CHANNEL_PROMPTS values must be non-empty strings (the instructions); check "
            f"{', '.join(repr(k) for k in bad_values[:3])}."
        )
    if bad_keys or bad_values:
        return empty
    return MappingProxyType({k: v.strip() for k, v in value.items()})


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return "number"


def is_placeholder(value: str) -> bool:
    """True for an example value left in place, like ``xoxb-...`` or ``sk-…``."""
    return value.endswith(("...", "…")) or value.lower() in ("changeme", "your-key-here")


# Read from the environment by the OpenAI SDK itself (the bot passes its key and base URL).
SDK_NAMES = frozenset({"OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_CUSTOM_HEADERS"})
_OURS = ("SLACK_", "OPENAI_")  # prefixes of the bot's own settings


def unknown_settings(
    names: Iterable[str], known: frozenset[str], *, from_file: bool
) -> list[str]:
    """A warning for each name that looks meant for the bot but is not one of its settings.

    ``from_file`` (names in ``.env``, which holds the bot's settings only): any unknown name;
    from the process environment: only names like the bot's (its prefixes, or close to a
    setting), since it holds everything else too. Each warning names the closest setting.
    """
    said = []
    for name in sorted(set(names) - known - SDK_NAMES):
        closest = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        if not (from_file or closest or name.startswith(_OURS)):
            continue
        hint = f"did you mean {closest[0]}?" if closest else "see .env.example for the names"
        where = ".env" if from_file else "the environment"
        said.append(f"{where} sets {name}, which slackgpt does not read; {hint}")
    return said

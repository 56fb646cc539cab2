"""Optional access and cost rules: who may ask where, how often, and per-channel instructions."""

from __future__ import annotations

import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

HOUR = 3600.0

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{8,}$")
_CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")  # channel prompts may name a DM too
_USER_ID = re.compile(r"^[UW][A-Z0-9]{8,}$")

NOT_ALLOWED_USER = (
    "Sorry, I can only answer the people an admin has given access to. "
    "Ask the admin of this bot if you need it."
)
NOT_ALLOWED_CHANNEL = (
    "Sorry, I don't answer in this channel. "
    "You can send me a direct message, or ask an admin to add this channel."
)


class RulesError(ValueError):
    """One or more access settings are malformed; each line names the variable and the fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class AccessRules:
    """Who may ask where, how often, and extra instructions per channel. None means no limit."""

    allowed_channels: frozenset[str] | None = None
    allowed_users: frozenset[str] | None = None
    requests_per_hour: int | None = None
    channel_prompts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def parse_rules(env: Mapping[str, str]) -> AccessRules:
    """Read the access rules from the environment; raise :class:`RulesError` (a ValueError).

    ``ALLOWED_CHANNELS`` and ``ALLOWED_USERS`` are comma-separated Slack IDs,
    ``USER_REQUESTS_PER_HOUR`` a positive whole number, ``CHANNEL_PROMPTS`` a JSON object
    mapping channel IDs to instructions. Unset or empty means no rule.
    """
    problems: list[str] = []
    rules = AccessRules(
        allowed_channels=_ids(
            env, "ALLOWED_CHANNELS", _CHANNEL_ID, "channel", "C0123ABCD", problems
        ),
        allowed_users=_ids(env, "ALLOWED_USERS", _USER_ID, "user", "U0123ABCD", problems),
        requests_per_hour=_per_hour(env, problems),
        channel_prompts=_channel_prompts(env, problems),
    )
    if problems:
        raise RulesError(problems)
    return rules


def check_access(rules: AccessRules, channel: str, user: str, is_dm: bool) -> str | None:
    """None when ``user`` may ask in ``channel``, else the one-line reply to post.

    DMs are governed by ``allowed_users`` alone; channels by both lists.
    """
    if rules.allowed_users is not None and user not in rules.allowed_users:
        return NOT_ALLOWED_USER
    if not is_dm and rules.allowed_channels is not None and channel not in rules.allowed_channels:
        return NOT_ALLOWED_CHANNEL
    return None


def system_prompt_for(rules: AccessRules, channel: str, default: str) -> str:
    """``default``, followed by the channel's own instructions when it has some.

    The channel's prompt is added rather than substituted, so the general rules in ``default``
    (language, Slack formatting, how speakers are named) still hold.
    """
    extra = rules.channel_prompts.get(channel)
    return f"{default}\n\n{extra}" if extra else default


class RateLimiter:
    """At most ``limit`` requests per user in any sliding ``window`` seconds.

    Memory stays bounded: a user's record is dropped once none of their requests is in the
    window. ``limit=None`` allows everything and records nothing.
    """

    def __init__(
        self,
        limit: int | None,
        *,
        window: float = HOUR,
        clock: Callable[[], float] = time.monotonic,
    ):
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._last_sweep = clock()

    def __len__(self) -> int:
        """How many users are being tracked."""
        return len(self._hits)

    def allow(self, user: str) -> tuple[bool, float]:
        """Record a request by ``user`` if allowed; return (allowed, seconds until the next one).

        A refused request is not recorded. The wait is 0 while the user has requests left.
        """
        if self.limit is None:
            return True, 0.0
        now = self.clock()
        self._sweep(now)
        hits = self._hits.get(user)
        if hits is None:
            hits = self._hits[user] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False, hits[0] + self.window - now
        hits.append(now)
        wait = hits[0] + self.window - now if len(hits) >= self.limit else 0.0
        return True, wait

    def _sweep(self, now: float) -> None:
        """Forget users whose last request left the window (at most once a minute)."""
        if now - self._last_sweep < min(60.0, self.window):
            return
        self._last_sweep = now
        expired = [u for u, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]
        for user in expired:
            del self._hits[user]


def rate_limited_message(wait: float, limit: int | None = None) -> str:
    """The reply to someone over their hourly limit, saying when they can ask again."""
    reached = (
        f"You've reached the limit of {limit} question{'s' if limit != 1 else ''} an hour."
        if limit
        else "You've asked a lot of questions this hour."
    )
    return f"{reached} You can ask again {wait_phrase(wait)}."


def wait_phrase(seconds: float) -> str:
    """``in about 12 minutes``: a wait rounded up, in words."""
    if seconds <= 0:
        return "now"
    minutes = math.ceil(seconds / 60)
    if minutes <= 1:
        return "in about a minute"
    if minutes < 60:
        return f"in about {minutes} minutes"
    hours = round(minutes / 60)
    return "in about an hour" if hours <= 1 else f"in about {hours} hours"


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

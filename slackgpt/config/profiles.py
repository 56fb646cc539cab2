"""Profiles: how the bot behaves in each conversation, from a file the operator keeps.

A default profile and named ones, each for some channels (or for DMs): instructions added to
the system prompt, the model and its server, the most output tokens, which tools and MCP
servers are offered, who may ask; and a price table per model for spend budgets. A named
profile inherits what it leaves out from the default. Pure: the file is read elsewhere
(:mod:`slackgpt.config.profile_file`); every mistake comes back with how to fix it.
"""

from __future__ import annotations

import difflib
import re
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType

from slackgpt.config.operations import Price, Prices

CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{8,}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{8,}$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
MOST_TOKENS = 1_000_000
DEFAULT = "default"
BUILT_IN_TOOLS = ("search_slack", "read_slack_message")  # what a profile's ``tools`` names


@dataclass(frozen=True)
class Profile:
    """How the bot answers in the conversations a profile is for. None: as the default (or,
    for the default itself, as the settings say)."""

    name: str = DEFAULT
    instructions: str = ""  # added after the system prompt
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None  # the variable holding this model server's key
    max_output_tokens: int | None = None
    tools: tuple[str, ...] | None = None  # None: every tool; (): none
    mcp_servers: tuple[str, ...] | None = None
    allowed_users: frozenset[str] | None = None
    channels: frozenset[str] = frozenset()
    dms: bool = False


@dataclass(frozen=True)
class Profiles:
    """The profiles in force, and which one each conversation gets."""

    default: Profile = field(default_factory=Profile)
    named: tuple[Profile, ...] = ()
    prices: Prices = field(default_factory=lambda: MappingProxyType({}))

    def for_conversation(self, channel: str) -> Profile:
        """The profile of ``channel`` (a DM's when it is one and a profile is for DMs), with
        what it leaves out taken from the default."""
        is_dm = channel.startswith("D")
        for profile in self.named:
            if channel in profile.channels or (is_dm and profile.dms):
                return inherit(self.default, profile)
        return self.default


def inherit(default: Profile, profile: Profile) -> Profile:
    """``profile`` with every field it leaves unset taken from ``default``."""
    taken = {
        f.name: getattr(default, f.name)
        for f in fields(Profile)
        if getattr(profile, f.name) in (None, "") and f.name not in ("channels", "dms", "name")
    }
    return replace(profile, **taken)


_PROFILE_KEYS = {f.name for f in fields(Profile)} - {"name"}
_DEFAULT_KEYS = _PROFILE_KEYS - {"channels", "dms"}
_TOP_KEYS = {"default", "profiles", "prices"}


def parse_profiles(
    data: object, has_env: Callable[[str], bool] = lambda _: True
) -> tuple[Profiles, list[str]]:
    """The profiles a parsed file holds, and every problem with its fix (the profiles are
    only to be used when there is none). ``has_env``: whether a variable is set."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        return Profiles(), ["The profiles file must hold tables: default, profiles, prices."]
    _unknown(data, _TOP_KEYS, "the file", problems)
    default = _profile(DEFAULT, data.get("default") or {}, _DEFAULT_KEYS, has_env, problems)
    named = _named(data.get("profiles") or {}, has_env, problems)
    prices = _prices(data.get("prices") or {}, problems)
    _overlaps(named, problems)
    return Profiles(default, tuple(named), MappingProxyType(prices)), problems


def _named(
    tables: object, has_env: Callable[[str], bool], problems: list[str]
) -> list[Profile]:
    if not isinstance(tables, Mapping):
        problems.append("profiles must be a table of named profiles, like [profiles.support].")
        return []
    found = []
    for name, table in tables.items():
        profile = _profile(str(name), table, _PROFILE_KEYS, has_env, problems)
        if not profile.channels and not profile.dms:
            problems.append(
                f"profiles.{name} is for no conversation: give it channels = [\"C0123ABCD\"] "
                "or dms = true."
            )
        found.append(profile)
    return found


def _profile(
    name: str, table: object, allowed: set[str], has_env: Callable[[str], bool], problems: list
) -> Profile:
    where = DEFAULT if name == DEFAULT else f"profiles.{name}"
    if not isinstance(table, Mapping):
        problems.append(f"{where} must be a table of settings (instructions, model, …).")
        return Profile(name)
    _unknown(table, allowed, where, problems)
    read = _Values(table, where, problems)
    profile = Profile(
        name=name,
        instructions=read.text("instructions") or "",
        model=read.text("model"),
        base_url=read.url("base_url"),
        api_key_env=read.env_name("api_key_env", has_env),
        max_output_tokens=read.whole("max_output_tokens", 1, MOST_TOKENS),
        tools=read.names("tools"),
        mcp_servers=read.names("mcp_servers"),
        allowed_users=read.ids("allowed_users", USER_ID, "user IDs like U0123ABCD"),
        channels=read.ids("channels", CHANNEL_ID, "channel IDs like C0123ABCD") or frozenset(),
        dms=read.flag("dms"),
    )
    return profile


class _Values:
    """Typed values of one table, every mistake collected with its fix."""

    def __init__(self, table: Mapping, where: str, problems: list[str]):
        self.table, self.where, self.problems = table, where, problems

    def _bad(self, key: str, wanted: str) -> None:
        self.problems.append(f"{self.where}.{key} must be {wanted}, not {shown(self.table[key])}.")

    def text(self, key: str) -> str | None:
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self._bad(key, "text")
            return None
        return value.strip() or None

    def url(self, key: str) -> str | None:
        value = self.text(key)
        if value and not re.match(r"^https?://[^/\s]+", value):
            self._bad(key, "an http(s) URL like http://localhost:11434/v1")
            return None
        return value

    def env_name(self, key: str, has_env: Callable[[str], bool]) -> str | None:
        value = self.text(key)
        if value and not ENV_NAME.match(value):
            self._bad(key, "the NAME of an environment variable (the key itself never goes "
                      "in the file)")
            return None
        if value and not has_env(value):
            self.problems.append(f"{self.where}.{key} names {value}, which is not set: set it in "
                                 "the environment or .env.")
        return value

    def whole(self, key: str, low: int, high: int) -> int | None:
        value = self.table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self._bad(key, f"a whole number from {low:,} to {high:,}")
            return None
        return value

    def flag(self, key: str) -> bool:
        value = self.table.get(key, False)
        if not isinstance(value, bool):
            self._bad(key, "true or false")
            return False
        return value

    def names(self, key: str) -> tuple[str, ...] | None:
        value = self.table.get(key)
        if value is None or value == "*":
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self._bad(key, 'a list of names like ["search_slack"], [] for none or "*" for all')
            return None
        return tuple(value)

    def ids(self, key: str, shape: re.Pattern[str], what: str) -> frozenset[str] | None:
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._bad(key, f"a list of {what}")
            return None
        bad = [v for v in value if not shape.match(v)]
        if bad:
            self.problems.append(f"{self.where}.{key} must hold {what}; check "
                                 f"{', '.join(shown(v) for v in bad[:3])}.")
            return None
        return frozenset(value)


def _prices(tables: object, problems: list[str]) -> dict[str, Price]:
    if not isinstance(tables, Mapping):
        problems.append('prices must be a table per model, like [prices."gpt-5-mini"].')
        return {}
    found = {}
    for model, table in tables.items():
        where = f"prices.{model}"
        if not isinstance(table, Mapping):
            problems.append(f"{where} must be a table: input = 0.25, output = 2.0 (per million "
                            "tokens).")
            continue
        _unknown(table, {"input", "output"}, where, problems)
        values = [table.get("input"), table.get("output")]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
                   for v in values):
            problems.append(f"{where}: input and output must be numbers of at least 0 (the "
                            "price per million prompt and completion tokens).")
            continue
        found[str(model)] = Price(float(values[0]), float(values[1]))
    return found


def _overlaps(named: list[Profile], problems: list[str]) -> None:
    """A channel in two profiles, or two profiles for DMs, is a mistake: say which."""
    seen: dict[str, str] = {}
    for profile in named:
        for channel in sorted(profile.channels):
            if channel in seen:
                problems.append(f"{channel} is in both profiles.{seen[channel]} and "
                                f"profiles.{profile.name}: keep it in one.")
            seen.setdefault(channel, profile.name)
    for_dms = [p.name for p in named if p.dms]
    if len(for_dms) > 1:
        problems.append(f"dms = true in {', '.join(for_dms)}: only one profile may be for DMs.")


def _unknown(table: Mapping, allowed: set[str], where: str, problems: list[str]) -> None:
    for key in table:
        if key in allowed:
            continue
        name = shown(key)
        close = difflib.get_close_matches(name.strip("'"), sorted(allowed), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(sorted(allowed))}"
        problems.append(f"{where} has an unknown key {name}; {hint}")


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict = 2, 4, 4
_SHOWN.maxstring = _SHOWN.maxother = 80


def shown(value: object) -> str:
    """A value as a problem quotes it: short, however big or deep (YAML's aliases can make
    a few bytes a billion items)."""
    return _SHOWN.repr(value)


def cross_check(
    profiles: Profiles, servers: frozenset[str], prices: Prices, model: str, cost_budget: bool
) -> list[str]:
    """What the profiles name that the rest of the configuration lacks: a built-in tool or an
    MCP server (``servers``: MCP_SERVERS' names) that does not exist, and, with a cost budget,
    a model without a price (in MODEL_PRICES or the file's prices; ``model``: OPENAI_MODEL)."""
    problems: list[str] = []
    for profile in (profiles.default, *profiles.named):
        where = DEFAULT if profile.name == DEFAULT else f"profiles.{profile.name}"
        problems += _strangers(profile.tools or (), BUILT_IN_TOOLS, f"{where}.tools",
                               "the built-in tools")
        problems += _strangers(profile.mcp_servers or (), sorted(servers),
                               f"{where}.mcp_servers", "the servers in MCP_SERVERS")
    if cost_budget:
        known = {**prices, **profiles.prices}
        models = {profiles.default.model or model}
        models |= {inherit(profiles.default, p).model or model for p in profiles.named}
        problems += [
            f"WORKSPACE_COST_PER_MONTH needs the price of {m}: add [prices.\"{m}\"] input = …, "
            "output = … (per million tokens) to the profiles file, or to MODEL_PRICES."
            for m in sorted(models) if m not in known
        ]
    return problems


def _strangers(names: tuple[str, ...], known: Sequence[str], where: str, what: str) -> list[str]:
    out = []
    for name in names:
        if name in known:
            continue
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else (
            f"{what}: {', '.join(known)}" if known else f"{what}: none")
        out.append(f"{where} names {name!r}, which is not one of {hint}" if not close
                   else f"{where} names {name!r}, which does not exist; {hint}")
    return out


def from_channel_prompts(prompts: Mapping[str, str], default: Profile) -> Profiles:
    """``CHANNEL_PROMPTS``, the shorthand: one profile per channel with its instructions."""
    named = tuple(
        Profile(name=channel, instructions=text, channels=frozenset({channel}))
        for channel, text in prompts.items()
    )
    return Profiles(default, named)

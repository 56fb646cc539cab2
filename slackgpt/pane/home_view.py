"""The Home tab a person sees: their own usage today and this month, their limits and when
each resets, the profile of the channel they ask about; operators also see the top people
and channels by tokens this month. When the counts cannot be shown, the tab says why.

Pure: :class:`HomeFacts` is what was read (by :mod:`~slackgpt.pane.home`), :func:`home_view`
the ``home`` view: Block Kit within Slack's limits (100 blocks; 3,000 characters a section,
2,000 a field, 150 a header), every free text escaped and unable to ping.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from slackgpt.config.mcp_servers import McpServer
from slackgpt.config.operations import Limits
from slackgpt.config.profiles import BUILT_IN_TOOLS, Profile
from slackgpt.formatting import clip, escape_mrkdwn
from slackgpt.usage.budget import Standing, periods, when_text
from slackgpt.usage.store import PersonUsage

COUNTED, NOT_COUNTED, UNREACHABLE = "counted", "not counted", "unreachable"
FIELD_CHARS = 1_900  # Slack: 2,000 per section field (3,000 for a section's text)
NAME_CHARS = 80  # a profile's, a tool's or a server's name, shown whole up to this
LIST_CHARS = 600  # a list of names
MOST_NAMED = 10  # people named in "who may ask" (operators only)
_PERSON = re.compile(r"^[UW][A-Z0-9]+$")
_CHANNEL = re.compile(r"^[CG][A-Z0-9]+$")
NO_BUDGET = (
    "Usage isn't counted: the bot could not keep its usage file (`USAGE_FILE`; its log says "
    "why). An operator can point `USAGE_FILE` at a folder it may write, or set `REDIS_URL` "
    "(see docs/operations.md, *Spend budgets*)."
)
UNREACHED = (
    "Usage can't be shown right now: {where} can't be reached. Answers go on, but until it "
    "works again they are not counted and budgets do not hold."
)


@dataclass(frozen=True)
class HomeFacts:
    """What one person's Home tab shows, as read when they opened it."""

    user: str
    now: float  # seconds since the epoch
    limits: Limits = field(default_factory=Limits)
    counting: str = NOT_COUNTED  # COUNTED, NOT_COUNTED (no usage file) or UNREACHABLE
    store: str = "the usage file"  # what keeps the counts, for UNREACHABLE
    mine: PersonUsage = field(default_factory=PersonUsage)
    workspace: Standing = field(default_factory=Standing)  # this month's, for everyone
    priced: bool = False  # a price table is set: costs are shown
    per_hour: int | None = None  # USER_REQUESTS_PER_HOUR
    channel: str | None = None  # the channel in view (None: the default profile is shown)
    profile: Profile = field(default_factory=Profile)
    model: str = ""  # the model that profile answers with
    tools: str = ""  # what the profile offers, said (see :func:`tools_said`)
    mcp: str = ""
    refusal: str | None = None  # why this person may not ask there, or None
    admin: bool = False
    top_people: Sequence[tuple[str, int]] = ()
    top_channels: Sequence[tuple[str, int]] = ()


def home_view(facts: HomeFacts) -> dict:
    """The ``home`` view for ``facts.user``."""
    blocks = [_header("Your usage"), _context(_as_of(facts)), *_usage(facts),
              _section(_limits(facts)), {"type": "divider"}, _header("Where you ask"),
              *_profile(facts)]
    if facts.admin:
        blocks += [{"type": "divider"}, _header("Everyone this month (operators only)"),
                   *_everyone(facts)]
    return {"type": "home", "blocks": blocks}


def failed_view(why: str) -> dict:
    """A Home tab that says only that it cannot be shown, and ``why``."""
    return {"type": "home", "blocks": [_header("Your usage"),
                                       _section(f":warning: {escape_mrkdwn(clip(why, 2_000))}")]}


# -- usage and limits --------------------------------------------------------------------------


def _usage(f: HomeFacts) -> list[dict]:
    if f.counting == NOT_COUNTED:
        return [_section(NO_BUDGET)]
    if f.counting == UNREACHABLE:
        return [_section(":warning: " + UNREACHED.format(where=escape_mrkdwn(f.store)))]
    today = _spent(f.mine.today_tokens, f.mine.today_cost, f.priced)
    month = _spent(f.mine.month_tokens, f.mine.month_cost, f.priced)
    fields = [f"*Today* (UTC)\n{today}", f"*This month* (UTC)\n{month}"]
    return [{"type": "section", "fields": [_mrkdwn(text) for text in fields]}]


def _limits(f: HomeFacts) -> str:
    """Each limit, how much of it is used (when known) and when it resets."""
    when, known = periods(f.now), f.counting == COUNTED
    lines = ["*Your limits*"]
    lines.append(_limit("Your tokens today", f.limits.person_tokens_per_day,
                        f.mine.today_tokens if known else None, when.day_ends, f.now))
    lines.append(_limit("Everyone's tokens this month", f.limits.workspace_tokens_per_month,
                        f.workspace.workspace_tokens if known else None, when.month_ends, f.now))
    cost = f.limits.workspace_cost_per_month
    if cost is not None or f.priced:
        lines.append(_limit("Everyone's cost this month", cost,
                            f.workspace.workspace_cost if known else None, when.month_ends,
                            f.now, money=True))
    hourly = f"{f.per_hour:,} in any hour" if f.per_hour else "no limit"
    lines.append(f"• Your questions: {hourly}")
    return "\n".join(lines)


def _limit(name: str, budget: float | None, used: float | None, resets: float, now: float,
           *, money: bool = False) -> str:
    number = _money if money else (lambda n: f"{int(n or 0):,}")
    unit = "" if money else " tokens"
    if budget is None:
        return f"• {name}: no limit" + (f" ({number(used)}{unit} used)" if used else "")
    again = f"resets {when_text(resets, now)}"
    if used is None:
        return f"• {name}: {number(budget)}{unit}, {again}"
    share = min(999, int(used * 100 // budget)) if budget else 0
    return f"• {name}: {number(used)} of {number(budget)}{unit} ({share}%), {again}"


def _spent(tokens: int, cost: float, priced: bool) -> str:
    return _tokens(tokens) + (f" · cost {_money(cost)}" if priced else "")


def _tokens(value: float | None) -> str:
    count = int(value or 0)
    return f"{count:,} token" + ("" if count == 1 else "s")


def _money(value: float | None) -> str:
    """A cost in the price table's currency (none is named: the operator's choice)."""
    value = value or 0.0
    return "less than 0.01" if 0 < value < 0.005 else f"{value:,.2f}"


def _as_of(f: HomeFacts) -> str:
    """When the counts were read, in the reader's time zone (Slack's date token)."""
    fallback = datetime.fromtimestamp(f.now, UTC).strftime("%a %-d %b %H:%M UTC")
    moment = f"<!date^{int(f.now)}^{{date_short_pretty}} at {{time}}|{fallback}>"
    return f"As of {moment}. Days and months are UTC; open this tab again to refresh."


# -- the profile -------------------------------------------------------------------------------


def _profile(f: HomeFacts) -> list[dict]:
    profile = f"the {_code(f.profile.name)} profile"
    if f.channel:
        where = f"In {_conversation(f.channel)}, the channel you're looking at, I answer " \
                f"with {profile}."
    else:
        where = (f"No channel in view, so here is {profile}, for DMs and channels without "
                 "one of their own. Open my Messages tab beside a channel to see that "
                 "channel's.")
    may = "You may ask there." if f.refusal is None else escape_mrkdwn(clip(f.refusal, 500))
    fields = [f"*Model*\n{_code(f.model)}", f"*Tools*\n{escape_mrkdwn(clip(f.tools, LIST_CHARS))}",
              f"*MCP servers*\n{escape_mrkdwn(clip(f.mcp, LIST_CHARS))}",
              f"*Who may ask*\n{_who(f)}"]
    return [_section(f"{where} {may}"),
            {"type": "section", "fields": [_mrkdwn(text) for text in fields]}]


def _who(f: HomeFacts) -> str:
    allowed = f.profile.allowed_users
    if allowed is None:
        return "everyone the bot answers"
    count = f"{len(allowed):,} " + ("person" if len(allowed) == 1 else "people")
    if not f.admin:
        return count + (", you among them" if f.user in allowed else ", not you")
    named = sorted(allowed)[:MOST_NAMED]
    more = f" and {len(allowed) - len(named):,} more" if len(allowed) > len(named) else ""
    return f"{count}: " + ", ".join(_person(p) for p in named) + more


def tools_said(profile: Profile, rounds: int) -> str:
    """The tools a profile offers, said: all, none, or their names."""
    if rounds < 1:
        return "none (TOOL_ROUNDS=0)"
    if profile.tools is None:
        return ", ".join(BUILT_IN_TOOLS) + " (all the built-in tools)"
    return ", ".join(clip(t, NAME_CHARS) for t in profile.tools) or "none"


def mcp_said(profile: Profile, servers: Sequence[McpServer], channel: str | None) -> str:
    """The MCP servers a profile offers where the person asks: each configured for that
    channel (or everywhere) that the profile does not leave out."""
    offered = [s.name for s in servers
               if s.channels is None or (channel is not None and channel in s.channels)]
    if profile.mcp_servers is not None:
        offered = [name for name in offered if name in profile.mcp_servers]
    return ", ".join(clip(name, NAME_CHARS) for name in offered) or "none"


# -- operators ---------------------------------------------------------------------------------


def _everyone(f: HomeFacts) -> list[dict]:
    if f.counting != COUNTED:
        return [_section("Top people and channels can't be shown: usage isn't counted now "
                         "(see above).")]
    people = "\n".join(f"{i}. {_person(p)}: {_tokens(n)}"
                       for i, (p, n) in enumerate(f.top_people, 1)) or "No use yet."
    channels = "\n".join(f"{i}. {_conversation(c)}: {_tokens(n)}"
                         for i, (c, n) in enumerate(f.top_channels, 1)) or "No use yet."
    total = _spent(f.workspace.workspace_tokens, f.workspace.workspace_cost, f.priced)
    return [_section(f"*All together*: {total}"),
            {"type": "section", "fields": [_mrkdwn(f"*Top people*\n{people}"),
                                           _mrkdwn(f"*Top channels*\n{channels}")]}]


def _person(user: str) -> str:
    """A mention Slack renders as the person's name (a view pings no one), or the text."""
    return f"<@{user}>" if _PERSON.match(user) else escape_mrkdwn(clip(user, NAME_CHARS))


def _conversation(channel: str) -> str:
    if _CHANNEL.match(channel):
        return f"<#{channel}>"
    if channel.startswith("D"):
        return f"a DM ({escape_mrkdwn(clip(channel, NAME_CHARS))})"
    return escape_mrkdwn(clip(channel, NAME_CHARS))


# -- Block Kit ---------------------------------------------------------------------------------


def _code(text: str) -> str:
    """A name someone chose, shown as code: escaped, no backtick of its own to end it."""
    if not text:
        return "_none_"
    return "`" + escape_mrkdwn(clip(text, NAME_CHARS)).replace("`", "'") + "`"


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def _context(mrkdwn: str) -> dict:
    return {"type": "context", "elements": [_mrkdwn(mrkdwn)]}


def _section(mrkdwn: str) -> dict:
    return {"type": "section", "text": _mrkdwn(mrkdwn)}


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": clip(text, FIELD_CHARS)}

"""What an approval is and what a click on it means: the request the buttons carry, who may
decide, what the asker sees of the arguments, what each outcome says. Pure.

One request, one decision: the asker's Approve or Deny, or ``expired`` when no answer came in
time, or ``stopped`` when the answer was stopped first. Whichever is settled first holds
(:meth:`~slackgpt.state.local.State.settle`); a click by anyone else changes nothing, and an
unanswered request never becomes a yes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from slackgpt.slack.blocks import APPROVE, DENY

APPROVED, DENIED, EXPIRED, STOPPED = "approved", "denied", "expired", "stopped"
KEEP_AFTER = 3600.0  # seconds a decision is kept after its deadline (late clicks are told)
PREVIEW_LINES, PREVIEW_VALUE, PREVIEW_CHARS = 20, 300, 1_500
_ID = re.compile(r"^[0-9a-f]{32}$")
_USER = re.compile(r"^[UW][A-Z0-9]+$")


@dataclass(frozen=True)
class Request:
    """One approval asked: its id, whose it is, and until when (epoch seconds)."""

    id: str
    asker: str
    deadline: int

    @property
    def value(self) -> str:
        """What both buttons carry (Slack returns it with the click)."""
        return f"{self.id}|{self.asker}|{self.deadline}"

    @property
    def key(self) -> str:
        """Where its decision is settled."""
        return f"approval:{self.id}"

    @classmethod
    def parse(cls, value: object) -> Request | None:
        parts = value.split("|") if isinstance(value, str) else []
        if len(parts) != 3 or not _ID.match(parts[0]) or not _USER.match(parts[1]):
            return None
        if not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]))


@dataclass(frozen=True)
class Click:
    """A click on Approve or Deny: the request, which button, who, and where."""

    request: Request
    approve: bool
    user: str
    channel: str
    thread_ts: str  # of the request's thread (or of the request itself)


@dataclass(frozen=True)
class Reply:
    """What the clicker alone is told: ``mrkdwn`` (may name the asker) and ``plain`` text."""

    mrkdwn: str
    plain: str


def click_from(body: dict) -> Click | None:
    """The click in a ``block_actions`` payload, or None when it is not one of ours."""
    actions = body.get("actions") or [{}]
    action = actions[0] if isinstance(actions[0], dict) else {}
    request = Request.parse(action.get("value"))
    user = (body.get("user") or {}).get("id")
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    if request is None or not user or not channel or action.get("action_id") not in (APPROVE,
                                                                                      DENY):
        return None
    message = body.get("message") or {}
    thread_ts = container.get("thread_ts") or message.get("thread_ts")
    thread_ts = thread_ts or container.get("message_ts") or message.get("ts") or ""
    return Click(request, action["action_id"] == APPROVE, str(user), str(channel), thread_ts)


def refusal(click: Click, now: float) -> Reply | None:
    """Why a click counts for nothing before anything is settled: someone else clicked, or
    the request's time is over. None when it may settle the request."""
    asker = click.request.asker
    if click.user != asker:
        return Reply(f"Only <@{asker}> can approve this.",
                     "Only the person who asked can approve this.")
    if now > click.request.deadline:
        return _LATE
    return None


def decision(click: Click) -> str:
    """What the click settles: ``approved:U…`` or ``denied:U…``."""
    return f"{APPROVED if click.approve else DENIED}:{click.user}"


def after(click: Click, held: str | None) -> Reply | None:
    """What the clicker is told once the store answered with the decision that ``held``:
    nothing when it was theirs, else that it was decided already (or could not be kept)."""
    if held is None:
        text = "Your answer could not be recorded just now; click again in a moment."
        return Reply(text, text)
    if held == decision(click):
        return None
    kind = held.split(":")[0]
    if kind in (EXPIRED, STOPPED):
        return _LATE
    said = "approved" if kind == APPROVED else "denied"
    text = f"Already {said}: a decision is made once."
    return Reply(text, text)


_LATE_TEXT = ("This request is over (no answer came in time, or the answer stopped), so "
              "nothing was run. Ask again if you still want it.")
_LATE = Reply(_LATE_TEXT, _LATE_TEXT)


def approved(held: str | None, asker: str) -> bool:
    """Whether the settled decision lets the tool run: only the asker's Approve does (the
    request's own asker, not whoever a click's value names)."""
    return held == f"{APPROVED}:{asker}"


def outcome_line(held: str | None, timeout: float, asker: str) -> str:
    """The line that replaces the buttons once it is decided."""
    kind, _, user = str(held or EXPIRED).partition(":")
    if kind in (APPROVED, DENIED) and user != asker:
        return "🚫 Decided by someone other than the person who asked; not run."
    return {
        APPROVED: "✅ Approved by the person who asked; running it.",
        DENIED: "🚫 Denied by the person who asked; not run.",
        STOPPED: "⏹️ The answer stopped before a decision; not run.",
    }.get(kind, f"⌛ No answer within {_duration(timeout)}; not run.")


def request_text(title: str, arguments: dict) -> str:
    """What would run, with what (Markdown; stays in the message after the decision)."""
    return (
        f"**May I run {_plain(title)}?** It can change something outside Slack.\n"
        f"```\n{preview(arguments)}\n```"
    )


def waiting_line(timeout: float) -> str:
    """The rule, said under the request while it waits."""
    return (f"Only the person who asked can approve; without an answer within "
            f"{_duration(timeout)} it does not run.")


def preview(arguments: dict) -> str:
    """The arguments, one ``name: value`` a line, each value and the whole capped; untrusted
    text made harmless inside a code block (its fences broken)."""
    lines = []
    for name, value in list(arguments.items())[:PREVIEW_LINES]:
        shown = value if isinstance(value, str) else _compact(value)
        shown = " ".join(shown.split())
        if len(shown) > PREVIEW_VALUE:
            shown = shown[: PREVIEW_VALUE - 1] + "…"
        lines.append(f"{_plain(str(name))[:60]}: {shown}")
    if len(arguments) > PREVIEW_LINES:
        lines.append(f"… and {len(arguments) - PREVIEW_LINES} more")
    text = "\n".join(lines) or "(no arguments)"
    if len(text) > PREVIEW_CHARS:
        text = text[: PREVIEW_CHARS - 1] + "…"
    return text.replace("```", "`\u200b`\u200b`")


def _plain(text: str) -> str:
    """One line, without Markdown's emphasis and code marks."""
    return re.sub(r"[*_`~\[\]]", "", " ".join(text.split()))


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} second{'s' if seconds != 1 else ''}"

"""What the model sees, and the notes the reader sees: a Slack thread → chat messages.

Pure: no clients, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from slackgpt.files.attachments import Attachments, user_content
from slackgpt.formatting import slack_to_text
from slackgpt.model.tokens import fit_to_budget, message_tokens
from slackgpt.slack.events import SPOKEN_SUBTYPES, BotIdentity, is_own


@dataclass(frozen=True)
class Prompt:
    """The model's messages for one answer, and one-line notes to show under the answer."""

    messages: list[dict[str, object]]
    notes: tuple[str, ...] = ()


def speaker(message: dict, names: Mapping[str, str] | None = None) -> str:
    """How a message's author is named to the model: a person's name, or a bot's."""
    if message.get("user") and not message.get("bot_id"):
        user = str(message["user"])
        return (names or {}).get(user, user)
    profile = message.get("bot_profile") or {}
    name = profile.get("name") or message.get("username") or message.get("bot_id") or "a bot"
    return f"{name} (bot)"


def build_prompt(
    system_prompt: str,
    thread: list[dict],
    identity: BotIdentity,
    *,
    until_ts: str,
    attachments: Attachments | None,
    budget: int,
    names: Mapping[str, str] | None = None,
    quoted: str = "",
) -> Prompt:
    """The thread as the model's messages within ``budget`` tokens, with notes for the reader.

    ``quoted``: material anyone wrote (the channel in view), given as a user message right
    after the system message, kept whole (its size is the caller's to bound).
    The root and the newest message are always kept; older turns go first. The work is
    bounded by the budget, not by the thread: turns are read newest first, and once they
    hold more characters than could ever fit (no text costs under a token per 4
    characters), the older ones are counted as left out without being read.
    """
    spoken = _spoken(thread, until_ts)
    turns = _Turns(identity, until_ts, attachments, names or {})
    root = next((i for i, m in enumerate(spoken) if turns.turn(m)), 0)
    recent: list[dict[str, object]] = []
    room, skipped = 4 * budget, 0
    for index in range(len(spoken) - 1, root, -1):
        if room < 0:
            skipped = index - root
            break
        turn = turns.turn(spoken[index])
        if turn:
            recent.append(turn)
            room -= _chars(turn["content"])
    head = [turns.turn(spoken[root])] if spoken else []
    system = {"role": "system", "content": system_prompt}
    context = [{"role": "user", "content": quoted}] if quoted else []
    room = budget - sum(message_tokens(m) for m in context)
    messages, dropped = fit_to_budget([system, *filter(None, head), *reversed(recent)], room)
    unread = _unread(thread)  # a long thread is read as its root and newest replies
    notes = _notes(attachments, dropped + skipped + unread)
    return Prompt([*messages[:1], *context, *messages[1:]], notes)


def _unread(thread: list[dict]) -> int:
    """Replies of the thread that were not read (its root says how many it has)."""
    root = thread[0] if thread else {}
    return max(0, int(root.get("reply_count") or 0) - (len(thread) - 1))


def _spoken(thread: list[dict], until_ts: str | None) -> list[dict]:
    """The thread's spoken messages up to ``until_ts`` (inclusive), oldest first."""
    last = float(until_ts) if until_ts is not None else float("inf")
    ordered = sorted(thread, key=lambda m: float(m.get("ts", 0)))
    return [
        m
        for m in ordered
        if float(m.get("ts", 0)) <= last and m.get("subtype") in SPOKEN_SUBTYPES
    ]


@dataclass(frozen=True)
class _Turns:
    """How one thread's messages become chat turns, for one question."""

    identity: BotIdentity
    until_ts: str | None
    attachments: Attachments | None
    names: Mapping[str, str]

    def turn(self, message: dict) -> dict[str, object] | None:
        """One message as a chat turn, or None when it says nothing to the model."""
        own = is_own(message, self.identity)
        bot = None if own else self.identity.user_id
        text = slack_to_text(message.get("text") or "", bot, self.names)
        with_files = self.attachments is not None and message.get("ts") == self.until_ts
        with_files = with_files and not own
        if with_files:
            text = text or "(see the attached files)"
        if not text:
            return None
        if own:
            return {"role": "assistant", "content": text}
        content: object = f"{speaker(message, self.names)}: {text}"
        if with_files and self.attachments is not None:
            content = user_content(str(content), self.attachments)
        return {"role": "user", "content": content}


def _chars(content: object) -> int:
    if isinstance(content, str):
        return len(content)
    parts = content if isinstance(content, list) else []
    return sum(len(str(p.get("text") or "")) for p in parts if isinstance(p, dict))


def _notes(attachments: Attachments | None, dropped: int) -> tuple[str, ...]:
    notes = [f"_Note: {note}_" for note in (attachments.notes if attachments else [])]
    if dropped:
        plural = "s" if dropped > 1 else ""
        notes.append(
            f"_(I left out {dropped} earlier message{plural} of this thread to stay within "
            "my context budget.)_"
        )
    return tuple(notes)


def footer(notes: tuple[str, ...], usage_line: str | None = None) -> str:
    """What follows an answer: the notes, then (when shown) the model and tokens used."""
    lines = [*notes, f"_{usage_line}_"] if usage_line else list(notes)
    return "".join(f"\n\n{line}" for line in lines)


def usage_line(model_name: str, total_tokens: int) -> str:
    """``gpt-5-mini · 1,234 tokens``."""
    return f"{model_name} · {total_tokens:,} tokens"


def ending_note(finish_reason: str | None) -> str:
    """A line after an answer that has text but did not end by itself, or ""."""
    if finish_reason == "length":
        return "\n\n_(The answer was cut short: it reached the token limit.)_"
    if finish_reason == "content_filter":
        return "\n\n_(The rest of the answer was withheld by the model's content filter.)_"
    return ""


def empty_answer(finish_reason: str | None) -> str:
    """The notice for a stream that ended without any text."""
    if finish_reason == "length":
        return (
            ":warning: The model used up its token limit before writing an answer. "
            "An admin can raise MAX_COMPLETION_TOKENS."
        )
    if finish_reason == "content_filter":
        return ":warning: The model's content filter withheld the answer."
    return ":warning: The model returned an empty answer. Please try rephrasing."


def interrupted(why: str) -> str:
    """The line that ends an answer cut off mid-way."""
    return f"\n\n_:warning: The answer was interrupted. {why}_"

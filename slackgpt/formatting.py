"""Text in and out of Slack: markup to plain text, Markdown to mrkdwn, safe splitting."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping

# Slack's message markup: <@U123>, <@U123|name>, <#C123|general>, <!here>, <url|label>.
_ANGLE = re.compile(r"<([^<>\n]+)>")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_WORD_JOINER = "\u2060"
_CLOSE_ROOM = 12  # room kept for a closing code fence when a part is cut
_BROADCAST = re.compile(
    r"<!(channel|here|everyone)(\|[^>]*)?>|<!subteam\^[^>|]*(\|([^>]*))?>", re.IGNORECASE
)
_OPEN_BROADCAST = re.compile(r"<!(?=(?:channel|here|everyone|subteam)\b)", re.IGNORECASE)
USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")  # <@U123>, <@U123|name>
_MENTION_OPENING = re.compile(r"<@(?=[UW][A-Z0-9])")  # also of a token not closed yet
_BARE_BROADCAST = re.compile(r"(?<![\w@])@(channel|here|everyone)\b", re.IGNORECASE)
_HOLD_ANGLE = 200  # longest ``<…`` fragment held back while streaming
_HOLD_WORD = 40  # longest ``@word`` fragment held back


def slack_to_text(
    text: str, bot_user_id: str | None = None, names: Mapping[str, str] | None = None
) -> str:
    """Turn a Slack message's markup into what its reader sees, dropping the bot's mentions.

    Other people's mentions become ``@name`` (from ``names``, or the mention's own label),
    never Slack's ``<@U…>`` markup.
    """
    names = names or {}

    def replace(match: re.Match[str]) -> str:
        body = match.group(1)
        target, _, label = body.partition("|")
        if target.startswith("@"):
            if bot_user_id and target[1:] == bot_user_id:
                return ""
            return f"@{label or names.get(target[1:]) or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            special = target[1:].split("^", 1)[0]
            if special in ("channel", "here", "everyone"):
                return f"@{special}"
            return label or f"@{special}"
        if target.startswith("mailto:"):
            return label or target[len("mailto:") :]
        if label and label != target:
            return f"{label} ({target})"
        return target

    plain = _ANGLE.sub(replace, text)
    plain = html.unescape(plain)
    # Removing a mention can leave doubled spaces or a stray comma/colon at the start.
    plain = re.sub(r"[ \t]{2,}", " ", plain)
    plain = re.sub(r"[ \t]+([,.;:!?])(?=\s|$)", r"\1", plain)
    plain = re.sub(r"^[\s,:;]+", "", plain)
    return plain.strip()


def neutralize_pings(text: str) -> str:
    """Make @channel/@here/@everyone, group and user mentions inert: the bot never pings.

    Whole tokens (``<!here>``, ``<!subteam^S1|@team>``) become ``@here`` and ``@team`` with
    an invisible word joiner after the ``@``; a token left open (its ``>`` not written yet)
    gets the joiner after its ``<``, so no later text can complete it.
    """

    def inert(match: re.Match[str]) -> str:
        if match.group(1):
            return f"@{_WORD_JOINER}{match.group(1)}"
        return f"@{_WORD_JOINER}{(match.group(4) or 'group').lstrip('@')}"

    text = _BROADCAST.sub(inert, text)
    text = _OPEN_BROADCAST.sub(f"<{_WORD_JOINER}!", text)
    text = _MENTION_OPENING.sub(f"<{_WORD_JOINER}@", text)
    return _BARE_BROADCAST.sub(lambda m: f"@{_WORD_JOINER}{m.group(1)}", text)


def escape_mrkdwn(text: str) -> str:
    """Free text (a name someone chose) for mrkdwn: shown as written, never markup of Slack's
    (``&<>`` escaped: no link, mention or date token) and never a ping."""
    return neutralize_pings(_escape(text))


def unsafe_tail(text: str) -> int:
    """Length of a trailing fragment that could still grow into a broadcast mention.

    Streaming holds this much back until more text arrives, so ``<!here|all`` + `` of you>``
    or ``@chan`` + ``nel`` is neutralized as a whole. A fragment longer than the hold is
    sent anyway: :func:`neutralize_pings` makes an open ``<!here`` inert on its own.
    """
    angle, at = text.rfind("<"), text.rfind("@")
    if angle >= 0 and ">" not in text[angle:] and len(text) - angle <= _HOLD_ANGLE:
        return len(text) - angle
    word = text[at:]
    if at >= 0 and len(word) <= _HOLD_WORD and not any(c.isspace() or c == ">" for c in word):
        return len(text) - at
    return 0


def markdown_to_mrkdwn(markdown: str) -> str:
    """Convert standard Markdown to Slack's mrkdwn, leaving code untouched."""
    out: list[str] = []
    in_code = False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
            out.append("```")
            continue
        if in_code:
            out.append(_escape(line))
            continue
        out.append(_mrkdwn_line(line))
    return "\n".join(out)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+|mailto:[^)\s]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+")


def _mrkdwn_line(line: str) -> str:
    heading = _HEADING.match(line)
    if heading:
        line = f"**{heading.group(1)}**"
    quote = ""
    if line.startswith(">"):
        quote, line = "> ", line.lstrip(">").lstrip()
    line = _BULLET.sub(lambda m: f"{m.group(1)}• ", line)
    # Inline code is kept verbatim; everything else is escaped then styled.
    parts = _INLINE_CODE.split(line)
    styled: list[str] = []
    for i in range(0, len(parts), 3):
        styled.append(_style(parts[i]))
        if i + 2 < len(parts):
            styled.append(f"`{_escape(parts[i + 2])}`")
    return quote + "".join(styled)


def _style(text: str) -> str:
    links: list[str] = []

    def keep_link(match: re.Match[str]) -> str:
        links.append(f"<{match.group(2)}|{_escape(match.group(1))}>")
        return f"\0{len(links) - 1}\0"

    text = _LINK.sub(keep_link, text)
    text = _escape(text)
    text = _ITALIC.sub(r"_\1_", text)
    text = _BOLD.sub(r"*\2*", text)
    text = _STRIKE.sub(r"~\1~", text)
    return re.sub("\0(\\d+)\0", lambda m: links[int(m.group(1))], text)


def split_off(before: str, text: str, limit: int) -> tuple[str, str]:
    """``text`` as (what still fits in a message holding ``before``, what goes to the next).

    Cuts prefer paragraph breaks, then line breaks, then spaces; a code block that is cut is
    closed at the end of the head and reopened (with its language) at the start of the rest;
    a cut never falls inside a character sequence that renders as one symbol. The head is
    empty when the message has no useful room left.
    """
    room = limit - len(before)
    if len(text) <= room:
        return text, ""
    cut = best_cut(text, room - _CLOSE_ROOM) if room > 4 * _CLOSE_ROOM else 0
    head, rest = text[:cut], text[cut:]
    fence = open_fence(before + head)
    if not fence:
        return head.rstrip(), rest.lstrip("\n")
    reopen = fence if len(fence) < limit // 4 else fence_marker(fence)
    return head.rstrip("\n") + "\n" + fence_marker(fence), reopen + "\n" + rest


def fence_marker(fence_line: str) -> str:
    """The backticks or tildes that open (and so close) a fenced code block."""
    match = _FENCE.match(fence_line)
    return match.group(1) if match else "```"


def open_fence(markdown: str) -> str:
    """The opening line of a code block left open at the end of ``markdown``, or ""."""
    opening = ""
    for line in markdown.split("\n"):
        match = _FENCE.match(line)
        if not match:
            continue
        if not opening:
            opening = line.strip()
            continue
        marker = fence_marker(opening)
        closes = match.group(1)[0] == marker[0] and len(match.group(1)) >= len(marker)
        if closes and not match.group(2).strip():
            opening = ""
    return opening


def clip(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: whole, or cut at a boundary and ending with "…"."""
    if len(text) <= limit:
        return text
    return text[: best_cut(text, limit - 1)].rstrip() + "…"


def best_cut(text: str, budget: int) -> int:
    """Index at which to cut ``text`` so the head fits ``budget`` characters."""
    window = text[:budget]
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator)
        if at > budget // 2:
            return at + len(separator)
    cut = budget
    while cut > 1 and _joins(text, cut):
        cut -= 1
    return cut


def _joins(text: str, at: int) -> bool:
    """True when a cut before ``text[at]`` would split one visible symbol in two."""
    char, before = text[at], text[at - 1]
    return (
        unicodedata.combining(char) > 0
        or unicodedata.category(char) in ("Mn", "Me", "Sk")
        or char in "\u200d\ufe0e\ufe0f"
        or before == "\u200d"
        or 0x1F3FB <= ord(char) <= 0x1F3FF  # skin tone modifiers
        or unicodedata.category(char) == "Cs"
    )

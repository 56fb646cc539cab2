"""Keeping a model request within a context budget, with an offline token estimate.

No tokenizer can be downloaded here, so :func:`estimate_tokens` counts by script, erring on
the high side: about 4 ASCII letters a token (punctuation and line breaks cost more, so code and
JSON are not underestimated), 2 accented Latin/Greek/Cyrillic characters a token, 1 to 1.5
tokens for each CJK, kana or Hangul character, 3 for an emoji.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from itertools import accumulate

from slackgpt.formatting import best_cut

MESSAGE_OVERHEAD = 4  # role and separators of one chat message
REPLY_OVERHEAD = 3  # the tokens that prime the model's reply
IMAGE_TOKENS = 1_000  # a fixed, generous cost for one image part
CUT_MARKER = "\n\n[… the rest of this message was cut to fit the model's context]"

# Costs are counted in twelfths of a token, so every rate below is a whole number.
_UNIT = 12
_ASCII_WORD = 3  # letters, spaces and tabs: 4 a token
_ASCII_DIGIT = 4  # digits group by three
_ASCII_OTHER = 9  # punctuation, as dense in code and JSON: 4 for 3 tokens
_ASCII_NEWLINE = 12  # a line break is often a token of its own
_DIGITS = b"0123456789"
_WORDISH = bytes(range(ord("a"), ord("z") + 1)) + bytes(range(ord("A"), ord("Z") + 1)) + b" \t"
_NON_ASCII = re.compile(r"[^\x00-\x7f]")

# (first, last, cost) for non-ASCII ranges, checked in order; anything else costs 1 token.
_RANGES: tuple[tuple[int, int, int], ...] = (
    (0x0080, 0x058F, 6),  # Latin-1, Latin Extended, IPA, combining marks, Greek, Cyrillic
    (0x1E00, 0x1FFF, 6),  # Latin Extended Additional (Vietnamese), Greek Extended
    (0x0900, 0x109F, 18),  # Indic scripts, Sinhala, Thai, Lao, Tibetan, Myanmar
    (0x1780, 0x17FF, 18),  # Khmer
    (0x1100, 0x11FF, 18),  # Hangul Jamo
    (0x3130, 0x318F, 18),  # Hangul Compatibility Jamo
    (0xA960, 0xA97F, 18),  # Hangul Jamo Extended-A
    (0xAC00, 0xD7FF, 18),  # Hangul syllables and Jamo Extended-B: often 1-2 tokens each
    (0x3040, 0x30FF, 12),  # hiragana, katakana
    (0x31F0, 0x31FF, 12),  # katakana phonetic extensions
    (0x3400, 0x4DBF, 15),  # CJK Extension A
    (0x4E00, 0x9FFF, 15),  # CJK Unified Ideographs
    (0xF900, 0xFAFF, 15),  # CJK Compatibility Ideographs
    (0x1F000, 0x1FAFF, 36),  # emoji, pictographs, flags
    (0x20000, 0x3FFFF, 24),  # rare CJK ideographs
    (0x10000, 0x10FFFF, 24),  # other supplementary characters
)
_cost_cache: dict[str, int] = {}
_ASCII_UNITS = [
    _ASCII_WORD if chr(c).encode() in _WORDISH
    else _ASCII_DIGIT if chr(c).encode() in _DIGITS
    else _ASCII_NEWLINE if c == 10
    else _ASCII_OTHER
    for c in range(128)
]  # fmt: skip


def estimate_tokens(text: str) -> int:
    """A conservative estimate of how many tokens ``text`` costs a typical model."""
    return -(-_units(text) // _UNIT)


def content_tokens(content: object) -> int:
    """Estimated tokens of a chat message's ``content``: a string, a list of parts, or None."""
    if content is None:
        return 0
    if isinstance(content, str):
        return estimate_tokens(content)
    if not isinstance(content, list):
        return estimate_tokens(json.dumps(content, ensure_ascii=False, default=str))
    total = 0
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            total += estimate_tokens(str(part.get("text") or ""))
        elif kind in ("image_url", "input_image", "image"):
            total += IMAGE_TOKENS
        else:  # an unknown part: count everything it carries
            total += estimate_tokens(json.dumps(part, ensure_ascii=False, default=str))
    return total


def message_tokens(message: dict) -> int:
    """Estimated tokens of one chat message, including its per-message overhead."""
    total = MESSAGE_OVERHEAD + content_tokens(message.get("content"))
    if message.get("name"):
        total += estimate_tokens(str(message["name"]))
    if message.get("tool_calls"):
        total += estimate_tokens(json.dumps(message["tool_calls"], ensure_ascii=False, default=str))
    return total


def messages_tokens(messages: list[dict]) -> int:
    """Estimated prompt tokens of a whole request."""
    return REPLY_OVERHEAD + sum(message_tokens(m) for m in messages)


def fit_to_budget(messages: list[dict], budget: int) -> tuple[list[dict], int]:
    """Keep ``messages`` within ``budget`` estimated tokens; return them and how many were dropped.

    ``messages[0]`` (system), ``messages[1]`` (the thread's root) and ``messages[-1]`` (the
    newest) are always kept; the turns between them go oldest first. If those three alone are
    still too long, the root's content is cut (keeping its beginning and marking the cut), then
    the newest's. The system message is never changed, so a system prompt larger than the budget
    leaves the result over it. The input list and its messages are not modified.
    """
    costs = [message_tokens(m) for m in messages]
    total = REPLY_OVERHEAD + sum(costs)
    dropped = 0
    middle_end = len(messages) - 1
    while total > budget and 2 + dropped < middle_end:
        total -= costs[2 + dropped]
        dropped += 1
    kept = messages[:2] + messages[2 + dropped :] if dropped else list(messages)
    kept_costs = costs[:2] + costs[2 + dropped :]

    for index in dict.fromkeys((1, len(kept) - 1)):  # the root, then the newest
        if total <= budget or index < 1 or index >= len(kept):
            continue
        shrunk = _shrink(kept[index], kept_costs[index] - (total - budget))
        new_cost = message_tokens(shrunk)
        if new_cost >= kept_costs[index]:  # too short to gain anything by cutting
            continue
        total += new_cost - kept_costs[index]
        kept[index], kept_costs[index] = shrunk, new_cost
    return kept, dropped


def truncate_text(text: str, max_tokens: int, marker: str = CUT_MARKER) -> str:
    """``text`` unchanged if it fits ``max_tokens``, else its beginning plus ``marker``.

    The cut prefers a paragraph, line or word break and never splits a visible character. When
    even ``marker`` alone does not fit, the result is ``marker`` alone.
    """
    if estimate_tokens(text) <= max_tokens:
        return text
    room = max_tokens * _UNIT - _units(marker)
    if room <= 0:
        return marker.strip()
    head = text[: room // _ASCII_WORD + 1]  # no character is cheaper than an ASCII letter
    prefix = list(accumulate(map(_char_units, head), initial=0))
    fits = bisect_right(prefix, room) - 1  # the longest prefix within room
    cut = best_cut(text, fits) if fits > 0 else 0
    kept = text[:cut].rstrip()
    return kept + marker if kept else marker.strip()


def _shrink(message: dict, max_tokens: int) -> dict:
    """A copy of ``message`` whose content is cut to fit ``max_tokens`` in all."""
    content = message.get("content")
    room = max_tokens - (message_tokens(message) - content_tokens(content))
    if isinstance(content, str):
        return {**message, "content": truncate_text(content, room)}
    if not isinstance(content, list):
        return message
    room -= estimate_tokens(CUT_MARKER) + 8  # the closing note, with room to count images
    parts: list[dict] = []
    left_out_images = 0
    cut = False
    for part in content:
        cost = content_tokens([part])
        if not cut and cost <= room:
            parts.append(part)
            room -= cost
        elif isinstance(part, dict) and part.get("type") == "text" and not cut:
            text = truncate_text(str(part.get("text") or ""), room, marker="")
            if text:
                parts.append({**part, "text": text})
            cut = True
        elif isinstance(part, dict) and part.get("type") in ("image_url", "input_image", "image"):
            left_out_images += 1
        else:
            cut = True
    note = CUT_MARKER.strip()
    if left_out_images:
        plural = "s were" if left_out_images > 1 else " was"
        note = note[:-1] + f"; {left_out_images} image{plural} left out]"
    parts.append({"type": "text", "text": note})
    return {**message, "content": parts}


def _units(text: str) -> int:
    """Cost of ``text`` in twelfths of a token."""
    ascii_bytes = text.encode("ascii", "ignore")
    n = len(ascii_bytes)
    digits = n - len(ascii_bytes.translate(None, _DIGITS))
    wordish = n - len(ascii_bytes.translate(None, _WORDISH))
    newlines = ascii_bytes.count(b"\n")
    other = n - wordish - digits - newlines
    units = (
        wordish * _ASCII_WORD
        + digits * _ASCII_DIGIT
        + newlines * _ASCII_NEWLINE
        + other * _ASCII_OTHER
    )
    if n == len(text):
        return units
    for char in _NON_ASCII.findall(text):
        units += _cost_cache.get(char) or _char_cost(char)
    return units


def _char_units(char: str) -> int:
    """Cost of one character in twelfths of a token."""
    code = ord(char)
    if code < 0x80:
        return _ASCII_UNITS[code]
    return _cost_cache.get(char) or _char_cost(char)


def _char_cost(char: str) -> int:
    code = ord(char)
    cost = _UNIT
    for first, last, rate in _RANGES:
        if first <= code <= last:
            cost = rate
            break
    if len(_cost_cache) < 50_000:
        _cost_cache[char] = cost
    return cost

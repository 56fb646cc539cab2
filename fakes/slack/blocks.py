"""Block Kit as Slack checks it: message limits, every block's shape, context_actions and
feedback_buttons, actions blocks and unique ids, and the ``chunks`` of a streamed message.

Sources: docs.slack.dev/reference/block-kit (blocks, block elements), Slack's method pages
(``invalid_blocks``, ``invalid_blocks_format``, ``msg_blocks_too_long``, ``invalid_chunks``)
and Slack's own SDK models (``slack_sdk.models.blocks``, ``slack_sdk.models.messages.chunk``),
which know each block's and chunk's fields and limits.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, UrlSourceElement
from slack_sdk.models.messages.chunk import Chunk

from fakes.slack.errors import SlackError

Json = dict[str, Any]

MARKDOWN_LIMIT = 12_000  # markdown blocks per message; markdown_text per stream call
SECTION_LIMIT = 3_000
MAX_BLOCKS = 50  # in a message; a modal or Home tab holds 100 (VIEW_BLOCKS)
VIEW_BLOCKS = 100
CONTEXT_ACTIONS_MAX = 5  # elements in a context_actions block
BUTTON_TEXT_MAX = 75  # feedback button text and accessibility_label
VALUE_MAX = 2_000  # a button's value
ID_MAX = 255  # block_id, action_id

_CONTEXT_ACTIONS_KEYS = {"type", "elements", "block_id"}
_FEEDBACK_KEYS = {"type", "action_id", "positive_button", "negative_button"}
_BUTTON_KEYS = {"text", "value", "accessibility_label"}
_ICON_KEYS = {"type", "action_id", "icon", "text", "accessibility_label", "value"}
_ICON_KEYS |= {"visible_to_user_ids", "confirm"}


def check_blocks(blocks: Any, most: int = MAX_BLOCKS) -> None:
    """Slack's block limits: 50 blocks (``most``: a view's 100), 12,000 markdown characters,
    3,000 per section."""
    if blocks is None:
        return
    if not isinstance(blocks, list) or not all(isinstance(b, dict) and "type" in b for b in blocks):
        raise SlackError("invalid_blocks_format")
    sections = [(b.get("text") or {}).get("text", "") for b in blocks if b["type"] == "section"]
    if len(blocks) > most or any(len(s) > SECTION_LIMIT for s in sections):
        raise SlackError("invalid_blocks")
    if sum(len(b.get("text", "")) for b in blocks if b["type"] == "markdown") > MARKDOWN_LIMIT:
        raise SlackError("msg_blocks_too_long")
    if error := context_actions_error(blocks) or ids_error(blocks):
        raise SlackError(error)
    for block in blocks:
        _check_shape(block)


def _check_shape(block: Json) -> None:
    """``invalid_blocks`` for a block type Slack does not know, or one its SDK model refuses
    (a required field missing, a field too long, an element of no known type)."""
    if block["type"] not in BLOCK_TYPES:
        raise SlackError("invalid_blocks")
    try:
        parsed = Block.parse(dict(block))
        shape = parsed.to_dict() if parsed is not None else None
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError) as e:
        raise SlackError("invalid_blocks") from e
    if shape is None or _has_unknown_parts(shape):
        raise SlackError("invalid_blocks")


def _has_unknown_parts(value: Any) -> bool:
    """True if the SDK dropped a part it does not know (a ``None`` left in a list)."""
    if isinstance(value, dict):
        return any(_has_unknown_parts(v) for v in value.values())
    if isinstance(value, list):
        return any(v is None or _has_unknown_parts(v) for v in value)
    return False


def _types_of(base: type) -> frozenset[str]:
    """The ``type`` of every SDK model class under ``base``."""
    found, todo = set(), [base]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if isinstance(getattr(cls, "type", None), str):
            found.add(cls.type)
    return frozenset(found)


BLOCK_TYPES = _types_of(Block)
CHUNK_TYPES = _types_of(Chunk)  # markdown_text, task_update, plan_update, blocks
TASK_STATUSES = ("pending", "in_progress", "complete", "error")  # slack_sdk TaskUpdateChunk
# A task's and a plan's texts: "Maximum 256 characters" (Slack's agent-progress guidance in
# slackapi/slack-skills-plugin; Microsoft Agents SDK docs say the same of details/output).
TASK_TEXT_MAX = 256
_CHUNK_TEXTS = {  # the fields of each chunk that are text, (required, optional)
    "markdown_text": (("text",), ()),
    "plan_update": (("title",), ()),
    "task_update": (("id", "title", "status"), ("details", "output")),
    "blocks": ((), ()),
}


def check_chunks(chunks: Any) -> list[Json]:
    """The ``chunks`` of a stream call, each of a known type with exactly its fields (a
    ``blocks`` chunk's blocks checked as blocks); else ``invalid_chunks``."""
    if not isinstance(chunks, list):
        raise SlackError("invalid_chunks")
    for chunk in chunks:
        if not isinstance(chunk, dict) or chunk.get("type") not in CHUNK_TYPES:
            raise SlackError("invalid_chunks")
        try:
            model = Chunk.parse(dict(chunk))
        except TypeError as e:  # a required field missing
            raise SlackError("invalid_chunks") from e
        if model is None or set(chunk) - set(model.attributes) or not _chunk_fields_ok(chunk):
            raise SlackError("invalid_chunks")
        if chunk["type"] == "blocks":
            check_blocks(chunk["blocks"])
    return chunks


def _chunk_fields_ok(chunk: Json) -> bool:
    required, optional = _CHUNK_TEXTS[chunk["type"]]
    texts = [chunk[k] for k in required] + [chunk[k] for k in optional if k in chunk]
    if not all(isinstance(t, str) for t in texts):
        return False
    if chunk["type"] == "blocks":
        return isinstance(chunk["blocks"], list)
    if any(len(t) > TASK_TEXT_MAX for t in texts) and chunk["type"] != "markdown_text":
        return False
    if chunk["type"] != "task_update":
        return True
    sources = chunk.get("sources", [])
    return (
        chunk["status"] in TASK_STATUSES
        and isinstance(sources, list)
        and all(_source_ok(s) for s in sources)
    )


def _source_ok(source: Any) -> bool:
    """A task's source: a ``url`` element with its url and text."""
    if not isinstance(source, dict) or source.get("type") != UrlSourceElement.type:
        return False
    fields = {"type", "url", "text"}
    return set(source) <= fields and all(isinstance(source.get(k), str) for k in ("url", "text"))


def context_actions_error(blocks: list[Json]) -> str | None:
    """``invalid_blocks`` if a ``context_actions`` block or a feedback button is malformed.

    Per docs.slack.dev/reference/block-kit/blocks/context-actions-block and
    .../block-elements/feedback-buttons-element: 1-5 elements, each ``feedback_buttons``
    (both buttons, plain_text ≤ 75, value ≤ 2,000) or ``icon_button``; feedback buttons
    only inside a context_actions block; no unknown keys; action_ids unique in a block.
    """
    for block in blocks:
        elements = block.get("elements")
        if block["type"] == "context_actions":
            if not _context_actions_ok(block):
                return "invalid_blocks"
        elif isinstance(elements, list) and any(
            isinstance(e, dict) and e.get("type") == "feedback_buttons" for e in elements
        ):
            return "invalid_blocks"
    return None


def ids_error(blocks: list[Json]) -> str | None:
    """``invalid_blocks`` if two blocks of a message share a block_id, or an actions block is
    empty or repeats an action_id (docs.slack.dev/reference/block-kit/blocks: a block_id
    "should be unique for each message"; actions-block: an array of interactive elements;
    block-elements: an action_id "should be unique among all other action_ids in the
    containing block")."""
    named = [b["block_id"] for b in blocks if isinstance(b.get("block_id"), str)]
    if len(named) != len(set(named)):
        return "invalid_blocks"
    for block in blocks:
        if block["type"] != "actions":
            continue
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            return "invalid_blocks"
        ids = [e["action_id"] for e in elements if isinstance(e, dict) and "action_id" in e]
        if len(ids) != len(set(ids)):
            return "invalid_blocks"
    return None


def _context_actions_ok(block: Json) -> bool:
    elements = block.get("elements")
    if set(block) - _CONTEXT_ACTIONS_KEYS or not _short_id(block.get("block_id")):
        return False
    if not isinstance(elements, list) or not 1 <= len(elements) <= CONTEXT_ACTIONS_MAX:
        return False
    if not all(_element_ok(e) for e in elements):
        return False
    ids = [e["action_id"] for e in elements if "action_id" in e]
    return len(ids) == len(set(ids))


def _element_ok(element: Any) -> bool:
    """A context_actions element: feedback buttons or an icon button, well formed."""
    if not isinstance(element, dict):
        return False
    if element.get("type") == "feedback_buttons":
        return _feedback_ok(element)
    return element.get("type") == "icon_button" and _icon_ok(element)


def _feedback_ok(element: Json) -> bool:
    return (
        not set(element) - _FEEDBACK_KEYS
        and _short_id(element.get("action_id"))
        and _button_ok(element.get("positive_button"))
        and _button_ok(element.get("negative_button"))
    )


def _button_ok(button: Any) -> bool:
    return (
        isinstance(button, dict)
        and not set(button) - _BUTTON_KEYS
        and _plain_text_ok(button.get("text"))
        and _text_ok(button.get("value"), VALUE_MAX)
        and (button.get("accessibility_label") is None or _label_ok(button))
    )


def _icon_ok(element: Json) -> bool:
    return (
        not set(element) - _ICON_KEYS
        and _short_id(element.get("action_id"))
        and _text_ok(element.get("icon"), ID_MAX)
        and _plain_text_ok(element.get("text"))
        and (element.get("value") is None or _text_ok(element.get("value"), VALUE_MAX))
        and (element.get("accessibility_label") is None or _label_ok(element))
    )


def _plain_text_ok(text: Any) -> bool:
    return (
        isinstance(text, dict)
        and text.get("type") == "plain_text"
        and _text_ok(text.get("text"), BUTTON_TEXT_MAX)
    )


def _label_ok(item: Json) -> bool:
    return _text_ok(item.get("accessibility_label"), BUTTON_TEXT_MAX)


def _text_ok(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _short_id(value: Any) -> bool:
    """An optional block_id / action_id: absent, or a string of 1-255 characters."""
    return value is None or _text_ok(value, ID_MAX)


def feedback_element(blocks: list[Json] | None) -> tuple[int, Json] | None:
    """The index of the first context_actions block with feedback buttons, and the element."""
    for i, block in enumerate(blocks or []):
        if block.get("type") != "context_actions":
            continue
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("type") == "feedback_buttons":
                return i, element
    return None


def button_element(blocks: list[Json] | None, action_id: str) -> tuple[int, Json] | None:
    """The index of the first actions block with the button ``action_id``, and the button."""
    for i, block in enumerate(blocks or []):
        if block.get("type") != "actions":
            continue
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("type") == "button" and (
                element.get("action_id") == action_id
            ):
                return i, element
    return None

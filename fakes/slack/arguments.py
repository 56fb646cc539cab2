"""A call's arguments checked against its method page, as Slack checks them.

From the page's ``args`` (JSON schema): required arguments, types, enums and bounds
(``minimum``/``maximum``, ``minItems``/``maxItems``, ``minLength``/``maxLength``, ``items``)
→ ``invalid_arguments`` with one ``[ERROR]`` line per problem. From slack-ruby's
``arg_groups``: one of a group required (``no_text`` for message text) and mutually exclusive
arguments (``markdown_text_conflict``). From the page's errors: ``msg_too_long`` past the
length its description states (chat.update: 4,000).

A JSON ``null`` counts as an absent argument. Form and query arguments are text, so a number,
boolean or array may come as its text. Arguments Slack reads as JSON text (``blocks``…) may
come as JSON itself in a JSON body. Arguments described only by a named schema (``prompts``,
``view``) are left to the method.
"""

from __future__ import annotations

import json
from typing import Any

from fakes.slack.errors import SlackError, invalid_arguments
from fakes.slack.records import Json
from fakes.slack.reference import MethodSpec

JSON_TEXT = frozenset({"blocks", "attachments", "unfurled_attachments", "metadata", "view"})
BOOLEAN_TEXT = frozenset({"true", "false", "1", "0"})
# chat.appendStream's page marks markdown_text required, yet the same page's ``chunks`` carry
# text too, and Slack's own SDK (slack_sdk ChatStream) appends with chunks alone.
STANDS_IN = {("chat.appendStream", "markdown_text"): "chunks"}


def check_arguments(page: MethodSpec, params: Json) -> None:
    """Raise Slack's error for the first kind of problem the arguments have."""
    given = {k: v for k, v in params.items() if v is not None}
    problems = [
        f"[ERROR] missing required field: {name}"
        for name in page.required
        if name not in given and STANDS_IN.get((page.name, name)) not in given
    ]
    for name, value in given.items():
        if name in page.properties:
            problems += _problems(page.properties[name], value, f"/{name}")
    if problems:
        raise invalid_arguments(*problems)
    _check_groups(page, given)
    limit = page.limit_in("msg_too_long")
    if limit is not None and len(str(given.get("text") or "")) > limit:
        raise SlackError("msg_too_long")


def _check_groups(page: MethodSpec, given: Json) -> None:
    present = {name for name, value in given.items() if value != ""}
    conflict = "markdown_text_conflict" in page.errors
    for group in page.arg_groups:
        names = set(group.get("args") or ())
        here = names & present
        if group.get("mutually_exclusive") and len(here) > 1:
            raise SlackError(
                "markdown_text_conflict"
                if conflict and "markdown_text" in names
                else "invalid_arguments"
            )
        if group.get("required", True) and not here:
            raise SlackError(
                "no_text" if "no_text" in page.errors and "text" in names else "invalid_arguments"
            )
    if conflict and "markdown_text" in present and "blocks" in present:
        raise SlackError("markdown_text_conflict")  # "... with `blocks` or `text`"


def _problems(schema: Json, value: Any, pointer: str) -> list[str]:
    """What is wrong with ``value`` for ``schema`` ([] when nothing)."""
    if "anyOf" in schema:
        options = [_problems(s, value, pointer) for s in schema["anyOf"] if s.get("type") != "null"]
        return [] if not options or any(not p for p in options) else options[0]
    if "allOf" in schema:
        return [p for s in schema["allOf"] for p in _problems(s, value, pointer)]
    kind = schema.get("type")
    if kind and not _is(kind, value, pointer):
        return [f"[ERROR] expected {kind}, got {_name(value)} [json-pointer:{pointer}]"]
    return _bounds(schema, value, pointer)


def _is(kind: str, value: Any, pointer: str) -> bool:
    if isinstance(value, str) and kind in ("number", "integer"):
        return _number(value) is not None and (kind == "number" or float(value).is_integer())
    if kind == "string":
        json_text = pointer.count("/") == 1 and pointer[1:] in JSON_TEXT
        return isinstance(value, str) or (json_text and isinstance(value, (list, dict)))
    if kind == "boolean":
        return isinstance(value, bool) or str(value).lower() in BOOLEAN_TEXT
    if kind in ("number", "integer"):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return number and (kind == "number" or float(value).is_integer())
    if kind in ("array", "object"):  # an array or object may come as its JSON text
        return isinstance(value, (list, str) if kind == "array" else (dict, str))
    return True


def _bounds(schema: Json, value: Any, pointer: str) -> list[str]:
    where = f"[json-pointer:{pointer}]"
    found = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"[ERROR] must be one of {schema['enum']} {where}")
    number = _number(value)
    if number is not None and number < schema.get("minimum", number):
        found.append(f"[ERROR] must be at least {schema['minimum']} {where}")
    if number is not None and number > schema.get("maximum", number):
        found.append(f"[ERROR] must be at most {schema['maximum']} {where}")
    sized = value if isinstance(value, (str, list)) else None
    low, high = ("minLength", "maxLength") if isinstance(value, str) else ("minItems", "maxItems")
    if sized is not None and len(sized) < schema.get(low, 0):
        found.append(f"[ERROR] must have at least {schema[low]} {_unit(value)} {where}")
    if sized is not None and len(sized) > schema.get(high, len(sized)):
        found.append(f"[ERROR] must have at most {schema[high]} {_unit(value)} {where}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += _problems(schema["items"], item, f"{pointer}/{i}")
    return found


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(json.loads(value)) if value.strip() else None
        except (ValueError, TypeError):
            return None
    return None


def _unit(value: Any) -> str:
    return "characters" if isinstance(value, str) else "items"


def _name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number"
    )

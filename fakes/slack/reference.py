"""Slack's published Web API reference, read once: what each method takes, needs and answers.

The reference is slack-ruby/slack-api-ref (MIT), vendored beside the clone in
``../shared/slack_ref`` (``FAKE_SLACK_REF`` names another place): Slack's own method pages
``docs.slack.dev/methods/<method>.json`` (``args`` as JSON schema, ``scope``, ``rate_limits``,
``errors``), the index of every method name (``methods.json``), slack-ruby's ``arg_groups``
(``methods/_patches``) and the errors common to all methods (``methods/_errors``).

The shared subset predates some methods the fake implements (agent sessions, Real-time
Search, ``conversations.members``): their pages, from the same slack-api-ref commit, are kept
in ``fakes/slack/pages/`` (README and licence there) and read where the shared folder has none.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Json = dict[str, Any]

ENV = "FAKE_SLACK_REF"
DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "slack_ref"
PAGES = Path(__file__).resolve().parent / "pages"  # pages the shared subset lacks


class ReferenceMissing(RuntimeError):
    """The method reference is not where the fake looks for it."""


@dataclass(frozen=True)
class MethodSpec:
    """One method page: its arguments (JSON schema), bot scopes, rate tier, errors."""

    name: str
    bot_scopes: tuple[str, ...]
    tier: str | None  # "t1".."t4", "t5" (special)
    required: tuple[str, ...]
    properties: Json
    arg_groups: tuple[Json, ...]
    errors: dict[str, str]  # error code → what Slack says it means

    def limit_in(self, error: str) -> int | None:
        """The character limit an error's description states ("cannot exceed 4,000 ...")."""
        found = re.search(r"cannot exceed ([\d,]+) characters", self.errors.get(error, ""))
        return int(found.group(1).replace(",", "")) if found else None


@dataclass(frozen=True)
class Reference:
    """The vendored pages (``methods``) and every Slack method's name (``names``)."""

    root: Path
    methods: dict[str, MethodSpec]
    names: frozenset[str]
    common_errors: dict[str, str]


def where() -> Path:
    """Where the reference is read from: ``$FAKE_SLACK_REF``, else ``../shared/slack_ref``."""
    return Path(os.environ.get(ENV) or DEFAULT)


def load(root: Path | None = None) -> Reference:
    """The reference at ``root`` (default: :func:`where`), read once per place."""
    return _load(str((root or where()).resolve()))


@functools.cache
def _load(root: str) -> Reference:
    base = Path(root)
    pages = base / "docs.slack.dev" / "methods"
    if not (pages / "methods.json").is_file():
        raise ReferenceMissing(
            f"The fake Slack checks calls against Slack's method reference, expected in {base} "
            f"(docs.slack.dev/methods/*.json from slack-ruby/slack-api-ref). Put the shared "
            f"folder beside the clone (../shared/slack_ref) or set {ENV} to its path."
        )
    names = frozenset(m["name"] for m in _json(pages / "methods.json"))
    groups = {
        p.stem: _json(p).get("arg_groups", []) for p in base.glob("methods/_patches/*/*.json")
    }
    methods = {}
    for page in [*sorted(PAGES.glob("*.*.json")), *sorted(pages.glob("*.*.json"))]:
        name = page.name.removesuffix(".json")
        methods[name] = _spec(name, _json(page), groups.get(name, []))  # shared pages win
    common = _json(base / "methods" / "_errors" / "common.json")["errors"]
    return Reference(base, methods, names, common)


def _spec(name: str, page: Json, groups: list[Json]) -> MethodSpec:
    args = page.get("args") or {}
    return MethodSpec(
        name=name,
        bot_scopes=tuple((page.get("scope") or {}).get("bot") or ()),
        tier=page.get("rate_limits"),
        required=tuple(a for a in args.get("required", ()) if a != "token"),
        properties=args.get("properties") or {},
        arg_groups=tuple(groups),
        errors={code: (e or {}).get("desc", "") for code, e in (page.get("errors") or {}).items()},
    )


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ReferenceMissing(f"Slack's method reference: cannot read {path} ({e})") from None

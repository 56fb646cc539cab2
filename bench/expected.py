"""Which target misses are known, and why: the benchmark's side of docs/performance.md's
"Expected misses". Pure: rows in, rows out.

A MISS is *expected* when it is one of the known ones below (each explained in that doc),
or when the floor bot (the least a bot can do) misses the same target at the same N on this
machine: then no bot could meet it here. Any other MISS is news.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .report import ACK, FIRST_SIGN_IDEAL, FIRST_WORDS_FLOOR, FIRST_WORDS_IDEAL, Row, fmt


@dataclass(frozen=True)
class Known:
    """A target slackgpt is known to miss from ``min_n`` simultaneous questions up."""

    target: str
    min_n: int
    why: str


IN_TURN = ("one process starts every answer in turn, each at about twice the floor bot's CPU "
           "(Bolt's Socket Mode dispatch, slack_sdk's and the openai SDK's request paths)")
KNOWN = (
    Known(FIRST_WORDS_IDEAL, 1, "every asker in a burst is new to the bot: their name "
          "(users.info) costs one Slack round trip before the model is asked, once a day "
          "per person"),
    Known(FIRST_SIGN_IDEAL, 10, IN_TURN),
    Known(FIRST_WORDS_FLOOR, 100, IN_TURN),
    Known(ACK, 100, "Bolt acks an event after dispatching it, and one process dispatches "
          "the burst's events in turn (the floor bot acks each envelope before handling it)"),
)


def known_reason(target: str, n: int | None) -> str | None:
    """Why ``target`` at ``n`` is a known miss, or None."""
    for known in KNOWN:
        if known.target == target and n is not None and n >= known.min_n:
            return known.why
    return None


def floor_misses(floor_rows: Iterable[Row]) -> dict[tuple[str, Any], Row]:
    """The floor bot's measured misses, by (target, N)."""
    return {(r["target"], r["n"]): r for r in floor_rows
            if r["result"] == "MISS" and r["value"] is not None}


def mark(rows: Sequence[Row], floor_rows: Iterable[Row] = ()) -> list[Row]:
    """``rows``, each with ``expected``: why its MISS is known (None for a PASS or news)."""
    floor = floor_misses(floor_rows)
    out = []
    for row in rows:
        why = None
        if row["result"] == "MISS":
            why = known_reason(row["target"], row["n"])
            if why is None and (missed := floor.get((row["target"], row["n"]))):
                value = fmt(missed["value"], 0 if missed["unit"] == "ms" else 2)
                why = (f"the floor bot misses it too ({value} {missed['unit']}): no bot meets "
                       "it on this machine at this N")
        out.append(row | {"expected": why})
    return out


"""The benchmark's picture: first words and done, p50/p90/p99, per profile, slackgpt beside
the floor bot (burst) or each set-up side by side (busy). Written as a PNG next to the JSON.

:func:`panels` (pure) picks the figures from a run's JSON document; :func:`write_plot` draws
them with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METRICS = (("first words", "first_text"), ("done", "completion"))
QUANTILES = ("p50", "p90", "p99")
LABELS = [f"{name}\n{q}" for name, _ in METRICS for q in QUANTILES]
NAMES = {"floor": "floor bot", "slackgpt": "slackgpt"}
COLORS = {"floor bot": "0.65", "slackgpt": "C0"}  # the same in every panel


@dataclass(frozen=True)
class Panel:
    """One chart: a title and, per series (a bot or a set-up), seconds for each of LABELS
    (None where not measured)."""

    title: str
    series: dict[str, list[float | None]]


def seconds(figures: Mapping[str, Any]) -> list[float | None]:
    """First words and done at p50/p90/p99, in seconds, from a run's ``*_ms`` figures."""
    out: list[float | None] = []
    for _, key in METRICS:
        for q in QUANTILES:
            ms = figures.get(f"{key}_{q}_ms")
            out.append(None if ms is None else ms / 1000)
    return out


def panels(profile: str, doc: Mapping[str, Any]) -> list[Panel]:
    """Burst: one panel per N, the floor bot beside slackgpt. Busy: one panel, a series per
    set-up (1 copy; 2 copies + Redis)."""
    if profile == "busy":
        results = doc.get("results", {})
        title = "busy (no floor bot here: it keeps no rate budgets)"
        return [Panel(title, {name: seconds(r) for name, r in results.items()})]
    if profile == "tools":
        return [Panel("tools (2 rounds of Slack search)", {"slackgpt": seconds(doc["result"])})]
    median = doc.get("median", {})
    ns = sorted({int(n) for kind in median.values() for n in kind})
    out = []
    for n in ns:
        series = {NAMES.get(kind, kind): seconds(by_n[n])
                  for kind, by_n in sorted(median.items(), key=lambda kv: kv[0] != "floor")
                  if n in by_n}
        out.append(Panel(f"burst, N={n}", series))
    return out


def write_plot(path: Path, title: str, charts: list[Panel]) -> Path:
    """Draw ``charts`` side by side into the PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * max(1, len(charts)) + 1, 4.6), layout="constrained")
    axes = fig.subplots(1, max(1, len(charts)), sharey=True, squeeze=False)[0]
    for ax, chart in zip(axes, charts, strict=False):
        draw(ax, chart)
    axes[0].set_ylabel("seconds from the event reaching the bot")
    fig.suptitle(textwrap.fill(title, 40 * max(1, len(charts)) + 30), fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def draw(ax: Any, chart: Panel) -> None:
    """Grouped bars: LABELS along x, one bar per series, each labelled with its value."""
    count = max(1, len(chart.series))
    width = 0.8 / count
    for i, (name, values) in enumerate(chart.series.items()):
        xs = [x + (i - (count - 1) / 2) * width for x in range(len(LABELS))]
        heights = [v or 0.0 for v in values]
        bars = ax.bar(xs, heights, width, label=name, color=COLORS.get(name, f"C{i + 2}"))
        ax.bar_label(bars, labels=[f"{v:.2f}" if v is not None else "-" for v in values],
                     fontsize=6, rotation=90, padding=2)
    ax.set_xticks(range(len(LABELS)), LABELS, fontsize=7)
    ax.axvline(len(QUANTILES) - 0.5, color="0.8", linewidth=0.8)
    ax.set_title(chart.title, fontsize=10)
    ax.margins(y=0.15)
    ax.legend(fontsize=7, loc="upper left")

"""DQN's charts: the score curves."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from benchmarks.document import Block
from benchmarks.report.charts import chart_section, series_label
from benchmarks.report.context import ReportContext
from benchmarks.report.figure import Figure, Panel, Series, thin

Record = dict[str, Any]


def score_figures(context: ReportContext) -> list[Figure]:
    """Running mean and running max of the last 100 episodes against agent steps, every
    backend and mode of a variant on one figure (a panel each)."""
    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in context.records:
        if record["status"] in ("ok", "diverged") and record.get("episodes"):
            by_variant[record["variant"]].append(record)
    figures = []
    for variant, group in sorted(by_variant.items()):
        means, maxima = [], []
        for record in sorted(group, key=lambda r: (r["backend"], r["mode"], r["dtype"])):
            rows = record["episodes"]
            steps = [row["agent_steps"] for row in rows]
            label = series_label(record)
            means.append(Series(label, *thin(steps, [row["running_mean"] for row in rows])))
            maxima.append(Series(label, *thin(steps, [row["running_max"] for row in rows])))
        panels = (
            Panel(
                tuple(means),
                x_title="agent steps",
                y_title="running mean score (last 100 episodes)",
            ),
            Panel(
                tuple(maxima),
                x_title="agent steps",
                y_title="running max score (last 100 episodes)",
            ),
        )
        title = f"{context.workload}/{variant}: raw game score"
        figures.append(Figure(f"{context.workload}__{variant}__scores", title, "scores", panels))
    return figures


def score_sections(context: ReportContext) -> list[Block]:
    return chart_section(
        context.run_dir,
        "Score curves: running mean and max of the last 100 episodes",
        score_figures(context),
    )

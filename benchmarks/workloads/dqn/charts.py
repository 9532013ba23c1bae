"""DQN's charts: the score curves."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from benchmarks.document import Block
from benchmarks.report.charts import Chart, chart_section, pyplot, save_chart, series_label
from benchmarks.report.context import ReportContext

Record = dict[str, Any]


def plot_scores(context: ReportContext) -> list[Chart]:
    """Running mean and running max of the last 100 episodes against agent steps, every
    backend and mode of a variant on one chart."""
    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in context.records:
        if record["status"] in ("ok", "diverged") and record.get("episodes"):
            by_variant[record["variant"]].append(record)
    images = []
    for variant, group in sorted(by_variant.items()):
        fig, (mean_ax, max_ax) = pyplot().subplots(1, 2, figsize=(11, 3.6), sharex=True)
        for record in sorted(group, key=lambda r: (r["backend"], r["mode"], r["dtype"])):
            rows = record["episodes"]
            steps = [row["agent_steps"] for row in rows]
            label = series_label(record)
            mean_ax.plot(steps, [row["running_mean"] for row in rows], label=label, linewidth=1)
            max_ax.plot(steps, [row["running_max"] for row in rows], label=label, linewidth=1)
        mean_ax.set(xlabel="agent steps", ylabel="running mean score (last 100 episodes)")
        max_ax.set(xlabel="agent steps", ylabel="running max score (last 100 episodes)")
        mean_ax.legend(fontsize=7)
        fig.suptitle(f"{context.workload}/{variant}: raw game score", fontsize=9)
        fig.tight_layout()
        name = f"{context.workload}__{variant}__scores.png"
        images.append((save_chart(fig, context.run_dir, name), "scores"))
    return images


def score_sections(context: ReportContext) -> list[Block]:
    return chart_section(
        "Score curves: running mean and max of the last 100 episodes", plot_scores(context)
    )

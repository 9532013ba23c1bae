"""N-body's charts: held-out trajectories against the model's rollouts, and the rollout
error against the step."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from benchmarks.document import Block
from benchmarks.report.charts import Chart, chart_section, pyplot, save_chart, series_label
from benchmarks.report.context import ReportContext

Record = dict[str, Any]


def _rollout_records(records: list[Record]) -> dict[str, list[Record]]:
    """Per variant, the lowest-seed ok records that carry a rollout, one per row."""
    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if record["status"] == "ok" and "rollout_example" in record.get("metrics", {}):
            by_variant[record["variant"]].append(record)
    return {
        variant: sorted(
            (r for r in group if r["seed"] == min(g["seed"] for g in group)),
            key=lambda r: (r["backend"], r["mode"], r["dtype"]),
        )
        for variant, group in sorted(by_variant.items())
    }


def plot_rollouts(context: ReportContext) -> list[Chart]:
    """Per variant: one held-out system's true and rolled-out trajectories, a panel per
    backend:mode, then the median rollout error against the step, every row on one chart."""
    images = []
    for variant, group in _rollout_records(context.records).items():
        plt = pyplot()
        columns = min(4, len(group))
        rows = -(-len(group) // columns)
        size = (max(5.0, 3.2 * columns), 3.2 * rows + 0.4)
        fig, axes = plt.subplots(rows, columns, figsize=size, squeeze=False)
        for ax, record in zip(axes.flat, group, strict=False):
            example = record["metrics"]["rollout_example"]
            true, pred = np.asarray(example["true"]), np.asarray(example["pred"])
            for body in range(true.shape[1]):
                (line,) = ax.plot(true[:, body, 0], true[:, body, 1], linewidth=1.2)
                ax.plot(pred[:, body, 0], pred[:, body, 1], "--", color=line.get_color())
                ax.plot(*true[0, body], "o", color=line.get_color(), markersize=3)
            ax.set_title(series_label(record), fontsize=8)
            ax.set_aspect("equal", adjustable="datalim")
            ax.tick_params(labelsize=6)
        for ax in list(axes.flat)[len(group) :]:
            ax.axis("off")
        fig.suptitle(
            f"{context.workload}/{variant}: one held-out system\nsimulator (solid) against "
            "the model's rollout (dashed); dots mark the start",
            fontsize=9,
        )
        fig.tight_layout()
        name = f"{context.workload}__{variant}__rollout.png"
        images.append((save_chart(fig, context.run_dir, name), "rollout"))
        images.append((_error_curves(context, variant, group), "rollout error"))
    return images


def _error_curves(context: ReportContext, variant: str, group: list[Record]) -> str:
    fig, ax = pyplot().subplots(figsize=(6, 3.4))
    for record in group:
        curve = record["metrics"]["rollout_error_curve"]
        # step 0 is the true start (no error): left out of the log scale
        ax.plot(
            curve["step"][1:],
            curve["median_position_error"][1:],
            label=series_label(record),
            linewidth=1,
        )
    ax.set(xlabel="rollout step", ylabel="median position error", yscale="log")
    ax.legend(fontsize=7)
    fig.suptitle(
        f"{context.workload}/{variant}: rollout error over the validation systems", fontsize=9
    )
    fig.tight_layout()
    return save_chart(fig, context.run_dir, f"{context.workload}__{variant}__rollout_error.png")


def rollout_sections(context: ReportContext) -> list[Block]:
    return chart_section("Rollouts: true against predicted trajectories", plot_rollouts(context))

"""N-body's charts: held-out trajectories against the model's rollouts, and the rollout
error against the step."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from benchmarks.document import Block
from benchmarks.report.charts import chart_section, series_label
from benchmarks.report.context import ReportContext
from benchmarks.report.figure import Figure, Panel, Series, spans_decades

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


def rollout_figures(context: ReportContext) -> list[Figure]:
    """Per variant: one held-out system's true and rolled-out trajectories, a panel per
    backend:mode, then the median rollout error against the step, every row on one
    chart."""
    figures = []
    for variant, group in _rollout_records(context.records).items():
        panels = tuple(_trajectories(record) for record in group)
        columns = min(4, len(group))
        title = (
            f"{context.workload}/{variant}: one held-out system\nsimulator (solid) against "
            "the model's rollout (dashed); dots mark the start"
        )
        figures.append(
            Figure(
                f"{context.workload}__{variant}__rollout",
                title,
                "rollout",
                panels,
                columns=columns,
                width=max(5.0, 3.2 * columns),
                panel_height=3.2,
            )
        )
        figures.append(_error_curves(context, variant, group))
    return figures


def _trajectories(record: Record) -> Panel:
    """A panel of the record's example system: per body, the simulator's path (solid),
    the model's (dashed) and the start (a dot), in the body's colour."""
    example = record["metrics"]["rollout_example"]
    true, pred = np.asarray(example["true"]), np.asarray(example["pred"])
    series: list[Series] = []
    for body in range(true.shape[1]):
        name = f"body {body + 1}"
        simulator, model = f"{name}: simulator", f"{name}: model"
        series += [
            Series(simulator, true[:, body, 0], true[:, body, 1], color=name),
            Series(model, pred[:, body, 0], pred[:, body, 1], kind="dash", color=name),
            Series(
                f"{name}: start",
                true[:1, body, 0],
                true[:1, body, 1],
                kind="markers",
                group=simulator,
                color=name,
                legend=False,
            ),
        ]
    return Panel(tuple(series), title=series_label(record), equal_aspect=True)


def _error_curves(context: ReportContext, variant: str, group: list[Record]) -> Figure:
    series = []
    for record in group:
        curve = record["metrics"]["rollout_error_curve"]
        # step 0 is the true start (no error): left out of the log scale
        series.append(
            Series(series_label(record), curve["step"][1:], curve["median_position_error"][1:])
        )
    panel = Panel(
        tuple(series),
        x_title="rollout step",
        y_title="median position error",
        y_log=spans_decades(*(s.y for s in series)),
    )
    title = f"{context.workload}/{variant}: rollout error over the validation systems"
    name = f"{context.workload}__{variant}__rollout_error"
    return Figure(name, title, "rollout error", (panel,), width=8.0, panel_height=3.4)


def rollout_sections(context: ReportContext) -> list[Block]:
    return chart_section(
        context.run_dir,
        "Rollouts: true against predicted trajectories",
        rollout_figures(context),
    )

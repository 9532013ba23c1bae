"""N-body's charts: held-out trajectories against the model's rollouts, the rollout
error against the step, and (cells that rolled out while training: the ``long``
preset) the rollout error against training time; the last two with the error of
predicting no motion at all, the baseline a rollout must beat."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from benchmarks.document import Block
from benchmarks.report.charts import chart_section, series_label
from benchmarks.report.context import ReportContext
from benchmarks.report.figure import Figure, Panel, Series, spans_decades
from benchmarks.stats import center_interval

Record = dict[str, Any]
NO_MOTION = "no motion (every body held at its start)"
GREY = "#7f7f7f"


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
    still = group[0]["metrics"]["rollout_error_curve"].get("median_no_motion_error")
    if still is not None:  # older records lack it; every row of a seed holds the same
        steps = group[0]["metrics"]["rollout_error_curve"]["step"][1:]
        series.append(Series(NO_MOTION, steps, still[1:], kind="dash", color=GREY))
    panel = Panel(
        tuple(series),
        x_title="rollout step",
        y_title="median position error",
        y_log=spans_decades(*(s.y for s in series)),
    )
    title = f"{context.workload}/{variant}: rollout error over the validation systems"
    name = f"{context.workload}__{variant}__rollout_error"
    return Figure(name, title, "rollout error", (panel,), width=8.0, panel_height=3.4)


def _seed_summary(values: list[float]) -> tuple[float, float, float]:
    """(median, distance below, distance above) of one value over seeds: the range for
    two seeds, the bootstrap 95% interval of the median for three or more, none for one."""
    middle = float(np.median(values))
    if len(values) < 2:
        return middle, 0.0, 0.0
    low, high = (
        (min(values), max(values)) if len(values) == 2 else center_interval([[v] for v in values])
    )
    return middle, middle - low, high - middle


def _training_series(label: str, records: list[Record]) -> Series:
    """A line of one backend:mode: at each evaluation's epoch, the seeds' median training
    seconds against their median rollout error (with its spread over seeds)."""
    rows = [{row["epoch"]: row for row in r["rollout_evaluations"]} for r in records]
    epochs = sorted(set.intersection(*(set(by_epoch) for by_epoch in rows)))
    x, y, below, above = [], [], [], []
    for epoch in epochs:
        x.append(float(np.median([by_epoch[epoch]["train_s"] for by_epoch in rows])))
        errors = [by_epoch[epoch]["rollout_position_error"] for by_epoch in rows]
        middle, low, high = _seed_summary(errors)
        y.append(middle)
        below.append(low)
        above.append(high)
    spread = len(records) > 1
    return Series(
        label if not spread else f"{label} (median of {len(records)} seeds)",
        x,
        y,
        kind="lines+markers",
        error_low=below if spread else None,
        error_high=above if spread else None,
    )


def training_figures(context: ReportContext) -> list[Figure]:
    """Per variant whose cells rolled out while training: the rollout position error at
    the last step against training seconds, a line per backend:mode and dtype (the
    median over seeds, with its range or interval), and the no-motion error (the median
    over the seeds' validation systems) as a horizontal line."""
    figures = []
    by_variant: dict[str, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for record in context.records:
        if record["status"] == "ok" and record.get("rollout_evaluations"):
            by_variant[record["variant"]][series_label(record)].append(record)
    for variant, rows in sorted(by_variant.items()):
        series = [_training_series(label, group) for label, group in sorted(rows.items())]
        still = float(
            np.median([r["metrics"]["no_motion_position_error"] for g in rows.values() for r in g])
        )
        xs = [x for s in series for x in s.x]
        series.append(Series(NO_MOTION, [min(xs), max(xs)], [still, still], "dash", color=GREY))
        steps = next(iter(rows.values()))[0]["metrics"]["rollout_steps"]
        panel = Panel(
            tuple(series),
            x_title="training seconds (first epoch included, rollouts excluded)",
            y_title=f"position error at rollout step {steps}",
            y_log=spans_decades(*(s.y for s in series)),
        )
        title = (
            f"{context.workload}/{variant}: {steps}-step rollout error during training "
            "(mean over the validation systems)"
        )
        name = f"{context.workload}__{variant}__rollout_training"
        figures.append(Figure(name, title, "rollout error against training time", (panel,)))
    return figures


def rollout_sections(context: ReportContext) -> list[Block]:
    return chart_section(
        context.run_dir,
        "Rollouts: true against predicted trajectories",
        rollout_figures(context) + training_figures(context),
    )

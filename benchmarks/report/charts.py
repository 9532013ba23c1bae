"""Charts: the generic loss curves, and what every chart of the report uses (the
workloads' own charts live in their packages, ``charts.py``). A chart is described once
as a ``figure.Figure`` and drawn twice: a PNG under ``plots/`` (report.md) and a Plotly
chart (report.html)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.document import Block, Chart, Heading
from benchmarks.records import implementation
from benchmarks.report.context import ReportContext
from benchmarks.report.figure import Figure, Panel, Series, spans_decades, thin
from benchmarks.report.groups import named_threads
from benchmarks.report.render_plotly import CONFIG, plotly_json
from benchmarks.report.render_png import draw_png
from benchmarks.report.tables import at_threads

Record = dict[str, Any]


def chart_block(figure: Figure, run_dir: Path) -> Chart:
    """``figure`` drawn: its PNG written under ``run_dir/plots/``, its Plotly JSON kept."""
    return Chart(draw_png(figure, run_dir), figure.alt, plotly_json(figure), json.dumps(CONFIG))


def series_label(record: Record) -> str:
    """A record's line in a legend: ``backend:mode dtype`` (at N threads, where the run
    has several counts)."""
    name = f"{implementation(record['backend'], record['mode'])} {record['dtype']}"
    return at_threads(name, named_threads(record))


def chart_section(run_dir: Path, heading: str, figures: list[Figure]) -> list[Block]:
    """A heading and its charts; nothing when there is no chart."""
    if not figures:
        return []
    return [Heading(3, heading), *(chart_block(figure, run_dir) for figure in figures)]


def _curve(record: Record) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epoch, cumulative training seconds, loss) of a record; a missing loss is NaN."""
    rows = record["epochs"]
    epochs = np.array([row["epoch"] for row in rows])
    wall = np.cumsum([row["seconds"] for row in rows])
    losses = np.array([np.nan if row["loss"] is None else row["loss"] for row in rows])
    return epochs, wall, losses


def loss_figures(context: ReportContext) -> list[Figure]:
    """A figure per variant of the records with epochs (lowest seed of each row): loss
    against epoch and against training seconds, a line per backend:mode and dtype (long
    runs thinned to ``figure.MAX_POINTS``, keeping each stretch's lowest and highest)."""
    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in context.records:
        if record["status"] in ("ok", "diverged") and record.get("epochs"):
            by_variant[record["variant"]].append(record)
    workload, figures = context.workload, []
    for variant, group in sorted(by_variant.items()):
        seed = min(r["seed"] for r in group)
        by_epoch, by_time = [], []
        for record in sorted(group, key=lambda r: (r["backend"], r["mode"], r["dtype"])):
            if record["seed"] != seed:
                continue
            epochs, wall, losses = _curve(record)
            label = series_label(record)
            by_epoch.append(Series(label, *thin(epochs.tolist(), losses.tolist())))
            by_time.append(Series(label, *thin(wall.tolist(), losses.tolist())))
        log = spans_decades(*(s.y for s in by_epoch))  # the lines drawn only
        panels = (
            Panel(tuple(by_epoch), x_title="epoch", y_title="loss", y_log=log),
            Panel(
                tuple(by_time),
                x_title="training seconds (first epoch included)",
                y_title="loss",
                y_log=log,
                x_log=spans_decades(*(s.x for s in by_time)),
            ),
        )
        figures.append(
            Figure(
                f"{workload}__{variant}__loss",
                f"{workload}/{variant}, seed {seed}",
                f"{workload}/{variant} loss",
                panels,
            )
        )
    return figures


def loss_sections(context: ReportContext) -> list[Block]:
    return chart_section(
        context.run_dir, "Loss against epoch and against wall time", loss_figures(context)
    )

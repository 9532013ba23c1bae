"""DQN's charts: the score curves, and the learning curves of long runs (learning.py
says which records those are)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from benchmarks.document import Block
from benchmarks.report.charts import chart_section, series_label
from benchmarks.report.context import ReportContext
from benchmarks.report.figure import Figure, Panel, Series, spans_decades, thin
from benchmarks.workloads.dqn.learning import (
    AXES,
    PUBLISHED_DQN,
    RANDOM_PLAY,
    Curve,
    curve,
    learning_records,
    median_curve,
    median_evaluations,
    shared_span,
)

Record = dict[str, Any]


def score_figures(context: ReportContext) -> list[Figure]:
    """Running mean and running max of the last 100 episodes against agent steps, every
    backend and mode of a variant on one figure (a panel each); the learning runs are
    left to ``learning_figures``, which draws the same and tells their seeds apart."""
    learning = {id(record) for record in learning_records(context.records)}
    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in context.records:
        played = record["status"] in ("ok", "diverged") and record.get("episodes")
        if played and id(record) not in learning:
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
    """The score curves of every cell, then the learning curves of the long runs (none
    in a run without one)."""
    return chart_section(
        context.run_dir,
        "Score curves: running mean and max of the last 100 episodes",
        score_figures(context),
    ) + chart_section(
        context.run_dir,
        "Learning curves of the long runs: training and evaluation scores against agent "
        "steps, emulator frames and wall time",
        learning_figures(context),
    )


# The reference lines' colours: grey for random play, black for the published DQN.
REFERENCES = (
    (f"random play {RANDOM_PLAY:.0f}", RANDOM_PLAY, "#7f7f7f"),
    (f"published DQN {PUBLISHED_DQN:.0f} (50 M frames)", PUBLISHED_DQN, "#000000"),
)
LEARNING_ABOUT = (  # lines short enough to stay clear of the legend
    "Left: running mean of the last 100 training episodes (line),\nevaluations at epsilon "
    "0.05 (dots: their mean; bars: lowest to highest\nepisode, or across seeds), random "
    "play and published DQN (dashed).\nRight: running max."
)


def _reference_lines(series: list[Series]) -> list[Series]:
    """Random play and the published DQN as dashed lines over the x span of ``series``."""
    xs = [x for s in series for x in s.x]
    if not xs:
        return []
    span = [min(xs), max(xs)]
    return [Series(name, span, [y, y], kind="dash", color=color) for name, y, color in REFERENCES]


def _one_seed(label: str, record: Record, line: Curve) -> tuple[list[Series], list[Series]]:
    """(left, right) panels' series of a row with one seed: its running mean and
    evaluations (left), its running max (right)."""
    group = f"{label} seed {record['seed']}"
    left = [Series(group, *thin(line.x, line.running_mean))]
    if line.eval_x:
        low = [m - v for m, v in zip(line.eval_mean, line.eval_low, strict=True)]
        high = [v - m for m, v in zip(line.eval_mean, line.eval_high, strict=True)]
        left.append(
            Series(
                f"{group}: evaluation mean",
                line.eval_x,
                line.eval_mean,
                "lines+markers",
                low,
                high,
                group=group,
            )
        )
    right = [Series(f"{group}: running max", *thin(line.x, line.running_max), group=group)]
    return left, right


def _band(name: str, x, median, low, high, group: str, evaluations: bool = False) -> list[Series]:
    """A median across seeds, with its band as two faint dashed lines (or, for the
    evaluations, as error bars)."""
    x, median, low, high = (
        np.asarray(v, dtype=np.float64).tolist() for v in (x, median, low, high)
    )
    if evaluations:
        below = [m - v for m, v in zip(median, low, strict=True)]
        above = [v - m for m, v in zip(median, high, strict=True)]
        return [Series(name, x, median, "lines+markers", below, above, group=group)]
    faint = {"kind": "dash", "group": group, "legend": False, "opacity": 0.5}
    return [
        Series(name, x, median, group=group),
        Series(f"{name}: band low", x, low, **faint),
        Series(f"{name}: band high", x, high, **faint),
    ]


def _several_seeds(
    label: str, group: list[Record], lines: list[Curve]
) -> tuple[list[Series], list[Series]]:
    """(left, right) panels' series of a row with several seeds: each seed's running
    mean (faint, named by its seed), the median across seeds with its band (learning.py
    ``seed_band``: range, or bootstrap 95% from 5 seeds), for the running mean, the
    evaluations and the running max."""
    seeds = len(group)
    median = f"{label}: median of {seeds} seeds"
    left = _band(median, *median_curve([(c.x, c.running_mean) for c in lines]), label)
    left += [
        Series(
            f"{label} seed {r['seed']}",
            *thin(c.x, c.running_mean),
            group=label,
            legend=False,
            opacity=0.3,
        )
        for r, c in zip(group, lines, strict=True)
    ]
    if all(c.eval_x for c in lines):
        left += _band(f"{median}: evaluation mean", *median_evaluations(lines), label, True)
    right = _band(
        f"{median}: running max", *median_curve([(c.x, c.running_max) for c in lines]), label
    )
    return left, right


def _row_key(record: Record) -> tuple:
    return record["backend"], record["mode"], record["dtype"], record["threads"]


def _axis_panels(rows: list[list[Record]], axis: str, title: str, scale: float) -> list[Panel]:
    """The two panels of one x axis (learning.py ``AXES``): running mean, evaluations
    and reference lines (left), running max (right); ``rows``: each backend:mode's
    records, one per seed."""
    left: list[Series] = []
    right: list[Series] = []
    for group in rows:
        label = series_label(group[0])
        lines = [curve(r, axis, scale) for r in group]
        if len(group) > 1 and shared_span([c.x for c in lines]):
            parts = [_several_seeds(label, group, lines)]
        else:  # one seed, or seeds that share no span (one stopped early): each alone
            parts = [_one_seed(label, r, c) for r, c in zip(group, lines, strict=True)]
        for seed_left, seed_right in parts:
            left += seed_left
            right += seed_right
    left += _reference_lines(left)
    return [
        Panel(
            tuple(left), x_title=title, y_title="score", y_log=spans_decades(*(s.y for s in left))
        ),
        Panel(
            tuple(right),
            x_title=title,
            y_title="running max score",
            y_log=spans_decades(*(s.y for s in right)),
        ),
    ]


def learning_figures(context: ReportContext) -> list[Figure]:
    """One figure per variant of the learning runs (learning.py ``is_learning_run``):
    a row of two panels per x axis (agent steps, emulator frames, wall hours), the left
    with the running mean, evaluations and the reference lines (random play, published
    DQN), the right with the running max; a line per seed, and a median with its band
    where a backend:mode has several."""
    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in learning_records(context.records):
        by_variant[record["variant"]].append(record)
    figures = []
    for variant, records in sorted(by_variant.items()):
        rows: dict[tuple, list[Record]] = defaultdict(list)
        for record in records:
            rows[_row_key(record)].append(record)
        panels = [panel for axis in AXES for panel in _axis_panels(list(rows.values()), *axis)]
        figures.append(
            Figure(
                f"{context.workload}__{variant}__learning",
                f"{context.workload}/{variant}: learning curves. {LEARNING_ABOUT}",
                "learning curves",
                tuple(panels),
                columns=2,
                panel_height=3.0,
            )
        )
    return figures

"""The speed overview chart of a workload: each row's steady epoch time with its
bootstrap 95% interval, and its first epoch beside it, a bar per backend:mode and dtype
(a legend entry each), grouped by variant."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from benchmarks.document import Block, Heading, Paragraph
from benchmarks.hosts import by_host_class
from benchmarks.report.by_host import per_host_class
from benchmarks.report.charts import chart_block
from benchmarks.report.context import ReportContext
from benchmarks.report.figure import Figure, Panel, Series, spans_decades
from benchmarks.report.groups import groups, median_of, steady_processes, timing
from benchmarks.report.tables import at_threads
from benchmarks.stats import center, center_interval

Record = dict[str, Any]


@dataclass(frozen=True)
class SpeedPoint:
    """One row of the speed table as the chart shows it; seconds."""

    variant: str
    label: str  # backend:mode dtype (at N threads)
    steady: float  # median over processes of each one's median steady epoch
    low: float  # the bootstrap 95% interval of ``steady``
    high: float
    first: float | None  # median over seeds of the first epoch (compile or tracing included)


def speed_points(records: list[Record]) -> list[SpeedPoint]:
    """A point per row (variant, backend, mode, dtype, threads) of ok or diverged records
    with a steady epoch. The interval resamples processes, then epochs (stats.py): with
    one process it covers the epoch-to-epoch noise only."""
    points = []
    for group in groups(records, ("ok", "diverged")):
        sample = steady_processes(group.records)
        if not sample:
            continue
        low, high = center_interval(sample)
        label = at_threads(f"{group.implementation} {group.dtype}", group.threads)
        first = median_of(group.records, timing("first_epoch_s"))
        points.append(SpeedPoint(group.variant, label, center(sample), low, high, first))
    return points


def speed_figure(workload: str, points: list[SpeedPoint], name: str, epoch: str) -> Figure:
    """Two panels: steady seconds per ``epoch`` with its 95% interval (error bars), and
    the first ``epoch``; x: the variants, a bar per backend:mode and dtype. Log axes
    where the values span a decade."""
    # In the rows' order (backend, mode, dtype), as the loss curves list them: the same
    # colours in both charts where the rows are the same.
    labels = list(dict.fromkeys(point.label for point in points))
    steady, first = [], []
    for label in labels:
        mine = [point for point in points if point.label == label]
        variants = [point.variant for point in mine]
        steady.append(
            Series(
                label,
                variants,
                [point.steady for point in mine],
                kind="bar",
                error_low=[point.steady - point.low for point in mine],
                error_high=[point.high - point.steady for point in mine],
            )
        )
        first.append(
            Series(label, variants, [point.first for point in mine], kind="bar", legend=False)
        )
    every_steady = [v for point in points for v in (point.steady, point.low, point.high)]
    panels = (
        Panel(
            tuple(steady),
            title=f"steady {epoch} (median, 95% interval)",
            y_title=f"seconds per {epoch}",
            y_log=spans_decades(every_steady),
        ),
        Panel(
            tuple(first),
            title=f"first {epoch} (compile or tracing included)",
            y_title="seconds",
            y_log=spans_decades(point.first for point in points),
        ),
    )
    title = f"{workload}: steady {epoch} time by backend and mode, and the first {epoch}"
    return Figure(name, title, f"{workload} speed overview", panels, width=12.0, panel_height=4.0)


def speed_chart_blocks(context: ReportContext, epoch: str = "epoch") -> list[Block]:
    """The workload's speed overview (``plots/<workload>__speed.png`` and its Plotly
    twin; one per host class, ``__speed__host<N>``, in a run on several); nothing where
    fewer than two rows have a steady ``epoch`` (a workload whose records have no
    epochs, a run of one backend)."""
    several = len(by_host_class(context.records)) > 1
    numbers = itertools.count(1)

    def chart(records: list[Record]) -> list[Block]:
        points = speed_points(records)
        if len(points) < 2:  # one row: nothing to compare, and the table says it all
            return []
        name = f"{context.workload}__speed" + (f"__host{next(numbers)}" if several else "")
        return [chart_block(speed_figure(context.workload, points, name, epoch), context.run_dir)]

    charts = per_host_class(context.records, chart)
    if not charts:
        return []
    text = (
        f"The speed table's steady {epoch} and first {epoch} as bars: the error bars are "
        "the bootstrap 95% interval of the steady median (processes resampled, then "
        f"{epoch}s; one process: the {epoch}-to-{epoch} noise only)."
    )
    return [Heading(3, f"Steady and first {epoch} by backend and mode"), Paragraph(text), *charts]

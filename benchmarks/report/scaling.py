"""Thread scaling: each implementation's steady step time against the thread count, for
a run of several counts (``run --threads 1,2``): a chart and a table of the same numbers.
A run of one count has no such section."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field, replace

from benchmarks.document import Block, Heading, Paragraph
from benchmarks.hosts import by_host_class
from benchmarks.report.by_host import per_host_class
from benchmarks.report.charts import chart_block
from benchmarks.report.context import ReportContext
from benchmarks.report.figure import Figure, Panel, Series, spans_decades
from benchmarks.report.format import seconds
from benchmarks.report.groups import groups, median_of, timing
from benchmarks.report.tables import Column, identity, table


@dataclass(frozen=True)
class ScalingRow:
    """One implementation of a variant (in one dtype): its median steady step time over
    seeds (seconds) at each thread count it ran ok at."""

    variant: str
    implementation: str
    dtype: str
    step_s: dict[int, float] = field(default_factory=dict)  # threads -> seconds per step

    def at(self, threads: int) -> str:
        return seconds(self.step_s.get(threads))

    def speedup(self, fewest: int, most: int) -> str:
        """Step time at ``fewest`` threads over that at ``most`` (both measured)."""
        if fewest not in self.step_s or most not in self.step_s:
            return "–"
        return f"{self.step_s[fewest] / self.step_s[most]:.3g}×"


def scaling_rows(context: ReportContext) -> list[ScalingRow]:
    """A row per variant, implementation and dtype with a step time at some count;
    nothing unless the workload's ok records span two thread counts or more."""
    by_threads: dict[tuple[str, str, str], dict[int, float]] = defaultdict(dict)
    for group in groups(context.records, ("ok",)):
        step = median_of(group.records, timing("step_median_s"))
        if group.threads is not None and step is not None:
            key = (group.variant, group.implementation, group.dtype)
            by_threads[key][group.threads] = step
    if len({count for steps in by_threads.values() for count in steps}) < 2:
        return []
    return [
        ScalingRow(*key, dict(sorted(steps.items()))) for key, steps in sorted(by_threads.items())
    ]


def scaling_figure(context: ReportContext, rows: list[ScalingRow], name: str) -> Figure:
    """``name``'s figure: a line per row, x = threads, y = seconds per step (log scale
    where the rows span a decade: implementations differ by orders of magnitude)."""
    # Name the variant and dtype too where backend:mode alone does not tell lines apart.
    full = any(len({getattr(row, name) for row in rows}) > 1 for name in ("variant", "dtype"))
    series = tuple(
        Series(
            f"{row.variant} {row.implementation} {row.dtype}" if full else row.implementation,
            list(row.step_s),
            list(row.step_s.values()),
            kind="lines+markers",
        )
        for row in rows
    )
    counts = tuple(sorted({n for row in rows for n in row.step_s}))
    panel = Panel(
        series,
        x_title="threads per framework",
        y_title="steady seconds per step",
        y_log=spans_decades(*(row.step_s.values() for row in rows)),
        x_ticks=counts,
    )
    title = f"{context.workload}: steady step time against threads"
    alt = f"{context.workload} step time against threads"
    return Figure(name, title, alt, (panel,), width=8.0, panel_height=4.0)


def scaling_blocks(context: ReportContext) -> list[Block]:
    """The workload's thread-scaling section: chart (``plots/<workload>__threads.png``
    and its Plotly twin), then table; nothing for a run of one thread count. A run on
    several host classes
    has a chart and table per class (``<workload>__threads__host<N>.png``): a step time
    against threads says something of one kind of machine only."""
    several = len(by_host_class(context.records)) > 1
    numbers = itertools.count(1)

    def section(records: list[dict]) -> list[Block]:
        rows = scaling_rows(replace(context, records=records))
        if not rows:
            return []
        name = f"{context.workload}__threads" + (f"__host{next(numbers)}" if several else "")
        chart = chart_block(scaling_figure(context, rows, name), context.run_dir)
        return [chart, table(_columns(rows), rows)]

    sections = per_host_class(context.records, section)
    if not sections:
        return []
    return [
        Heading(3, "Steady step time against threads"),
        Paragraph(
            "Median over seeds of each cell's steady seconds per step, at each thread count "
            "of the run (every framework configured with that many threads); speed-up: "
            "the step time at the fewest threads over that at the most (above 1: faster "
            "with more threads)."
        ),
        *sections,
    ]


def _columns(rows: list[ScalingRow]) -> tuple[Column[ScalingRow], ...]:
    counts = sorted({n for row in rows for n in row.step_s})
    return (
        *identity(),
        *(Column(f"per step, {n} thread(s)", lambda row, n=n: row.at(n)) for n in counts),
        Column(
            f"speed-up {counts[0]} → {counts[-1]}",
            lambda row: row.speedup(counts[0], counts[-1]),
        ),
    )
